"""Gradient accumulation: the mean of micro-batch gradients equals the full-batch gradient."""

from __future__ import annotations

import numpy as np
import pytest

import optikern


def test_mean_of_micro_batches_is_the_full_batch_gradient() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)), rng.standard_normal(64)
    w = rng.standard_normal(5)

    def grad(xb: np.ndarray, yb: np.ndarray) -> np.ndarray:  # mean squared error
        return 2 * xb.T @ (xb @ w - yb) / len(yb)

    acc = optikern.GradientAccumulator([w], steps=4)
    buffers = [id(b) for b in acc.buffers]
    for k in range(4):
        acc.add([grad(x[16 * k : 16 * (k + 1)], y[16 * k : 16 * (k + 1)])])
    assert acc.ready and [id(b) for b in acc.buffers] == buffers
    np.testing.assert_allclose(acc.grads[0], grad(x, y), rtol=1e-12)
    expected = w - 0.1 * grad(x, y)
    optikern.SGD([w], lr=0.1).step(acc.grads)
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    acc.zero()
    assert not acc.ready and not acc.buffers[0].any()


def test_sum_mode_and_errors() -> None:
    acc = optikern.GradientAccumulator([np.zeros(3)], steps=2, average=False)
    acc.add([np.ones(3)])
    acc.add([np.ones(3)])
    np.testing.assert_array_equal(acc.grads[0], [2, 2, 2])
    with pytest.raises(ValueError, match=r"grads\[0\]"):
        acc.add([np.ones(4)])
    with pytest.raises(ValueError, match="steps"):
        optikern.GradientAccumulator([np.zeros(3)], steps=0)
