"""Gradient clipping and norms against float64 NumPy (and torch.nn.utils when installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optikern
from optikern import functional

SIZES = [0, 1, 7, 33, 4095, 4097, 100003]


def grads_of(dtype: type, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for n in SIZES]


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_matches_numpy(norm_type: float, dtype: type) -> None:
    grads = grads_of(dtype)
    everything = np.concatenate([g.astype(np.float64) for g in grads])
    expected = np.linalg.norm(everything, norm_type)
    assert functional.grad_norm(grads, norm_type) == pytest.approx(expected, rel=1e-12)


def test_norm_of_mixed_dtypes() -> None:
    grads = grads_of(np.float32) + grads_of(np.float64, seed=1)
    everything = np.concatenate([g.astype(np.float64) for g in grads])
    assert functional.grad_norm(grads) == pytest.approx(np.linalg.norm(everything), rel=1e-12)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_norm_is_bit_identical_across_levels_and_threads(norm_type: float) -> None:
    grads = grads_of(np.float32) * 3
    results = set()
    for level in optikern.available_simd_levels():
        for threads in (1, 2, 3):
            optikern.set_num_threads(threads)
            try:
                with optikern.simd_level(level):
                    results.add(functional.grad_norm(grads, norm_type))
            finally:
                optikern.set_num_threads(0)
    assert len(results) == 1


def test_nan_and_inf_propagate_into_the_norm() -> None:
    grads = grads_of(np.float64)
    grads[3][5] = np.inf
    assert functional.grad_norm(grads) == math.inf
    grads[5][100] = np.nan
    for norm_type in (1.0, 2.0, math.inf):
        assert math.isnan(functional.grad_norm(grads, norm_type))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_scales_to_max_norm(dtype: type) -> None:
    grads = grads_of(dtype)
    before = [g.copy() for g in grads]
    total = optikern.clip_grad_norm_(grads, max_norm=1.0)
    coefficient = 1.0 / (total + 1e-6)
    for b, g in zip(before, grads):
        np.testing.assert_allclose(g, b * dtype(coefficient), rtol=2 * np.finfo(dtype).eps)
    assert functional.grad_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone() -> None:
    grads = [np.full(10, 0.01)]
    before = grads[0].copy()
    assert optikern.clip_grad_norm_(grads, max_norm=10.0) == pytest.approx(0.01 * math.sqrt(10))
    assert np.array_equal(grads[0], before)


def test_clip_grad_norm_nonfinite() -> None:
    grads = [np.array([1.0, np.nan])]
    with pytest.raises(optikern.NonFiniteError, match="non-finite"):
        optikern.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    assert grads[0][0] == 1.0
    optikern.clip_grad_norm_(grads, 1.0)
    assert np.isnan(grads[0]).all()  # torch's behaviour without error_if_nonfinite


def test_clip_grad_value() -> None:
    g = np.array([-3.0, -0.5, 0.0, 0.5, 3.0, np.nan], dtype=np.float32)
    optikern.clip_grad_value_([g], 1.0)
    np.testing.assert_array_equal(g, [-1.0, -0.5, 0.0, 0.5, 1.0, np.nan])


def test_bad_input_is_refused_and_nothing_written() -> None:
    g = np.ones(4, dtype=np.float32)
    with pytest.raises(TypeError, match=r"grads\[1\]"):
        optikern.clip_grad_norm_([g, np.ones(3, dtype=np.int32)], 0.1)
    with pytest.raises(ValueError, match=r"grads\[0\]: expected a writeable"):
        ro = np.ones(3)
        ro.flags.writeable = False
        optikern.clip_grad_value_([ro], 0.5)
    with pytest.raises(ValueError, match="norm_type"):
        functional.grad_norm([g], -1.0)
    assert np.array_equal(g, np.ones(4, dtype=np.float32))


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
def test_matches_torch(norm_type: float) -> None:
    torch = pytest.importorskip("torch")
    grads = [g for g in grads_of(np.float32) if g.size]  # torch refuses inf-norms of empty tensors
    tensors = [torch.tensor(g.copy()) for g in grads]
    total = optikern.clip_grad_norm_(grads, 0.5, norm_type)
    params = [torch.zeros_like(t, requires_grad=True) for t in tensors]
    for p, t in zip(params, tensors):
        p.grad = t
    expected = torch.nn.utils.clip_grad_norm_(params, 0.5, norm_type)
    assert total == pytest.approx(float(expected), rel=1e-5)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-12)
