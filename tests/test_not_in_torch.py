"""The optimizers torch.optim lacks (``in_torch=False`` rows of optim_db): held to their formula
as optax writes it (a NumPy transcription of the optax chain, independent of optikern's
reference and of its arithmetic order), and their ``optikern.torch`` drop-ins held to the same
update written in torch operations (the path the drop-in takes for what the fused pass does
not serve)."""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np
import pytest
from optim_db import OPTIM_DB, OptimizerInfo

import optikern
from optikern import reference

NOT_IN_TORCH = [info for info in OPTIM_DB if not info.in_torch]
CASES = [(info, dict(kwargs)) for info in NOT_IN_TORCH for kwargs in info.grid]
IDS = [f"{info.name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for info, kw in CASES]


def optax_lion(kwargs: dict[str, Any]) -> Callable:
    """optax.lion: chain(scale_by_lion(b1, b2), add_decayed_weights(wd),
    scale_by_learning_rate(lr)), one param's update applied as optax.apply_updates does."""
    lr = kwargs.get("lr", 1e-4)
    b1, b2 = kwargs.get("betas", (0.9, 0.99))
    wd = kwargs.get("weight_decay", 0.0)

    def step(p: np.ndarray, g: np.ndarray, state: dict) -> None:
        g = -g if kwargs.get("maximize", False) else g  # optax minimises; maximize negates
        mu = state.setdefault("mu", np.zeros_like(p))
        updates = np.sign((1.0 - b1) * g + b1 * mu)
        state["mu"] = (1.0 - b2) * g + b2 * mu
        updates = updates + wd * p
        p += -lr * updates

    return step


def optax_lamb(kwargs: dict[str, Any]) -> Callable:
    """optax.lamb: chain(scale_by_adam(b1, b2, eps, eps_root=0), add_decayed_weights(wd),
    scale_by_trust_ratio(), scale_by_learning_rate(lr)); the trust ratio bounded as
    DeepSpeed's FusedLamb bounds it (max_coeff, then min_coeff) when those are given."""
    lr = kwargs.get("lr", 1e-3)
    b1, b2 = kwargs.get("betas", (0.9, 0.999))
    eps, wd = kwargs.get("eps", 1e-6), kwargs.get("weight_decay", 0.0)
    low, high = kwargs.get("min_coeff"), kwargs.get("max_coeff")

    def step(p: np.ndarray, g: np.ndarray, state: dict) -> None:
        g = -g if kwargs.get("maximize", False) else g
        count = state["count"] = state.get("count", 0) + 1
        mu = state["mu"] = (1 - b1) * g + b1 * state.get("mu", 0.0)
        nu = state["nu"] = (1 - b2) * g**2 + b2 * state.get("nu", 0.0)
        mu_hat, nu_hat = mu / (1 - b1**count), nu / (1 - b2**count)
        updates = mu_hat / (np.sqrt(nu_hat) + eps) + wd * p
        param_norm, update_norm = np.linalg.norm(p), np.linalg.norm(updates)
        trust = param_norm / update_norm if param_norm > 0 and update_norm > 0 else 1.0
        if param_norm > 0 and update_norm > 0:
            trust = trust if high is None else min(trust, high)
            trust = trust if low is None else max(trust, low)
        p += -lr * (updates * trust)

    return step


OPTAX = {"Lion": optax_lion, "LAMB": optax_lamb}


@pytest.mark.parametrize(("info", "kwargs"), CASES, ids=IDS)
def test_matches_the_formula_as_optax_writes_it(info: OptimizerInfo, kwargs: dict) -> None:
    rng = np.random.default_rng(3)
    shapes = [(7, 5), (33,), (1,)]
    params = [rng.standard_normal(s) for s in shapes]
    theirs = [p.copy() for p in params]
    states: list[dict] = [{} for _ in shapes]
    step = OPTAX[info.name](kwargs)
    opt = info.make(params, **kwargs)
    for _ in range(10):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        for p, g, s in zip(theirs, grads, states):
            step(p, g, s)
    for p, q in zip(params, theirs):
        # float64; optax decays the param inside the update (p - lr (u + wd p)), lion-pytorch
        # first (p (1 - lr wd) - lr u): equal up to rounding
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -5e-324, 1.0, -1.0]


def lion_on_special_values(size: int, dtype: type) -> tuple[np.ndarray, list[float]]:
    """Lion's params after 3 steps on gradients of zeros, NaN, infinities and subnormals, and
    the reference's (float64) values."""
    rng = np.random.default_rng(size)
    param = rng.standard_normal(size).astype(dtype)
    values = [float(x) for x in param]
    state: dict = {}
    kwargs = {"lr": 0.1, "betas": (0.0, 1.0)}  # the sign of the gradient itself
    opt = optikern.Lion([param], **kwargs)
    for _ in range(3):
        grad = rng.choice(SPECIAL, size).astype(dtype)
        opt.step([grad])
        reference.lion_step(values, [float(x) for x in grad], state, **kwargs)
    return param, values


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("size", [1, 9, 33, 100])
def test_lion_sign_of_zero_nan_and_tiny_values_on_every_level(
    simd_level: str, size: int, dtype: type
) -> None:
    """sign(0) = sign(-0) = sign(NaN) = 0, as torch.sign: every level gives the baseline's
    bits, tails included, and float64 (the same operations in the same order) the
    reference's."""
    param, values = lion_on_special_values(size, dtype)
    with optikern.simd_level("baseline"):
        baseline, _ = lion_on_special_values(size, dtype)
    assert param.tobytes() == baseline.tobytes()
    if dtype == np.float64:
        np.testing.assert_array_equal(param, np.array(values))


