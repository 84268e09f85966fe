"""optikern.torch's 8-bit state (``Adam8bit``, ``AdamW8bit``, ``state_bits=8``): the same
bytes as the NumPy classes, bitsandbytes' state layout, checkpoints moving to and from
torch.optim and bitsandbytes (when installed), and clear refusals."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from optim_db import STATE_8BIT

torch = pytest.importorskip("torch")
import optikern
import optikern.torch as ot


def _params(seed: int = 0) -> list:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(70, 90, generator=g), torch.randn(33, generator=g)]  # 8-bit, float32


def _train(opt, params: list, steps: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()


@pytest.mark.parametrize("name", STATE_8BIT)
def test_every_8bit_optimizer_writes_the_numpy_classes_bytes(name: str) -> None:
    """optikern.torch.<name>(state_bits=8) against optikern.<name>(state_bits=8): params, codes,
    scales and per-param scalars (NAdam's mu_product) equal after a few steps, the small
    param's float32 state too; then a state_dict round trip keeps every entry."""
    params = _params()
    arrays = [p.detach().numpy().copy() for p in params]
    options = STATE_8BIT[name]
    opt = getattr(ot, name)(params, **options, state_bits=8)
    ref = getattr(optikern, name)(arrays, **options, state_bits=8)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        grads = [torch.randn(p.shape, generator=g) for p in params]
        for p, grad in zip(params, grads):
            p.grad = grad
        opt.step()
        ref.step([grad.numpy() for grad in grads])
    names = optikern.functional.STATE_NAMES[ref._kernel]
    for p, a in zip(params, arrays):
        np.testing.assert_array_equal(p.detach().numpy(), a)
        state, ref_state = opt.state[p], ref.state[a]
        for k, key in enumerate(names):
            if key not in ref_state:  # a state these options do not use
                continue
            ours = state[key] if key in state else state[f"state{k + 1}"]
            np.testing.assert_array_equal(ours.numpy(), ref_state[key], err_msg=key)
            if ref_state[key].dtype == np.uint8:
                np.testing.assert_array_equal(
                    state[f"absmax{k + 1}"].numpy(), ref_state[key + "_absmax"]
                )
    big, small = params
    assert opt.state[big]["step"] == 3 and opt.state[big]["state1"].dtype == torch.uint8
    small_state = [v for v in opt.state[small].values() if isinstance(v, torch.Tensor)]
    assert all(v.dtype == torch.float32 for v in small_state)  # below min_8bit_size
    copies = [p.detach().clone() for p in params]
    other = getattr(ot, name)(copies, **options, state_bits=8)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    for p, q in zip(params, copies):
        assert other.state[q].keys() == opt.state[p].keys()
        for key, value in opt.state[p].items():
            if isinstance(value, torch.Tensor):
                assert other.state[q][key].dtype == value.dtype, key
                torch.testing.assert_close(other.state[q][key], value, rtol=0, atol=0)
            else:
                assert other.state[q][key] == value, key


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_16bit_params_write_the_numpy_classes_bytes(dtype: str, rounding: str) -> None:
    """16-bit params with float32 masters and 8-bit state: the NumPy classes' bytes (params,
    masters, codes, scales), and a param edited between steps wins over its master."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    torch_dtype = getattr(torch, dtype)
    np_dtype = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16

    def numpy_view(t):
        return t.detach().view(torch.int16).numpy().view(np_dtype)

    params = [p.to(torch_dtype) for p in _params()]
    arrays = [numpy_view(p).copy() for p in params]
    # Stochastic rounding draws from (seed, step, tensor, element), the tensor counted within
    # one call: the drop-in makes one per state format, so all params take 8-bit state here.
    smallest = 4096 if rounding == "nearest" else 0
    opt = ot.AdamW8bit(params, lr=1e-2, weight_decay=0.1, min_8bit_size=smallest)
    opt.rounding, opt.seed = rounding, 7
    ref = optikern.AdamW(
        arrays,
        lr=1e-2,
        weight_decay=0.1,
        state_bits=8,
        min_8bit_size=smallest,
        rounding=rounding,
        seed=7,
    )
    g = torch.Generator().manual_seed(1)
    for step in range(4):
        grads = [torch.randn(p.shape, generator=g).to(torch_dtype) for p in params]
        for p, grad in zip(params, grads):
            p.grad = grad
        if step == 2:  # the user edits a param: the master restarts from it
            params[0].detach().clamp_(-0.5, 0.5)
            np.clip(arrays[0], -0.5, 0.5, out=arrays[0])
        opt.step()
        ref.step([numpy_view(grad) for grad in grads])
    for p, a in zip(params, arrays):
        np.testing.assert_array_equal(numpy_view(p).view(np.uint16), a.view(np.uint16))
    big, small = params
    state, ref_state = opt.state[big], ref.state[arrays[0]]
    assert state["state1"].dtype == torch.uint8 and state["step"] == 4
    np.testing.assert_array_equal(state["master_param"].numpy(), ref_state["master_param"])
    for k, name in ((1, "exp_avg"), (2, "exp_avg_sq")):
        np.testing.assert_array_equal(state[f"state{k}"].numpy(), ref_state[name])
        np.testing.assert_array_equal(state[f"absmax{k}"].numpy(), ref_state[name + "_absmax"])
    assert opt.state[small]["state1"].dtype == (torch.uint8 if smallest == 0 else torch.float32)

    copies = [p.detach().clone() for p in params]
    other = ot.AdamW8bit(copies, lr=1e-2, weight_decay=0.1)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a file
    for key, value in opt.state[big].items():
        restored = other.state[copies[0]][key]
        if isinstance(value, torch.Tensor):
            assert restored.dtype == value.dtype, key
            torch.testing.assert_close(restored, value, rtol=0, atol=0)


def test_torch_checkpoint_loads_into_8bit() -> None:
    params = _params()
    torch_opt = torch.optim.AdamW(params, lr=1e-2)
    _train(torch_opt, params, 3)
    copies = [p.detach().clone() for p in params]
    opt = ot.AdamW8bit(copies, lr=1e-2)
    opt.load_state_dict(copy.deepcopy(torch_opt.state_dict()))  # as from a file
    _train(opt, copies, 1, seed=5)
    _train(torch_opt, params, 1, seed=5)
    for p, q in zip(params, copies):
        torch.testing.assert_close(q, p, rtol=1e-3, atol=1e-3)
    assert set(opt.state[copies[0]]) == {
        "step",
        "state1",
        "state2",
        "absmax1",
        "absmax2",
        "qmap1",
        "qmap2",
    }


def test_8bit_state_dict_round_trip_is_exact() -> None:
    params = _params()
    opt = ot.AdamW8bit(params, lr=1e-2)
    _train(opt, params, 3)
    copies = [p.detach().clone() for p in params]
    other = ot.AdamW8bit(copies, lr=1e-2)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a file
    for p, q in zip(params, copies):
        for key, value in opt.state[p].items():
            restored = other.state[q][key]
            if isinstance(value, torch.Tensor):
                assert restored.dtype == value.dtype, key
                torch.testing.assert_close(restored, value, rtol=0, atol=0)
            else:
                assert restored == value
    _train(opt, params, 2, seed=9)
    _train(other, copies, 2, seed=9)
    for p, q in zip(params, copies):
        torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_refusals() -> None:
    with pytest.raises(ValueError, match="Adagrad keeps no running average"):
        ot.Adagrad(_params(), state_bits=8)
    with pytest.raises(ValueError, match="state_bits"):
        ot.Adam(_params(), state_bits=16)
    p = torch.randn(5000, dtype=torch.float64)
    opt = ot.Adam8bit([p])
    p.grad = torch.ones_like(p)
    with pytest.raises(TypeError, match="float32"):
        opt.step()


def _bnb():
    bnb = pytest.importorskip("bitsandbytes")
    return bnb


def test_matches_bitsandbytes_adamw8bit() -> None:
    bnb = _bnb()
    params, bnb_params = _params(), _params()
    opt = ot.AdamW8bit(params, lr=1e-2, weight_decay=1e-2)
    ref = bnb.optim.AdamW8bit(bnb_params, lr=1e-2, weight_decay=1e-2)
    _train(opt, params, 1)
    _train(ref, bnb_params, 1)
    big, ref_big = params[0], bnb_params[0]
    for k in (1, 2):  # one step: the same quantized moments, up to bitsandbytes' CPU search
        # (approximate: it can pick a code a few places from the nearest where codes are dense
        # near 0, so the read-back values differ by a small fraction of the block's scale)
        ours, theirs = opt.state[big][f"state{k}"], ref.state[ref_big][f"state{k}"]
        assert ours.dtype == theirs.dtype == torch.uint8
        assert (ours == theirs).float().mean() > 0.95
        qmap, absmax = opt.state[big][f"qmap{k}"], opt.state[big][f"absmax{k}"]
        torch.testing.assert_close(qmap, ref.state[ref_big][f"qmap{k}"])
        torch.testing.assert_close(absmax, ref.state[ref_big][f"absmax{k}"], rtol=1e-5, atol=0)
        scale = absmax.repeat_interleave(256)[: ours.numel()].view(ours.shape)
        assert ((qmap[ours.long()] - qmap[theirs.long()]).abs() * scale <= 0.02 * scale).all()
    _train(opt, params, 5, seed=2)
    _train(ref, bnb_params, 5, seed=2)
    for p, q in zip(params, bnb_params):
        assert set(opt.state[p]) == set(ref.state[q])
        close = torch.isclose(p, q, rtol=1e-3, atol=1e-4)
        assert close.float().mean() > 0.99 and (p - q).abs().max() < 1e-2


@pytest.mark.parametrize("direction", ["bnb->optikern", "optikern->bnb"])
def test_checkpoint_moves_between_bitsandbytes_and_optikern(direction: str) -> None:
    bnb = _bnb()
    make_ours = lambda ps: ot.AdamW8bit(ps, lr=1e-2)
    make_bnb = lambda ps: bnb.optim.AdamW8bit(ps, lr=1e-2)
    first, second = (make_bnb, make_ours) if direction == "bnb->optikern" else (make_ours, make_bnb)
    params = _params()
    a = first(params)
    _train(a, params, 3)
    copies = [p.detach().clone() for p in params]
    b = second(copies)
    saved = a.state_dict()
    assert all("__bnb_optimizer_quant_state__" in s for s in saved["state"].values())
    b.load_state_dict(copy.deepcopy(saved))
    for p, q in zip(params, copies):
        assert set(b.state[q]) == set(a.state[p])
        for key in set(a.state[p]) - {"step", "qmap1", "qmap2"}:
            assert b.state[q][key].dtype == a.state[p][key].dtype
            torch.testing.assert_close(b.state[q][key], a.state[p][key], rtol=0, atol=0)
    _train(a, params, 2, seed=4)
    _train(b, copies, 2, seed=4)
    for p, q in zip(params, copies):
        close = torch.isclose(p, q, rtol=1e-3, atol=1e-4)
        assert close.float().mean() > 0.99 and (p - q).abs().max() < 1e-2
