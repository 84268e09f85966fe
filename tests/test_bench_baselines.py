"""The NumPy baselines ``optikern bench`` times against (careful: in place, with two scratch
arrays; naive: the textbook expressions) compute the same update as optikern, so the
published ratios compare equal work. Eight steps: RAdam's rectified branch starts at step 6."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import optikern
from optikern._bench import numpy_careful, numpy_naive
from optikern._bench.workloads import CONFIGS, Config, as_matrix

STEPS = 8


def _run(config: Config, dtype: type, make: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """optikern's and a baseline's params after STEPS steps from the same start."""
    rng = np.random.default_rng(1)
    shape = as_matrix((1000,)) if config.matrices else (1000,)
    start = rng.standard_normal(shape).astype(dtype)
    ours, theirs = [start.copy()], [start.copy()]
    opt = getattr(optikern, config.optimizer)(ours, **config.kwargs)
    step = make(config.optimizer, config.kwargs, theirs)
    for _ in range(STEPS):
        grads = [rng.standard_normal(shape).astype(dtype)]
        opt.step(grads)
        step(grads)
    return start, ours[0], theirs[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=[c.label for c in CONFIGS])
def test_careful_numpy_is_the_optikern_update(config: Config, dtype: type) -> None:
    start, ours, careful = _run(config, dtype, numpy_careful.make)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(careful, ours, rtol=tol, atol=tol)
    assert not np.array_equal(ours, start)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.label for c in CONFIGS])
def test_naive_numpy_is_the_optikern_update(config: Config) -> None:
    start, ours, naive = _run(config, np.float64, numpy_naive.make)
    # NAdam's mu_product and ASGD's eta and mu are float32 as torch's 0-d state: ~1e-7
    np.testing.assert_allclose(naive, ours, rtol=2e-6, atol=1e-9)
    assert not np.array_equal(ours, start)
