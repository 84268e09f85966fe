"""The kernels against the pure-Python reference: every case of ``optim_db.CASES`` x float32 and
float64 x sizes 0, 1, 7, 33, 1000, 100003 x every SIMD level x 20 steps of fresh random
gradients, params and all state compared.

float64: the kernels and the reference do the same operations in the same order in IEEE
double, so they agree to rounding noise; the test demands a relative error <= 1e-12.

float32: the reference runs in float64 on the same float32 inputs. Per element and step the
kernel performs at most ~12 correctly rounded float32 operations, each with relative error
<= eps/2 (eps = 2**-23), on values whose own error was inherited from the previous step. The
moving averages are contractions (factors beta, alpha < 1), so inherited relative errors do not
grow; each step adds at most ~13 * eps/2 of relative error to the update and one rounding of
the param, and these errors are as often negative as positive. The worst case summed over N
steps is |p32 - p64| <= N * 7 * eps * (|p| + |step|); the test uses rtol = atol/scale =
4 * N * eps (9.5e-6 for N = 20), between the typical (random-walk) and the worst-case growth:
the largest error measured over every case is ~4 eps, 1/20 of the bound.

The reference is a pure-Python loop; for 100003 elements it runs on a sample of indices
(the first and last 40, where the vector tails are, and 64 random ones): elements are updated
independently, so a sample is an exact check of those elements. An update scaled by its
tensor's norms (LAMB) depends on every element: there the reference sees all of them, at
10007 elements instead of 100003 (still three blocks of the norm phase's sums).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from optim_db import CASES, Case

SIZES = [0, 1, 7, 33, 1000, 100003]
STEPS = 20
CHECKED_STEPS = (0, STEPS - 1)  # params compared after these steps (0-based)
EPS32 = float(np.finfo(np.float32).eps)


def sample(n: int, rng: np.random.Generator, elementwise: bool = True) -> np.ndarray:
    if n <= 1000 or not elementwise:
        return np.arange(n)
    ends = np.concatenate([np.arange(40), np.arange(n - 40, n)])
    return np.unique(np.concatenate([ends, rng.choice(n, 64, replace=False)]))


def check(got: np.ndarray, want: list[float], dtype: type, what: str, norms: bool = False) -> None:
    want_arr = np.array(want, dtype=np.float64)
    got64 = got.astype(np.float64)
    if dtype == np.float64:
        # norms: the kernel's sums (blocks, lanes) and the reference's (element order) differ
        # in the last bits, which moves every element by ~1e-16 of the update: an element
        # that nearly cancels is held to the tensor's scale
        scale = max(1.0, float(np.max(np.abs(want_arr), initial=0.0))) if norms else 1e-288
        np.testing.assert_allclose(got64, want_arr, rtol=1e-12, atol=1e-12 * scale, err_msg=what)
    else:
        tol = 4 * STEPS * EPS32
        scale = max(1.0, float(np.max(np.abs(want_arr), initial=0.0)))
        np.testing.assert_allclose(got64, want_arr, rtol=tol, atol=tol * scale, err_msg=what)


_reference_runs: dict[tuple[str, str, int], tuple] = {}


def inputs(case: Case, dtype: type, size: int) -> tuple[np.random.Generator, np.ndarray]:
    """The param and a generator of the gradients, the same at every SIMD level."""
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{dtype.__name__}/{size}".encode()))
    return rng, rng.standard_normal(size).astype(dtype)


def reference_run(case: Case, dtype: type, size: int) -> tuple:
    """The sampled indices, the reference's params after CHECKED_STEPS and its final state:
    run once per case, dtype and size and shared by the levels (the pure-Python loop is most
    of this test's time)."""
    key = (case.id, dtype.__name__, size)
    if key not in _reference_runs:
        rng, param = inputs(case, dtype, size)
        idx = sample(size, np.random.default_rng(size), not case.info.per_tensor_norms)
        ref_param = [float(x) for x in param[idx]]
        ref_state: dict = {}
        params_after = {}
        for step in range(STEPS):
            grad = rng.standard_normal(size).astype(dtype)
            case.reference(ref_param, [float(x) for x in grad[idx]], ref_state, **case.kwargs)
            if step in CHECKED_STEPS:
                params_after[step] = list(ref_param)
        _reference_runs[key] = (idx, params_after, ref_state)
    return _reference_runs[key]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kernel_matches_reference(case: Case, dtype: type, size: int, simd_level: str) -> None:
    if case.info.per_tensor_norms and size > 10007:
        size = 10007  # the reference needs every element; 3 blocks of the norm phase
    norms = case.info.per_tensor_norms
    idx, ref_params, ref_state = reference_run(case, dtype, size)
    rng, param = inputs(case, dtype, size)
    opt = case.make([param])
    for step in range(STEPS):
        opt.step([rng.standard_normal(size).astype(dtype)])
        if step in CHECKED_STEPS:
            check(param[idx], ref_params[step], dtype, f"param after step {step + 1}", norms)
    state = opt.state[param]
    for name, value in ref_state.items():
        if name == "step":
            assert state["step"] == value
        elif state[name].shape == () != param.shape:  # per-param 0-d state, float32 as torch's
            assert float(state[name]) == value, name
        else:
            assert state[name].dtype == dtype
            check(state[name][idx], value, dtype, name, norms)
