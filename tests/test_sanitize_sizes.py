"""Every size around the vector widths (0..65, 1023, 1025) at odd offsets inside a larger
buffer, every case of the optimizer table (optim_db): tails and unaligned starts against the
reference. (Meant to run under the sanitizers too: scripts/sanitize.sh.)"""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import CASES, Case

SIZES = [*range(66), 1023, 1025]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tails_and_offsets(case: Case, dtype: type, simd_level: str) -> None:
    rng = np.random.default_rng(len(case.id))
    for size in SIZES:
        offset = size % 5  # slices starting 0..4 elements into a buffer: unaligned starts
        buffer = rng.standard_normal(size + offset + 3).astype(dtype)
        guard = buffer.copy()
        param = buffer[offset : offset + size]
        grad_buffer = rng.standard_normal(size + 7).astype(dtype)
        grad = grad_buffer[7 - offset % 7 :][:size]
        ref_param, ref_state = param.astype(np.float64).tolist(), {}
        opt = case.make([param])
        for _ in range(2):
            opt.step([grad])
            case.reference(ref_param, grad.astype(np.float64).tolist(), ref_state, **case.kwargs)
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(param, ref_param, rtol=tol, atol=tol)
        # nothing outside the slice was touched
        assert np.array_equal(buffer[:offset], guard[:offset])
        assert np.array_equal(buffer[offset + size :], guard[offset + size :])
