"""optikern.torch against torch.optim, step for step on a real model, and their state dicts
loading into each other."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from optim_db import (
    IN_TORCH,
    IN_TORCH_NAMES,
    OPTIM_DB,
    OptimizerInfo,
)

torch = pytest.importorskip("torch")
import optikern.torch as okt

# The rows of the option grid that torch.optim takes too.
CASES = [(info, kwargs) for info in OPTIM_DB for kwargs in info.torch_grid]
IDS = [f"{info.name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for info, kw in CASES]


def model(dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(
        dtype
    )


def train(net: torch.nn.Module, opt: torch.optim.Optimizer, steps: int, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(32, 8, generator=gen, dtype=next(net.parameters()).dtype)
        y = torch.randn(32, 3, generator=gen, dtype=x.dtype)
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("info", "kwargs"), CASES, ids=IDS)
def test_step_for_step_against_torch(info: OptimizerInfo, kwargs: dict, dtype: torch.dtype) -> None:
    name = info.name
    ours_net, torch_net = model(dtype), model(dtype)
    ours = getattr(okt, name)(ours_net.parameters(), **kwargs)
    theirs = getattr(torch.optim, name)(torch_net.parameters(), foreach=False, **kwargs)
    for step in range(20):
        train(ours_net, ours, 1, seed=step)
        train(torch_net, theirs, 1, seed=step)
        for a, b in zip(ours_net.parameters(), torch_net.parameters()):
            # torch's square root (MKL) is not correctly rounded: test_torch_bitexact.py.
            tol = 1e-11 if dtype == torch.float64 else 2e-5
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    for a, b in zip(ours_net.parameters(), torch_net.parameters()):
        for key, value in theirs.state[b].items():
            other = ours.state[a][key]
            # A momentum buffer sums gradients that nearly cancel: its float32 rounding noise
            # after 20 steps scales with the buffer's largest entries, not with each entry.
            scale = float(value.abs().max()) if value.is_floating_point() else 1.0
            torch.testing.assert_close(other, value, rtol=1e-4, atol=max(1e-6, 1e-3 * scale))


@pytest.mark.parametrize(("info", "kwargs"), CASES, ids=IDS)
def test_state_dicts_load_into_each_other(info: OptimizerInfo, kwargs: dict) -> None:
    name = info.name
    reference_net = model(torch.float64)
    reference = getattr(torch.optim, name)(reference_net.parameters(), foreach=False, **kwargs)
    train(reference_net, reference, 5, seed=1)
    # torch -> optikern -> torch, each continuing where the other stopped
    ours_net = copy.deepcopy(reference_net)
    ours = getattr(okt, name)(ours_net.parameters(), **kwargs)
    ours.load_state_dict(copy.deepcopy(reference.state_dict()))
    train(ours_net, ours, 5, seed=2)
    back_net = copy.deepcopy(ours_net)
    back = getattr(torch.optim, name)(back_net.parameters(), foreach=False, **kwargs)
    back.load_state_dict(copy.deepcopy(ours.state_dict()))
    train(back_net, back, 5, seed=3)
    # the reference passes through torch's own load_state_dict at the same points: it casts
    # 0-d state (NAdam's float32 mu_product) to the params' dtype
    for seed in (2, 3):
        reference.load_state_dict(copy.deepcopy(reference.state_dict()))
        train(reference_net, reference, 5, seed=seed)
    for a, b in zip(back_net.parameters(), reference_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


def test_zero_copy_and_lr_scheduler() -> None:
    net = model(torch.float32)
    opt = okt.Adam(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    weights = next(net.parameters())
    storage = weights.data_ptr()
    for _ in range(4):
        train(net, opt, 1, seed=0)
        sched.step()
    assert weights.data_ptr() == storage
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    state = opt.state[weights]
    assert np.shares_memory(state["exp_avg"].numpy(), state["exp_avg"].numpy())


def test_closure_returns_loss() -> None:
    net = model(torch.float32)
    opt = okt.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(4, 8), torch.randn(4, 3)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        return loss

    assert isinstance(opt.step(closure), torch.Tensor)


# What the fused pass does not serve runs through torch's own step: same results, same errors.
ELSEWHERE = [
    ("int", lambda: torch.ones(3, dtype=torch.int32)),
    ("complex", lambda: torch.nn.Parameter(torch.ones(3, dtype=torch.complex64))),
    ("transposed", lambda: torch.nn.Parameter(torch.arange(12.0).reshape(4, 3).t())),
    ("strided", lambda: torch.nn.Parameter(torch.arange(12.0)[::2])),
    ("meta", lambda: torch.nn.Parameter(torch.ones(3, device="meta"))),
]


def _outcome(cls: type, make, **kwargs) -> tuple:
    torch.manual_seed(0)
    good = torch.nn.Parameter(torch.linspace(-1, 1, 3))
    other = make()
    opt = cls([good, other], **kwargs)
    good.grad = torch.full((3,), 0.5)
    other.grad = torch.ones_like(other) * (0.25 if other.is_floating_point() else 1)
    try:
        for _ in range(3):
            opt.step()
    except Exception as error:  # noqa: BLE001 - the outcome compared is the error itself
        return type(error), str(error)
    return good.detach().clone(), other.detach().clone()


@pytest.mark.parametrize("name", ["SGD", "Adam"])
@pytest.mark.parametrize(("label", "make"), ELSEWHERE, ids=[e[0] for e in ELSEWHERE])
def test_what_the_fused_pass_does_not_serve_behaves_as_torch(label, make, name) -> None:
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    ours = _outcome(getattr(okt, name), make, **kwargs)
    theirs = _outcome(getattr(torch.optim, name), make, **kwargs)
    if isinstance(theirs[0], type):
        assert ours == theirs
    else:
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype and a.device == b.device
            if a.device.type != "meta":
                torch.testing.assert_close(a, b)


# torch's own sparse Adagrad warns about sparse invariant checks, whoever calls it.
@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adam"])
def test_sparse_gradients_as_torch(name: str) -> None:
    results = []
    for cls in (getattr(okt, name), getattr(torch.optim, name)):
        p = torch.nn.Parameter(torch.ones(4, 2))
        opt = cls([p], lr=0.1)
        p.grad = torch.sparse_coo_tensor([[1, 3]], torch.ones(2, 2), (4, 2), check_invariants=True)
        try:
            opt.step()
            results.append(p.detach().clone())
        except Exception as error:  # noqa: BLE001 - Adam refuses sparse gradients in torch too
            results.append((type(error), str(error)))
    if isinstance(results[1], tuple):
        assert results[0] == results[1]
    else:
        torch.testing.assert_close(results[0], results[1])


def test_implementation_switches_are_accepted() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    for switches in ({"foreach": False, "fused": None}, {"foreach": True}, {"fused": True}):
        opt = okt.Adam([p], lr=0.1, **switches)
        p.grad = torch.ones(3)
        opt.step()
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        okt.Adam([p], foreach=True, fused=True)


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("info", IN_TORCH, ids=IN_TORCH_NAMES)
def test_16bit_params_train_on_float32_masters(
    info: OptimizerInfo, dtype: torch.dtype, rounding: str
) -> None:
    name = info.name
    pytest.importorskip("ml_dtypes")
    low = model(torch.float32).to(dtype)
    full = copy.deepcopy(low).to(torch.float32)  # the masters start from the 16-bit values
    kwargs = info.representative
    ours = getattr(okt, name)(low.parameters(), **kwargs)
    ours.rounding = rounding
    theirs = getattr(torch.optim, name)(full.parameters(), foreach=False, **kwargs)
    for step in range(5):
        train(low, ours, 1, seed=step)
        # the float32 reference sees the same (16-bit) gradients
        for a, b in zip(low.parameters(), full.parameters()):
            b.grad = a.grad.to(torch.float32)
        theirs.step()
        for a, b in zip(low.parameters(), full.parameters()):
            master = ours.state[a]["master_param"]
            assert master.dtype == torch.float32
            torch.testing.assert_close(master, b.detach(), rtol=2e-5, atol=2e-6)
            spacing = 2.0**-7 if dtype == torch.bfloat16 else 2.0**-10
            assert torch.all((a.detach().float() - master).abs() <= spacing * master.abs() + 1e-6)
    saved = copy.deepcopy(ours.state_dict())
    again = getattr(okt, name)(copy.deepcopy(low).parameters(), **kwargs)
    again.load_state_dict(saved)
    first = next(iter(again.state.values()))
    assert first["master_param"].dtype == torch.float32


LOWP = pytest.mark.parametrize(
    "dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"]
)
ALL = pytest.mark.parametrize("info", IN_TORCH, ids=IN_TORCH_NAMES)


@pytest.mark.parametrize("edit", ["copy_", "zero_", "clamp_"])
@LOWP
@ALL
def test_16bit_param_edited_between_steps_wins_over_its_master(
    info: OptimizerInfo, dtype: torch.dtype, edit: str
) -> None:
    """An in-place edit of a 16-bit param (loading weights, p.zero_(), p.clamp_()) is what the
    next step starts from; the master copy restarts from the edited values."""
    pytest.importorskip("ml_dtypes")
    net = model(torch.float32).to(dtype)
    opt = getattr(okt, info.name)(net.parameters(), **info.representative)
    train(net, opt, 3, seed=0)
    for group in opt.param_groups:
        group.update(info.frozen)  # steps that change no param, from the next one on
    train(net, opt, 1, seed=4)
    gen = torch.Generator().manual_seed(1)
    trained = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            if edit == "copy_":
                p.copy_(torch.randn(p.shape, generator=gen).to(dtype))
            elif edit == "zero_":
                p.zero_()
            else:
                p.clamp_(-0.05, 0.05)
    edited = [p.detach().clone() for p in net.parameters()]
    train(net, opt, 1, seed=5)  # a step that changes nothing: the params must stay as edited
    for p, e, t in zip(net.parameters(), edited, trained):
        assert torch.equal(p.detach(), e)
        changed = e != t  # elsewhere the master keeps its extra precision
        assert changed.any()
        assert torch.equal(opt.state[p]["master_param"][changed], e.float()[changed])


@LOWP
@ALL
def test_16bit_checkpoint_through_torch_optim_keeps_torchs_training(
    info: OptimizerInfo, dtype: torch.dtype
) -> None:
    """optikern -> torch.optim (20 steps) -> optikern: the stale float32 master riding in the
    state dict must not put the params back to where they were 20 steps earlier."""
    pytest.importorskip("ml_dtypes")
    net = model(torch.float32).to(dtype)
    ours = getattr(okt, info.name)(net.parameters(), **info.representative)
    train(net, ours, 3, seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    theirs = getattr(torch.optim, info.name)(net.parameters(), foreach=False, **info.representative)
    theirs.load_state_dict(ours.state_dict())
    train(net, theirs, 20, seed=1)
    after_torch = [p.detach().clone() for p in net.parameters()]
    # what torch.optim's next step gives, from the same params and state
    twin = copy.deepcopy(net)
    twin_opt = getattr(torch.optim, info.name)(
        twin.parameters(), foreach=False, **info.representative
    )
    # a copy: torch's load_state_dict keeps same-dtype tensors, so twin's step would otherwise
    # advance the state that `again` loads below
    twin_opt.load_state_dict(copy.deepcopy(theirs.state_dict()))
    train(twin, twin_opt, 1, seed=2)
    again = getattr(okt, info.name)(net.parameters(), **info.representative)
    again.load_state_dict(theirs.state_dict())
    train(net, again, 1, seed=2)
    for p, b, t, q in zip(net.parameters(), before, after_torch, twin.parameters()):
        reverted = (t.float() - b.float()).abs().max()
        off = (p.detach().float() - q.detach().float()).abs().max()
        assert off < 0.1 * reverted, "the step went back to the stale master"
        # wherever torch changed the param, the master restarted from torch's value
        master = again.state[p]["master_param"]
        changed = t != b
        assert (master - q.detach().float()).abs()[changed].max() < 0.1 * reverted


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_channels_last_and_transposed_params_take_the_fused_pass(name: str) -> None:
    """Dense layouts are updated in place by the kernel (bit for bit what it gives on a
    contiguous copy), with state in the param's layout."""
    torch.manual_seed(0)
    weights = [
        torch.nn.Parameter(torch.randn(8, 3, 3, 3).to(memory_format=torch.channels_last)),
        torch.nn.Parameter(torch.randn(5, 4).t()),
    ]
    copies = [torch.nn.Parameter(w.detach().contiguous()) for w in weights]
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    ours = getattr(okt, name)(weights, **kwargs)
    plain = getattr(okt, name)(copies, **kwargs)
    pointers = [w.data_ptr() for w in weights]
    for step in range(3):
        gen = torch.Generator().manual_seed(step)
        for w, c in zip(weights, copies):
            g = torch.randn(c.shape, generator=gen)
            c.grad = g
            w.grad = torch.empty_like(w).copy_(g)  # the param's strides
        ours.step()
        plain.step()
    for w, c in zip(weights, copies):
        assert torch.equal(w.detach(), c.detach())
        for value in ours.state[w].values():
            if isinstance(value, torch.Tensor) and value.dim():
                assert value.stride() == w.stride()
    assert [w.data_ptr() for w in weights] == pointers