def test_lamb_norm_phase_is_refused_by_the_row_path() -> None:
    """The sparse-row pass has no norm phase: a clear ValueError, nothing written."""
    from optikern import functional

    f32 = np.linspace(-1, 1, 8).astype(np.float32)
    before = f32.copy()
    state = [np.zeros(8, np.float32), np.zeros(8, np.float32)]
    with pytest.raises(ValueError, match="per-tensor norms"):
        functional._rows_step(
            "lamb",
            f32.reshape(4, 2),
            np.array([1]),
            np.ones((1, 2), np.float32),
            [s.reshape(4, 2) for s in state],
            {},
            1,
        )
    assert np.array_equal(f32, before) and not any(s.any() for s in state)


def test_lamb_sums_do_not_depend_on_threads_or_level() -> None:
    """A tensor past the threading threshold, many blocks: the norms, hence every bit, are
    those of the baseline level on one thread. float64: float32 squares add up exactly in
    double more often than not, which would hide a change of order."""
    n = 3 * optikern._core.min_elements_per_thread + 7

    def run(level: str, threads: int) -> list[np.ndarray]:
        rng = np.random.default_rng(5)
        param = rng.standard_normal(n)
        optikern.set_num_threads(threads)
        try:
            with optikern.simd_level(level):
                opt = optikern.LAMB([param], lr=0.01, weight_decay=0.01)
                for _ in range(3):
                    opt.step([rng.standard_normal(n)])
        finally:
            optikern.set_num_threads(0)
        return [param, *opt.state[param].values()]

    expected = run("baseline", 1)
    for level in optikern.available_simd_levels():
        for threads in (1, 2, 3):
            got = run(level, threads)
            assert all(np.array_equal(a, b) for a, b in zip(expected, got)), (level, threads)


torch = pytest.importorskip("torch")
import optikern.torch as okt


def unfused(info: OptimizerInfo) -> type:
    """The drop-in whose every step runs its torch-operation path."""
    base = getattr(okt, info.name)

    class Unfused(base):  # type: ignore[misc, valid-type]
        @torch.no_grad()
        def step(self, closure: Callable | None = None) -> None:
            self._unfused_step()

    return Unfused


def model(dtype: torch.dtype) -> torch.nn.Module:
    torch.manual_seed(0)
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
def test_dropin_matches_its_torch_operations(
    info: OptimizerInfo, kwargs: dict, dtype: torch.dtype
) -> None:
    ours_net, torch_net = model(dtype), model(dtype)
    ours = getattr(okt, info.name)(ours_net.parameters(), **kwargs)
    theirs = unfused(info)(torch_net.parameters(), **kwargs)
    assert isinstance(ours, torch.optim.Optimizer)
    tol = 1e-11 if dtype == torch.float64 else 2e-5
    for step in range(20):
        train(ours_net, ours, 1, seed=step)
        train(torch_net, theirs, 1, seed=step)
        for a, b in zip(ours_net.parameters(), torch_net.parameters()):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    for a, b in zip(ours_net.parameters(), torch_net.parameters()):
        assert ours.state[a].keys() == theirs.state[b].keys() == info.state_names
        for key, value in theirs.state[b].items():
            torch.testing.assert_close(ours.state[a][key], value, rtol=1e-4, atol=1e-5)
    # a checkpoint of either loads into the other and training goes on identically
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    train(ours_net, ours, 2, seed=30)
    train(torch_net, theirs, 2, seed=30)
    for a, b in zip(ours_net.parameters(), torch_net.parameters()):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("info", NOT_IN_TORCH, ids=[i.name for i in NOT_IN_TORCH])
def test_dropin_16bit_params_train_on_float32_masters(
    info: OptimizerInfo, dtype: torch.dtype
) -> None:
    pytest.importorskip("ml_dtypes")
    low = model(torch.float32).to(dtype)
    full = copy.deepcopy(low).to(torch.float32)
    ours = getattr(okt, info.name)(low.parameters(), **info.representative)
    theirs = unfused(info)(full.parameters(), **info.representative)
    for step in range(5):
        train(low, ours, 1, seed=step)
        for a, b in zip(low.parameters(), full.parameters()):
            b.grad = a.grad.to(torch.float32)
        theirs.step()
        for a, b in zip(low.parameters(), full.parameters()):
            master = ours.state[a]["master_param"]
            torch.testing.assert_close(master, b.detach(), rtol=2e-5, atol=2e-6)


def test_dropin_refuses_bad_options_with_torchs_messages() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    for info in NOT_IN_TORCH:
        for kwargs, error, message in info.invalid:
            with pytest.raises(error, match=message):
                getattr(okt, info.name)([p], **kwargs)
