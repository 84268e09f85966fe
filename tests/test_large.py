"""64-bit indexing end to end: an array of more than 2**31 elements is updated everywhere,
including past element 2**31. Needs ~17.2 GB, so it runs only on request:
``OPTIKERN_TEST_LARGE=1 python -m pytest tests/test_large.py`` (and then only where that much
memory is free). The default suite covers 64-bit sizes without allocating them: the C++ tests
split element ranges past 2**31 over threads (cpp/tests/test_kernels.cpp)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import optikern

N = 2**31 + 1001


def available_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("OPTIKERN_TEST_LARGE") != "1",
    reason="needs ~17 GB: run with OPTIKERN_TEST_LARGE=1",
)
@pytest.mark.skipif(
    available_bytes() < 2 * 4 * N * 1.15,
    reason="needs 2 x 8.6 GB of free memory for two float32 arrays of 2**31+ elements",
)
def test_more_than_2_31_elements() -> None:
    param = np.ones(N, dtype=np.float32)
    grad = np.full(N, 2.0, dtype=np.float32)
    optikern.SGD([param], lr=0.25).step([grad])
    # 1 - 0.25 * 2 = 0.5 at the start, at 2**31 and at the very end
    assert param[0] == 0.5 and param[2**31 - 1] == 0.5 and param[2**31] == 0.5
    assert param[-1] == 0.5
    assert float(optikern.functional.grad_norm([grad], np.inf)) == 2.0
