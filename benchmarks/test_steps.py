"""pytest-benchmark suite: one optimizer step per optimizer, dtype and workload, each also
checked against careful NumPy (what is timed is also right).

    pip install --group benchmark
    python -m pytest benchmarks --benchmark-autosave        # saved under .benchmarks/
    pytest-benchmark compare                                # against earlier saved runs

CI runs it in a short mode (``--benchmark-max-time=0.02 --benchmark-min-rounds=3``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import optikern
from optikern._bench import numpy_careful
from optikern._bench.workloads import CONFIGS, Config

pytest.importorskip("pytest_benchmark")

WORKLOADS = {"1 x 1e3": [(1000,)], "1 x 1e6": [(1_000_000,)], "100 x 1e3": [(1000,)] * 100}
CHECKED_STEPS = 3


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One thread, so a saved run compares with another on any machine load."""
    optikern.set_num_threads(1)
    yield
    optikern.set_num_threads(0)


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("config", CONFIGS, ids=[c.label for c in CONFIGS])
def test_step(benchmark: Any, config: Config, dtype: str, workload: str) -> None:
    benchmark.group = f"{workload} {dtype}"
    rng = np.random.default_rng(0)
    shapes = WORKLOADS[workload]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    expected = [p.copy() for p in params]
    opt = getattr(optikern, config.optimizer)(params, **config.kwargs)
    careful = numpy_careful.make(config.optimizer, config.kwargs, expected)
    for _ in range(CHECKED_STEPS):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt.step(grads)
        careful(grads)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for got, want in zip(params, expected):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)

    benchmark(opt.step, grads)
