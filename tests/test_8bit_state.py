"""8-bit optimizer state (``state_bits=8``): the code maps, the blockwise codec and the
quantized update against the pure-Python reference on every SIMD level, determinism across
levels and threads, memory, state dicts in both formats, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import STATE_8BIT

import optikern
from optikern import functional, reference

SIZES = [1, 255, 256, 257, 4099]


def _f32(values: np.ndarray) -> list[float]:
    return [float(v) for v in values.astype(np.float32)]


@pytest.mark.parametrize("signed", [True, False])
def test_dynamic_map_is_the_reference_map(signed: bool) -> None:
    qmap = functional.dynamic_map(signed)
    assert qmap.dtype == np.float32 and qmap.shape == (256,)
    assert qmap.tolist() == reference.dynamic_map(signed)
    assert (qmap < 0).any() == signed and qmap[-1] == 1.0 and 0.0 in qmap


@pytest.mark.parametrize("signed", [True, False])
def test_dynamic_map_is_bitsandbytes_map(signed: bool) -> None:
    bnb_functional = pytest.importorskip("bitsandbytes.functional")
    expected = bnb_functional.create_dynamic_map(signed=signed).numpy()
    assert (
        functional.dynamic_map(signed).view(np.uint32).tolist() == expected.view(np.uint32).tolist()
    )


def _hard_values(rng: np.random.Generator, qmap: np.ndarray, n: int) -> np.ndarray:
    """Values whose ratio to the block maximum sits on, or one float from, the decision
    points between codes, plus ordinary and tiny values."""
    mids = ((qmap[:-1].astype(np.float64) + qmap[1:]) / 2).astype(np.float32)
    near = np.concatenate([mids, np.nextafter(mids, 2), np.nextafter(mids, -2), qmap])
    values = np.where(
        rng.random(n) < 0.5,
        rng.choice(near, n),
        rng.standard_normal(n).astype(np.float32) * 10.0 ** rng.integers(-9, 1, n),
    ).astype(np.float32)
    values[:: max(1, n // 7)] *= 1e-8
    if n >= 2:
        values[0] = 1.0  # the block maximum, so the ratios above are exact
    return values


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("n", SIZES)
def test_quantize_matches_reference(
    simd_level: str, rng: np.random.Generator, signed: bool, n: int
) -> None:
    qmap = functional.dynamic_map(signed)
    values = _hard_values(rng, qmap, n)
    if not signed:
        values = np.abs(values)
    values[1::5] = -0.0
    values[257:514] = 0.0  # a block of zeros (sizes > 514)
    codes, absmax = functional.quantize_blockwise(values, qmap)
    assert codes.dtype == np.uint8 and codes.shape == values.shape
    assert absmax.shape == ((n + 255) // 256,)
    table = qmap.tolist()
    for b in range(0, n, 256):
        want_codes, want_absmax = reference.quantize_block(_f32(values[b : b + 256]), table)
        assert codes[b : b + 256].tolist() == want_codes
        assert float(absmax[b // 256]) == want_absmax
        back = functional.dequantize_blockwise(
            codes[b : b + 256], absmax[b // 256 : b // 256 + 1], qmap
        )
        assert back.tolist() == reference.dequantize_block(want_codes, want_absmax, table)


_SQUARES = np.linspace(0.1, 1, 128) ** 2
CUSTOM_MAPS = {
    # Custom maps that fit the quantizer's byte tables (AVX-512 VBMI), per-binade buckets of
    # at most 256 per sign (512 without negative codes), ...
    "signed squares": np.concatenate([-_SQUARES[:0:-1], [0.0], _SQUARES]).astype(np.float32),
    "unsigned linear": np.linspace(0, 1, 256, dtype=np.float32),
    # ... and maps that do not: too dense, over more than 32 binades, a negative zero as
    # lowest code with 255 dense codes above.
    "linear": np.linspace(-1, 1, 256, dtype=np.float32),
    "geometric": np.concatenate(
        [-(2.0 ** -np.arange(0.0, 63.5, 0.5)), [0.0], 2.0 ** -np.arange(63.5, -0.5, -0.5)]
    ).astype(np.float32),
    "minus zero": np.concatenate([[-0.0], np.linspace(0.1, 1, 255) ** 3]).astype(np.float32),
}


@pytest.mark.parametrize("name", sorted(CUSTOM_MAPS))
def test_custom_maps_quantize_as_the_reference(
    simd_level: str, rng: np.random.Generator, name: str
) -> None:
    qmap = CUSTOM_MAPS[name]
    assert qmap.shape == (256,) and (np.diff(qmap) > 0).all()
    values = _hard_values(rng, qmap, 3 * 256 + 77)
    if qmap[0] >= 0:
        values[1::3] = np.abs(values[1::3])
    values[2::7] = -0.0
    codes, absmax = functional.quantize_blockwise(values, qmap)
    table = qmap.tolist()
    for b in range(0, values.size, 256):
        want_codes, want_absmax = reference.quantize_block(_f32(values[b : b + 256]), table)
        assert codes[b : b + 256].tolist() == want_codes
        assert float(absmax[b // 256]) == want_absmax


def test_nonfinite_block_reads_back_as_nan(simd_level: str) -> None:
    values = np.ones(600, dtype=np.float32)
    values[300] = np.inf
    values[10] = np.nan
    qmap = functional.dynamic_map(True)
    codes, absmax = functional.quantize_blockwise(values, qmap)
    back = functional.dequantize_blockwise(codes, absmax, qmap)
    assert np.isnan(back[:512]).all() and (back[512:] == 1.0).all()


def _run(name: str, size: int, steps: int, seed: int, **extra: object) -> optikern.Optimizer:
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(size).astype(np.float32)
    opt = getattr(optikern, name)(
        [param], **STATE_8BIT[name], state_bits=8, min_8bit_size=0, **extra
    )
    for _ in range(steps):
        opt.step([rng.standard_normal(size).astype(np.float32)])
    return opt


def _snapshot(opt: optikern.Optimizer) -> dict:
    (param,) = opt.param_groups[0]["params"]
    state = {k: np.array(v, copy=True) for k, v in opt.state[param].items()}
    return {"param": param.copy(), **state}


@pytest.mark.parametrize("name", STATE_8BIT)
def test_levels_and_threads_write_the_same_bytes(name: str) -> None:
    size = 100_003  # large enough for two threads, with a partial last block
    runs = []
    for level in optikern.available_simd_levels():
        for threads in (1, 2):
            with optikern.simd_level(level):
                optikern.set_num_threads(threads)
                try:
                    runs.append(_snapshot(_run(name, size, 3, seed=7)))
                finally:
                    optikern.set_num_threads(0)
    for other in runs[1:]:
        assert other.keys() == runs[0].keys()
        for key in runs[0]:
            np.testing.assert_array_equal(other[key], runs[0][key], err_msg=key)


@pytest.mark.parametrize("n", SIZES)
def test_adam_step_matches_reference(simd_level: str, rng: np.random.Generator, n: int) -> None:
    """One 8-bit Adam step from a quantized state: the reference reads the state back, updates
    it in double and quantizes the float32 result; codes may differ by one where the two
    roundings of the update straddle a decision point."""
    opt = _run("AdamW", n, 2, seed=int(rng.integers(1 << 30)))
    (param,) = opt.param_groups[0]["params"]
    state = opt.state[param]
    before = _snapshot(opt)
    grad = rng.standard_normal(n).astype(np.float32)
    opt.step([grad])
    group = opt.param_groups[0]
    moments = {}
    for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        table = before[name + "_qmap"].tolist()
        moments[name] = [
            v
            for b in range(0, n, 256)
            for v in reference.dequantize_block(
                before[name][b : b + 256].tolist(), float(before[name + "_absmax"][b // 256]), table
            )
        ]
    ref_param = _f32(before["param"])
    ref_state = {**moments, "step": before["step"]}
    reference.adamw_step(
        ref_param,
        _f32(grad),
        ref_state,
        lr=group["lr"],
        betas=group["betas"],
        eps=group["eps"],
        weight_decay=group["weight_decay"],
        amsgrad=True,
    )
    np.testing.assert_allclose(param, ref_param, rtol=2e-6, atol=2e-7)
    for name in moments:
        table = state[name + "_qmap"].tolist()
        for b in range(0, n, 256):
            want, want_absmax = reference.quantize_block(
                _f32(np.array(ref_state[name][b : b + 256])), table
            )
            got = state[name][b : b + 256].astype(int)
            assert np.abs(got - want).max() <= 1, name
            assert np.mean(got == want) > 0.97, name
            np.testing.assert_allclose(state[name + "_absmax"][b // 256], want_absmax, rtol=1e-6)


@pytest.mark.parametrize("name", STATE_8BIT)
def test_8bit_step_is_the_float32_step_of_the_read_back_state(name: str, simd_level: str) -> None:
    """Every optimizer with 8-bit state: a step reads the state back, takes the float32 step
    (params bit for bit those of a float32 optimizer loaded with the read-back state,
    per-param scalars such as NAdam's mu_product advanced alike) and quantizes the new state
    (codes and scales those of quantizing the float32 optimizer's new state). Two params of
    different sizes, one with a partial last block."""
    rng = np.random.default_rng(11)
    sizes = (300, 4099)
    params = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    opt8 = getattr(optikern, name)(params, **STATE_8BIT[name], state_bits=8, min_8bit_size=0)
    for _ in range(2):
        opt8.step([rng.standard_normal(n).astype(np.float32) for n in sizes])
    twins = [p.copy() for p in params]
    opt32 = getattr(optikern, name)(twins, **STATE_8BIT[name])
    opt32.load_state_dict(opt8.state_dict())
    grads = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    opt8.step(grads)
    opt32.step([g.copy() for g in grads])
    for p, twin in zip(params, twins):
        np.testing.assert_array_equal(p, twin)
        state8, state32 = opt8.state[p], opt32.state[twin]
        assert state8.keys() >= state32.keys()
        for key, value in state32.items():
            if np.asarray(state8[key]).dtype != np.uint8:  # step and per-param scalars
                np.testing.assert_array_equal(state8[key], value, err_msg=key)
                continue
            codes, absmax = functional.quantize_blockwise(value, state8[key + "_qmap"])
            np.testing.assert_array_equal(state8[key], codes, err_msg=key)
            np.testing.assert_array_equal(state8[key + "_absmax"], absmax, err_msg=key)


def test_8bit_adam_tracks_float32_adam() -> None:
    """The quantization error stays small over a run: same data, 8-bit and float32 state."""
    rng = np.random.default_rng(3)
    p8 = rng.standard_normal(20_000).astype(np.float32)
    p32 = p8.copy()
    o8 = optikern.AdamW([p8], lr=1e-3, state_bits=8)
    o32 = optikern.AdamW([p32], lr=1e-3)
    for _ in range(100):
        g = (0.1 * p8 + rng.standard_normal(p8.size)).astype(np.float32)
        o8.step([g])
        o32.step([g.copy()])
    drift = np.abs(p8 - p32).max()
    assert 0 < drift < 0.02  # 100 steps of 1e-3: the update itself moved params ~0.1


def test_state_memory_per_param() -> None:
    param = np.zeros(1_000_000, dtype=np.float32)
    opt = optikern.Adam([param], state_bits=8)
    opt.step([np.ones_like(param)])
    state = opt.state[param]
    own = sum(
        state[k].nbytes for k in state if isinstance(state[k], np.ndarray) and "qmap" not in k
    )
    assert state["exp_avg"].dtype == np.uint8 and state["exp_avg_sq"].dtype == np.uint8
    assert own / param.size <= 2.05
    shared = {id(state[k]) for k in ("exp_avg_qmap", "exp_avg_sq_qmap")}
    assert len(shared) == 2  # one signed, one unsigned map


def test_small_params_keep_float32_state() -> None:
    small, large = np.zeros(4095, np.float32), np.zeros(4096, np.float32)
    opt = optikern.Adam([small, large], state_bits=8)
    opt.step([np.ones_like(small), np.ones_like(large)])
    assert opt.state[small]["exp_avg"].dtype == np.float32
    assert opt.state[large]["exp_avg"].dtype == np.uint8


@pytest.mark.parametrize("name", STATE_8BIT)
def test_state_dict_round_trip_is_exact(name: str) -> None:
    opt = _run(name, 5000, 3, seed=1)
    saved = opt.state_dict()
    expected = _snapshot(opt)
    (param,) = opt.param_groups[0]["params"]
    fresh = getattr(optikern, name)(
        [param.copy()], **STATE_8BIT[name], state_bits=8, min_8bit_size=0
    )
    fresh.load_state_dict(saved)
    restored = _snapshot(fresh)
    assert restored.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(restored[key], expected[key], err_msg=key)
    grad = np.ones(5000, np.float32)
    opt.step([grad])
    fresh.step([grad])
    np.testing.assert_array_equal(_snapshot(fresh)["param"], _snapshot(opt)["param"])


def test_state_dict_converts_between_formats() -> None:
    opt8 = _run("Adam", 3000, 4, seed=2)
    (param,) = opt8.param_groups[0]["params"]
    state8 = opt8.state[param]
    opt32 = optikern.Adam([param.copy()], **STATE_8BIT["Adam"])
    opt32.load_state_dict(opt8.state_dict())
    (p32,) = opt32.param_groups[0]["params"]
    for name in ("exp_avg", "exp_avg_sq"):
        read_back = functional.dequantize_blockwise(
            state8[name], state8[name + "_absmax"], state8[name + "_qmap"]
        )
        assert opt32.state[p32][name].dtype == np.float32
        np.testing.assert_array_equal(opt32.state[p32][name], read_back)
    again = optikern.Adam([param.copy()], **STATE_8BIT["Adam"], state_bits=8, min_8bit_size=0)
    again.load_state_dict(opt32.state_dict())
    (p8,) = again.param_groups[0]["params"]
    for name in ("exp_avg", "exp_avg_sq"):  # quantized again: within one code step
        read_back = functional.dequantize_blockwise(
            state8[name], state8[name + "_absmax"], state8[name + "_qmap"]
        )
        again_back = functional.dequantize_blockwise(
            again.state[p8][name],
            again.state[p8][name + "_absmax"],
            again.state[p8][name + "_qmap"],
        )
        scale = np.repeat(state8[name + "_absmax"], 256)[: read_back.size]
        assert again.state[p8][name].dtype == np.uint8
        assert np.all(np.abs(again_back - read_back) <= 0.02 * scale)


def test_fortran_ordered_param_keeps_its_layout() -> None:
    rng = np.random.default_rng(4)
    f = np.asfortranarray(rng.standard_normal((300, 41)).astype(np.float32))
    c = np.ascontiguousarray(f.T)  # the same memory order as f
    of = optikern.Adam([f], state_bits=8, min_8bit_size=0)
    oc = optikern.Adam([c], state_bits=8, min_8bit_size=0)
    for _ in range(3):
        g = rng.standard_normal(f.shape).astype(np.float32)
        of.step([np.asfortranarray(g)])
        oc.step([np.ascontiguousarray(g.T)])
    assert of.state[f]["exp_avg"].flags.f_contiguous
    np.testing.assert_array_equal(f.T, c)
    np.testing.assert_array_equal(of.state[f]["exp_avg"].T, oc.state[c]["exp_avg"])


def test_bad_options_and_state() -> None:
    p = np.zeros(5000, np.float32)
    with pytest.raises(ValueError, match="state_bits: expected 32 or 8"):
        optikern.Adam([p], state_bits=4)
    with pytest.raises(TypeError, match="state_bits"):  # its sum is no running average
        optikern.Adagrad([p], state_bits=8)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="min_8bit_size"):
        optikern.Adam([p], state_bits=8, min_8bit_size=-1)
    opt = optikern.Adam([p], state_bits=8)
    opt.step([np.ones_like(p)])
    opt.state[p]["exp_avg_absmax"] = np.zeros(3, np.float32)
    before = p.copy()
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg_absmax'\]: expected 20 float32"):
        opt.step([np.ones_like(p)])
    np.testing.assert_array_equal(p, before)
    opt.state[p]["exp_avg_absmax"] = np.zeros(20, np.float32)
    opt.state[p]["exp_avg_qmap"] = functional.dynamic_map(True)[::-1].copy()
    with pytest.raises(ValueError, match="ascending"):
        opt.step([np.ones_like(p)])
    del opt.state[p]["exp_avg_qmap"]
    with pytest.raises(ValueError, match="lacks 'exp_avg_qmap'"):
        opt.step([np.ones_like(p)])
    np.testing.assert_array_equal(p, before)


def test_functional_quantized_state_is_the_class_update() -> None:
    rng = np.random.default_rng(5)
    param = rng.standard_normal(3000).astype(np.float32)
    twin = param.copy()
    opt = optikern.Adam([twin], lr=1e-2, state_bits=8, min_8bit_size=0)
    exp_avg = functional.quantized_like(param, signed=True)
    exp_avg_sq = functional.quantized_like(param, signed=False)
    for step in range(1, 4):
        grad = rng.standard_normal(3000).astype(np.float32)
        assert functional.adam([param], [grad], [exp_avg], [exp_avg_sq], step=step, lr=1e-2) == -1
        opt.step([grad])
    state = opt.state[twin]
    np.testing.assert_array_equal(param, twin)
    np.testing.assert_array_equal(exp_avg.codes, state["exp_avg"])
    np.testing.assert_array_equal(exp_avg_sq.absmax, state["exp_avg_sq_absmax"])
    before = [param.copy(), exp_avg.codes.copy(), exp_avg.absmax.copy()]
    grad = np.full(3000, np.nan, dtype=np.float32)
    kwargs = dict(step=4, lr=1e-2)
    assert (
        functional.adam([param], [grad], [exp_avg], [exp_avg_sq], check_only=True, **kwargs) == -1
    )
    assert (
        functional.adam([param], [grad], [exp_avg], [exp_avg_sq], skip_nonfinite=True, **kwargs)
        == 0
    )
    for now, then in zip([param, exp_avg.codes, exp_avg.absmax], before):
        np.testing.assert_array_equal(now, then)
    with pytest.raises(
        TypeError, match=r"exp_avg_sq of params\[0\]: expected functional.Quantized"
    ):
        functional.adam([param], [grad], [exp_avg], [np.zeros_like(param)], **kwargs)
    with pytest.raises(ValueError, match="overlap"):
        functional.adam([param], [grad], [exp_avg], [exp_avg], **kwargs)


def test_functional_lamb_quantized_state_is_the_class_update() -> None:
    """functional.lamb with Quantized moments: two params (their own trust ratios), the
    class's bytes."""
    rng = np.random.default_rng(8)
    params = [rng.standard_normal(n).astype(np.float32) for n in (3000, 700)]
    twins = [p.copy() for p in params]
    opt = optikern.LAMB(twins, lr=1e-2, weight_decay=0.1, state_bits=8, min_8bit_size=0)
    exp_avgs = [functional.quantized_like(p, signed=True) for p in params]
    exp_avg_sqs = [functional.quantized_like(p, signed=False) for p in params]
    for step in range(1, 4):
        grads = [rng.standard_normal(p.size).astype(np.float32) for p in params]
        functional.lamb(params, grads, exp_avgs, exp_avg_sqs, step=step, lr=1e-2, weight_decay=0.1)
        opt.step(grads)
    for p, twin, m, v in zip(params, twins, exp_avgs, exp_avg_sqs):
        np.testing.assert_array_equal(p, twin)
        np.testing.assert_array_equal(m.codes, opt.state[twin]["exp_avg"])
        np.testing.assert_array_equal(v.absmax, opt.state[twin]["exp_avg_sq_absmax"])


def test_functional_nadam_quantized_state_keeps_its_float_scalars() -> None:
    """NAdam's per-param mu_product stays a float 0-d array beside the 8-bit moments: the
    functional step is the class's, and a bad mu_product is refused before anything is
    written."""
    rng = np.random.default_rng(6)
    param = rng.standard_normal(3000).astype(np.float32)
    twin = param.copy()
    opt = optikern.NAdam([twin], lr=1e-2, state_bits=8, min_8bit_size=0)
    exp_avg = functional.quantized_like(param, signed=True)
    exp_avg_sq = functional.quantized_like(param, signed=False)
    mu_product = np.array(1.0, dtype=np.float32)
    for step in range(1, 4):
        grad = rng.standard_normal(3000).astype(np.float32)
        functional.nadam([param], [grad], [exp_avg], [exp_avg_sq], [mu_product], step=step, lr=1e-2)
        opt.step([grad])
    state = opt.state[twin]
    np.testing.assert_array_equal(param, twin)
    np.testing.assert_array_equal(exp_avg.codes, state["exp_avg"])
    np.testing.assert_array_equal(exp_avg_sq.absmax, state["exp_avg_sq_absmax"])
    assert mu_product == state["mu_product"] and mu_product != 1.0
    before = [param.copy(), exp_avg.codes.copy(), exp_avg_sq.absmax.copy()]
    read_only = mu_product.copy()
    read_only.setflags(write=False)
    bad = {
        "0-d float32 or float64": np.ones(1, dtype=np.float32),
        "writeable": read_only,
    }
    for message, mu in bad.items():
        with pytest.raises((TypeError, ValueError), match=rf"mu_products\[0\].*{message}"):
            functional.nadam([param], [grad], [exp_avg], [exp_avg_sq], [mu], step=4, lr=1e-2)
    for now, then in zip([param, exp_avg.codes, exp_avg_sq.absmax], before):
        np.testing.assert_array_equal(now, then)


@pytest.mark.parametrize("size", [300, 100_003])  # one thread; two threads, partial last block
@pytest.mark.parametrize("name", ["AdamW", "NAdam", "LAMB"])  # elementwise, 0-d state, norms
def test_16bit_params_with_8bit_state_are_the_float32_update_rounded(
    name: str, simd_level: str, size: int
) -> None:
    """bfloat16 params, float32 masters, 8-bit state: the masters and the state take exactly
    the float32 path's values (8-bit state over float32 params fed the same gradients), and
    the params are their round-to-nearest."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(9)
    low = rng.standard_normal(size).astype(ml_dtypes.bfloat16)
    master = low.astype(np.float32)
    make = getattr(optikern, name)
    opt16 = make([low], **STATE_8BIT[name], state_bits=8, min_8bit_size=0)
    opt32 = make([master], **STATE_8BIT[name], state_bits=8, min_8bit_size=0)
    optikern.set_num_threads(2)
    try:
        for _ in range(3):
            grad = rng.standard_normal(size).astype(ml_dtypes.bfloat16)
            opt16.step([grad])
            opt32.step([grad.astype(np.float32)])
    finally:
        optikern.set_num_threads(0)
    state16, state32 = opt16.state[low], opt32.state[master]
    np.testing.assert_array_equal(state16["master_param"], master)
    assert state16.keys() == {*state32, "master_param"}
    for key, value in state32.items():
        np.testing.assert_array_equal(state16[key], value, err_msg=key)
    assert state16["exp_avg"].dtype == np.uint8
    np.testing.assert_array_equal(low, master.astype(ml_dtypes.bfloat16))


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("fmt", ["bfloat16", "float16"])
@pytest.mark.parametrize("float32_grads", [False, True])
def test_functional_16bit_params_with_quantized_state_are_the_class_update(
    rounding: str, fmt: str, float32_grads: bool
) -> None:
    """functional's 8-bit step over 16-bit params and float32 masters writes the class's bytes
    (the stream given as the step number, which the class uses)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dtype = ml_dtypes.bfloat16 if fmt == "bfloat16" else np.float16
    rng = np.random.default_rng(11)
    low = rng.standard_normal(5000).astype(dtype)
    master = low.astype(np.float32)
    twin = low.copy()
    opt = optikern.AdamW([twin], lr=1e-2, state_bits=8, min_8bit_size=0, rounding=rounding, seed=3)
    exp_avg = functional.quantized_like(low, signed=True)
    exp_avg_sq = functional.quantized_like(low, signed=False)
    for step in range(1, 5):
        grad = rng.standard_normal(5000).astype(np.float32 if float32_grads else dtype)
        functional.adamw(
            [master],
            [grad],
            [exp_avg],
            [exp_avg_sq],
            step=step,
            lr=1e-2,
            lowp_params=[low],
            rounding=rounding,
            seed=3,
            stream=step,
        )
        opt.step([grad])
    state = opt.state[twin]
    np.testing.assert_array_equal(low.view(np.uint16), twin.view(np.uint16))
    np.testing.assert_array_equal(master, state["master_param"])
    for ours, name in ((exp_avg, "exp_avg"), (exp_avg_sq, "exp_avg_sq")):
        np.testing.assert_array_equal(ours.codes, state[name])
        np.testing.assert_array_equal(ours.absmax, state[name + "_absmax"])


def test_functional_16bit_quantized_checks_and_stream() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(12)
    low = rng.standard_normal(3000).astype(ml_dtypes.bfloat16)
    master = low.astype(np.float32)
    state = [functional.quantized_like(low), functional.quantized_like(low, signed=False)]
    grad = rng.standard_normal(3000).astype(ml_dtypes.bfloat16)

    def step(**kwargs):
        lows, masters = low.copy(), master.copy()
        states = [functional.Quantized(*(a.copy() for a in s)) for s in state]
        functional.adam(
            [masters], [grad], [states[0]], [states[1]], step=1, lowp_params=[lows], **kwargs
        )
        return lows.view(np.uint16)

    # the stream is taken as given: another stream rounds other elements up
    one = step(rounding="stochastic", stream=1)
    assert np.array_equal(one, step(rounding="stochastic", stream=1))
    assert not np.array_equal(one, step(rounding="stochastic", stream=2))
    with pytest.raises(TypeError, match=r"params\[0\]: expected dtype float32"):
        functional.adam(
            [master.astype(np.float64)], [grad], [state[0]], [state[1]], step=1,
            lowp_params=[low],
        )  # fmt: skip
    with pytest.raises(TypeError, match=r"grads\[0\]: expected dtype bfloat16"):
        functional.adam(
            [master], [grad.astype(np.float16)], [state[0]], [state[1]], step=1,
            lowp_params=[low],
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"params\[0\].*shape"):
        functional.adam([master[:-1]], [grad], [state[0]], [state[1]], step=1, lowp_params=[low])
    with pytest.raises(ValueError, match="overlap"):
        functional.adam(
            [master], [grad], [state[0]], [state[1]], step=1,
            lowp_params=[master.view(ml_dtypes.bfloat16)[:3000]],
        )  # fmt: skip
