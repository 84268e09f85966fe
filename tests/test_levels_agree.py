"""Every SIMD level and every thread count gives the same bits as the baseline on one thread.

The kernels fuse a multiply and an add only explicitly (the same FMA on every level, where
torch does), use no reductions, and update every element on its own, so moving a run to another CPU or thread count must not change a single bit. Sizes reach
past the threading threshold and leave tails of every length for each vector width.
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import CASES, Case

import optikern

SIZES = [0, 1, 15, 17, 31, 33, 1023, 1025, 3 * optikern._core.min_elements_per_thread + 7]


def run(case: Case, dtype: type, level: str, threads: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    grads = [[rng.standard_normal(n).astype(dtype) for n in SIZES] for _ in range(4)]
    optikern.set_num_threads(threads)
    try:
        with optikern.simd_level(level):
            opt = case.make(params)
            for g in grads:
                opt.step(g)
    finally:
        optikern.set_num_threads(0)
    state = [a for p in params for a in opt.state[p].values() if isinstance(a, np.ndarray)]
    return params + state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_levels_and_threads_bit_identical(case: Case, dtype: type) -> None:
    expected = run(case, dtype, "baseline", 1)
    for level in optikern.available_simd_levels():
        for threads in (1, 2, 3):
            got = run(case, dtype, level, threads)
            for e, g in zip(expected, got):
                assert e.tobytes() == g.tobytes(), f"{level}, {threads} threads"
