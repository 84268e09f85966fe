"""Mixed precision: float16/bfloat16 params, float32 masters and state, loss scaling, and
round-to-nearest-even or stochastic rounding in the same pass.

Two exact checks per configuration: (1) the master weights and state equal, bit for bit, a
plain float32 optimizer fed the same gradients converted to float32 and unscaled (the mixed
path runs the very same kernel); (2) every 16-bit param equals the pure-Python rounding model
(``optikern.reference_lowp``) applied to its master, with the random stream of
(seed, step, tensor, element).
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import MIXED, MIXED_NAMES, OptimizerInfo

import optikern
from optikern import reference_lowp as R

ml_dtypes = pytest.importorskip("ml_dtypes")
FORMATS = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
SIZES = [1, 7, 33, 1000, 3000]


def model_round(
    master: np.ndarray, fmt: str, rounding: str, seed: int, step: int, tensor: int
) -> np.ndarray:
    flat = master.ravel()
    if rounding == "nearest":
        bits = [R.round_nearest(float(x), fmt) for x in flat]
    else:
        bits = [
            R.round_stochastic(float(x), fmt, R.random_bits(seed, step, tensor, i))
            for i, x in enumerate(flat)
        ]
    return np.array(bits, dtype=np.uint16).reshape(master.shape)


@pytest.mark.parametrize("level", optikern.available_simd_levels())
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("grad_format", ["same", "float32"])
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("info", MIXED, ids=MIXED_NAMES)
def test_masters_exact_and_rounding_modelled(info, fmt, grad_format, rounding, level) -> None:
    with optikern.simd_level(level):
        run_and_check(info, fmt, grad_format, rounding)


def run_and_check(info: OptimizerInfo, fmt: str, grad_format: str, rounding: str) -> None:
    dtype = FORMATS[fmt]
    rng = np.random.default_rng(11)
    params = [rng.standard_normal(n).astype(np.float32).astype(dtype) for n in SIZES]
    masters = [p.astype(np.float32) for p in params]
    opt = info.make(params, rounding=rounding, seed=5, **info.representative)
    plain = info.make(masters, **info.representative)
    scale = 1024.0
    for step in range(1, 6):
        if step == 4:
            edit_outside_the_optimizer(params, masters, fmt, rounding == "stochastic")
        grads32 = [rng.standard_normal(n).astype(np.float32) for n in SIZES]
        if grad_format == "same":
            grads = [(g * np.float32(scale)).astype(dtype) for g in grads32]
            unscaled = [g.astype(np.float32) / np.float32(scale) for g in grads]
        else:
            grads = [g * np.float32(scale) for g in grads32]
            unscaled = [g / np.float32(scale) for g in grads]
        opt.step(grads, grad_scale=scale)
        plain.step(unscaled)
        for t, (p, m) in enumerate(zip(params, masters)):
            state = opt.state[p]
            assert state["step"] == step
            assert state["master_param"].tobytes() == m.tobytes()
            for key, value in plain.state[m].items():
                if isinstance(value, np.ndarray):
                    assert state[key].dtype == np.float32
                    assert state[key].tobytes() == value.tobytes(), key
            expected = model_round(m, fmt, rounding, 5, step, t)
            assert np.array_equal(p.view(np.uint16), expected)


def special_floats() -> np.ndarray:
    """float32 values of every exponent (subnormals, infinities and NaN included, both signs),
    at and around the last mantissa bit of float16 (bit 13) and of bfloat16 (bit 16)."""
    mantissas = np.array(
        [0, 1, 0xFFF, 0x1000, 0x1001, 0x1FFF, 0x2000, 0x3000, 0x7FFF, 0x8000, 0x8001, 0x18000]
        + [0x400000, 0x7FE000, 0x7FEFFF, 0x7FF000, 0x7FFFFF],
        dtype=np.uint32,
    )
    bits = (np.arange(256, dtype=np.uint32)[:, None] << 23 | mantissas).ravel()
    return np.concatenate([bits, bits | 0x80000000]).view(np.float32)


@pytest.mark.parametrize("level", optikern.available_simd_levels())
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_special_values_round_as_modelled(fmt: str, rounding: str, level: str) -> None:
    """The vector conversions at every level write the model's bits for every kind of float,
    and read every 16-bit gradient pattern exactly."""
    master = special_floats()
    param = model_round(master, fmt, "nearest", 0, 0, 0).view(FORMATS[fmt])
    grad = np.zeros(master.shape, np.float32)
    opt = optikern.SGD([param], lr=0.0, rounding=rounding, seed=9)
    opt.state[param] = {"master_param": master.copy(), "step": 0}
    with optikern.simd_level(level):
        opt.step([grad])
    kept = opt.state[param]["master_param"]  # the step quiets signalling NaN
    assert np.array_equal(kept, master, equal_nan=True)
    assert np.array_equal(param.view(np.uint16), model_round(kept, fmt, rounding, 9, 1, 0))

    patterns = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    zeros = np.zeros(patterns.shape, FORMATS[fmt])
    opt = optikern.SGD([zeros], lr=1.0, rounding=rounding)
    with optikern.simd_level(level):
        opt.step([patterns.view(FORMATS[fmt])], grad_scale=4.0)
    expected = np.array([R.to_float(int(h), fmt) / -4.0 for h in patterns], np.float32)
    got = opt.state[zeros]["master_param"]
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])


def edit_outside_the_optimizer(params: list, masters: list, fmt: str, stochastic: bool) -> None:
    """Change some 16-bit params in place, as ``p.clamp_()`` or loading weights would, and give
    the float32 twin the masters the rule implies: an element keeps its master only while the
    param still holds a rounding of it, else the master restarts from the param."""
    for p, m in zip(params, masters):
        p[::3] = 0
        p[1::5] = np.clip(p[1::5].astype(np.float32) * 3, -1.5, 1.5).astype(p.dtype)
        bits = p.view(np.uint16).ravel()
        flat = m.ravel()
        for i in range(flat.size):
            if not R.is_rounding_of(int(bits[i]), float(flat[i]), fmt, stochastic):
                flat[i] = R.to_float(int(bits[i]), fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_rounding_test_matches_the_rounding_model(fmt: str) -> None:
    """What each rounding mode writes passes is_rounding_of for that mode; under nearest
    rounding nothing else does, under stochastic rounding nothing beyond the two neighbours."""
    rng = np.random.default_rng(3)
    xs = np.concatenate(
        [rng.standard_normal(300), rng.standard_normal(100) * 1e-6, [0.0, -0.0, 1.0, 65519.0]]
    ).astype(np.float32)
    for k, x in enumerate(map(float, xs)):
        nearest = R.round_nearest(x, fmt)
        assert R.is_rounding_of(nearest, x, fmt, stochastic=False)
        assert not R.is_rounding_of(nearest + 1, x, fmt, stochastic=False)
        assert not R.is_rounding_of(nearest - 1, x, fmt, stochastic=False)
        for j in range(k, k + 64):
            written = R.round_stochastic(x, fmt, R.random_bits(0, 0, 0, j))
            assert R.is_rounding_of(written, x, fmt, stochastic=True)
        assert not R.is_rounding_of(R.toward_zero(x, fmt) + 2, x, fmt, stochastic=True)


def test_stochastic_rounding_is_unbiased_and_reproducible() -> None:
    # A step of zero leaves the master at x; the 16-bit copy averages to x only when rounded
    # stochastically.
    x = np.float32(1.0 + 1.0 / 3.0 / 128.0)

    def run(seed: int, rounding: str) -> np.ndarray:
        p = np.full(200_000, x, dtype=np.float32).astype(ml_dtypes.bfloat16)
        opt = optikern.SGD([p], lr=0.0, rounding=rounding, seed=seed)
        opt.state[p] = {"master_param": np.full(p.shape, x, np.float32), "step": 0}
        opt.step([np.zeros(p.shape, np.float32)])
        return p.astype(np.float32)

    sr = run(1, "stochastic")
    assert abs(sr.mean() - x) < 2e-5
    assert abs(run(1, "nearest").mean() - x) > 1e-3
    assert np.array_equal(sr, run(1, "stochastic"))
    assert not np.array_equal(sr, run(2, "stochastic"))


def test_random_stream_is_uniform_and_independent() -> None:
    # The stream's definition (the kernels follow it bit for bit): over consecutive elements of
    # a few (seed, step, tensor), the top byte is uniform (chi-square, 255 degrees of freedom:
    # mean 255, sd 22.6), every bit is set half the time, and an element's bits at one step
    # tell nothing of the next step's, nor of the element 2^32 further (another key).
    n = 4096
    streams = [(0, 1, 0), (0, 2, 0), (7, 1, 3), (2**63 + 5, 10**9, 1)]
    bits = np.array([[R.random_bits(*s, e) for e in range(n)] for s in streams], np.uint64)
    top = np.bincount((bits >> 24).ravel().astype(np.int64), minlength=256)
    expected = bits.size / 256
    assert ((top - expected) ** 2 / expected).sum() < 255 + 5 * 22.6
    ones = (bits[..., None] >> np.arange(32, dtype=np.uint64)) & 1
    assert np.abs(ones.mean(axis=(0, 1)) - 0.5).max() < 5 * 0.5 / np.sqrt(bits.size)
    far = np.array([R.random_bits(0, 1, 0, 2**32 + e) for e in range(n)], np.uint64)
    for other in (bits[1], far):
        same = ((bits[0] ^ other)[:, None] >> np.arange(32, dtype=np.uint64)) & 1
        assert abs(1 - same.mean() - 0.5) < 5 * 0.5 / np.sqrt(same.size)


def test_levels_and_threads_agree() -> None:
    results = []
    for level in optikern.available_simd_levels():
        for threads in (1, 2):
            optikern.set_num_threads(threads)
            try:
                with optikern.simd_level(level):
                    rng = np.random.default_rng(0)
                    p = rng.standard_normal(200_003).astype(ml_dtypes.bfloat16)
                    opt = optikern.Adam([p], rounding="stochastic")
                    for _ in range(3):
                        opt.step([rng.standard_normal(p.shape).astype(ml_dtypes.bfloat16)])
                    results.append(p.tobytes() + opt.state[p]["master_param"].tobytes())
            finally:
                optikern.set_num_threads(0)
    assert len(set(results)) == 1


def test_nonfinite_16bit_gradient_is_skipped() -> None:
    p = np.ones(10, dtype=np.float16)
    opt = optikern.Adam([p], nonfinite="skip")
    g = np.ones(10, dtype=np.float16)
    g[3] = np.inf
    opt.step([g])
    assert opt.skipped_steps == 1 and np.all(p == 1)


def test_bad_mixed_input() -> None:
    p = np.ones(4, dtype=np.float16)
    opt = optikern.Adam([p])
    with pytest.raises(TypeError, match=r"grads\[0\]"):
        opt.step([np.ones(4, dtype=ml_dtypes.bfloat16)])
    with pytest.raises(TypeError, match=r"grads\[0\]"):
        opt.step([np.ones(4, dtype=np.float64)])
    with pytest.raises(ValueError, match="grad_scale"):
        optikern.Adam([np.ones(3, np.float32)]).step([np.ones(3, np.float32)], grad_scale=2.0)
    with pytest.raises(ValueError, match="rounding"):
        optikern.Adam([p], rounding="up")
    assert np.all(p == 1) and opt.state.get(p) is None