def _replace_param(opt, p, gen):
    p.data = torch.randn(p.shape, generator=gen, dtype=p.dtype)


def _replace_buffer(opt, p, gen):
    opt.state[p]["momentum_buffer"] = torch.randn(p.shape, generator=gen, dtype=p.dtype)


def _edit_buffer_in_place(opt, p, gen):
    opt.state[p]["momentum_buffer"].mul_(0.5)


def _momentum_off(opt, p, gen):
    opt.param_groups[0]["momentum"] = 0.0


def _float64(opt, p, gen):
    p.data = p.data.double()
    opt.state[p]["momentum_buffer"] = opt.state[p]["momentum_buffer"].double()


def _transposed(opt, p, gen):
    p.data = p.data.t().contiguous().t()


def _reload(opt, p, gen):
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))


# Edits between steps that the drop-in's cached arrays of the last step must notice.
EDITS = [_replace_param, _replace_buffer, _edit_buffer_in_place, _momentum_off, _float64]
EDITS += [_transposed, _reload]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__.strip("_") for e in EDITS])
def test_cached_steps_see_every_change(edit) -> None:
    """SGD rounds as torch's (no square root): every step equal bit for bit, whatever changed,
    with an lr scheduler moving lr every step and fresh gradient tensors each step."""
    gens = [torch.Generator().manual_seed(1) for _ in range(2)]
    params = [torch.randn(6, 5, generator=gen).requires_grad_(True) for gen in gens]
    opts = [cls([p], lr=0.1, momentum=0.9) for cls, p in zip((okt.SGD, torch.optim.SGD), params)]
    scheds = [torch.optim.lr_scheduler.ExponentialLR(o, 0.9) for o in opts]
    for step in range(6):
        if step == 3:
            for opt, p, gen in zip(opts, params, gens):
                edit(opt, p, gen)
        for opt, p, sched, gen in zip(opts, params, scheds, gens):
            p.grad = torch.randn(p.shape, generator=gen, dtype=p.dtype)
            if p.stride() != p.grad.stride():
                p.grad = p.grad.t().contiguous().t()
            opt.step()
            sched.step()
        assert torch.equal(params[0], params[1]), f"step {step}"
        theirs = opts[1].state[params[1]].get("momentum_buffer")
        if theirs is not None:
            assert torch.equal(opts[0].state[params[0]]["momentum_buffer"], theirs)


def test_cached_steps_follow_added_groups_and_live_options() -> None:
    gen = torch.Generator().manual_seed(2)
    start = [torch.randn(9, generator=gen, dtype=torch.float64) for _ in range(2)]
    pairs = [[s.clone().requires_grad_(True) for s in start] for _ in range(2)]
    opts = [cls(ps[:1]) for cls, ps in zip((okt.Adam, torch.optim.Adam), pairs)]
    for step in range(6):
        if step == 2:
            for opt, ps in zip(opts, pairs):
                opt.add_param_group({"params": ps[1:], "lr": 0.01})
        if step == 4:
            for opt in opts:
                opt.param_groups[0]["maximize"] = True
        grads = [torch.randn(9, generator=gen, dtype=torch.float64) for _ in range(2)]
        for opt, ps in zip(opts, pairs):
            for p, g in zip(ps, grads):
                p.grad = g.clone()
            opt.step()
        for a, b in zip(*pairs):
            torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15)


def test_cached_steps_follow_an_option_that_adds_state() -> None:
    """Momentum switched on mid-run: the cached arrays of the last step have no buffer; the
    step must make one as torch does (from the gradient), bit for bit."""
    gens = [torch.Generator().manual_seed(3) for _ in range(2)]
    params = [torch.randn(7, 3, generator=gen).requires_grad_(True) for gen in gens]
    opts = [cls([p], lr=0.1) for cls, p in zip((okt.SGD, torch.optim.SGD), params)]
    for step in range(6):
        for opt, p, gen in zip(opts, params, gens):
            if step == 3:
                opt.param_groups[0]["momentum"] = 0.9
            p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        assert torch.equal(params[0], params[1]), f"step {step}"
    assert torch.equal(
        opts[0].state[params[0]]["momentum_buffer"], opts[1].state[params[1]]["momentum_buffer"]
    )
