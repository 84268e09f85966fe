"""Adafactor's factored state (the table's tests see vectors): matrices and batches of them
against the pure-Python reference on every SIMD level, float32 and float64; every level and
thread count bit-identical; torch's state shapes; refusals before anything is written.

Shapes cover one row and one column, vector tails along a row, several row blocks (64 rows)
and column blocks (4096 columns) of the deterministic sums, and a batch of matrices. The
tolerances are those of test_reference_parity (float64: the sums are added in another order,
so 1e-12 of the tensor's scale; float32: 4 N eps).
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import ADAFACTOR

import optikern
from optikern import functional, reference

SHAPES = [(1, 1), (3, 5), (7, 33), (2, 3, 17), (130, 9), (2, 4200), (1, 2, 1, 700)]
STEPS = 5
EPS32 = float(np.finfo(np.float32).eps)
CONFIGS = [dict(c.kwargs) for c in ADAFACTOR.cases]


def check(got: np.ndarray, want: list[float], dtype: type, what: str) -> None:
    want_arr = np.array(want, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(want_arr), initial=0.0)))
    tol = 1e-12 if dtype == np.float64 else 4 * STEPS * EPS32
    np.testing.assert_allclose(
        got.astype(np.float64).ravel(), want_arr, rtol=tol, atol=tol * scale, err_msg=what
    )


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_matrices_match_reference(
    kwargs: dict, dtype: type, shape: tuple, simd_level: str, rng: np.random.Generator
) -> None:
    param = rng.standard_normal(shape).astype(dtype)
    ref_param = param.ravel().astype(np.float64).tolist()
    ref_state: dict = {}
    opt = optikern.Adafactor([param], **kwargs)
    for step in range(STEPS):
        grad = rng.standard_normal(shape).astype(dtype)
        opt.step([grad])
        ref_grad = grad.ravel().astype(np.float64).tolist()
        reference.adafactor_step(ref_param, ref_grad, ref_state, shape=shape, **kwargs)
        check(param, ref_param, dtype, f"param after step {step + 1}")
    state = opt.state[param]
    assert state["step"] == STEPS and "variance" not in state
    assert state["row_var"].shape == (*shape[:-1], 1)
    assert state["col_var"].shape == (*shape[:-2], 1, shape[-1])
    check(state["row_var"], ref_state["row_var"], dtype, "row_var")
    check(state["col_var"], ref_state["col_var"], dtype, "col_var")


def run(dtype: type, level: str, threads: int) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    shapes = [(2, 130, 1100), (3, 5), (70000,), (1, 1), ()]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    optikern.set_num_threads(threads)
    try:
        with optikern.simd_level(level):
            opt = optikern.Adafactor(params, lr=0.05, weight_decay=0.1)
            for _ in range(3):
                opt.step([rng.standard_normal(s).astype(dtype) for s in shapes])
    finally:
        optikern.set_num_threads(0)
    return params + [a for p in params for a in opt.state[p].values() if isinstance(a, np.ndarray)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_levels_and_threads_bit_identical(dtype: type) -> None:
    expected = run(dtype, "baseline", 1)
    for level in optikern.available_simd_levels():
        for threads in (1, 2, 3):
            got = run(dtype, level, threads)
            for e, g in zip(expected, got):
                assert e.tobytes() == g.tobytes(), f"{level}, {threads} threads"


def test_functional_takes_torchs_state_lists() -> None:
    rng = np.random.default_rng(5)
    params = [rng.standard_normal((4, 6)), rng.standard_normal(5)]
    copies = [p.copy() for p in params]
    row_vars = [np.zeros((4, 1)), None]
    col_vars = [np.zeros((1, 6)), None]
    variances = [None, np.zeros(5)]
    opt = optikern.Adafactor(copies, lr=0.05)
    for step in range(1, 4):
        grads = [rng.standard_normal(p.shape) for p in params]
        functional.adafactor(params, grads, row_vars, col_vars, variances, step=step, lr=0.05)
        opt.step(grads)
    for p, c in zip(params, copies):
        assert p.tobytes() == c.tobytes()
    assert row_vars[0].tobytes() == opt.state[copies[0]]["row_var"].tobytes()
    assert variances[1].tobytes() == opt.state[copies[1]]["variance"].tobytes()


BAD_STATE = [
    ("row_var of a vector's shape", lambda p: [np.zeros(4), None], "row_vars", r"row_vars\[0\]"),
    ("row_var shape", lambda p: [np.zeros((4, 6)), None], "row_vars", r"expected shape \(4, 1\)"),
    ("col_var dtype", lambda p: [np.zeros((1, 6), np.float32), None], "col_vars", "dtype"),
    ("variance missing", lambda p: [None, None], "variances", r"variances\[1\]: required"),
    ("variance for a matrix", lambda p: [np.zeros((4, 6)), np.zeros(5)], "variances", "None"),
    ("col_var overlaps param", lambda p: [p[0][:1], None], "col_vars", "overlap"),
]


@pytest.mark.parametrize(
    ("what", "make", "slot", "message"), BAD_STATE, ids=[b[0] for b in BAD_STATE]
)
def test_functional_refuses_bad_state_before_writing(what, make, slot, message) -> None:
    rng = np.random.default_rng(6)
    params = [rng.standard_normal((4, 6)), rng.standard_normal(5)]
    grads = [rng.standard_normal(p.shape) for p in params]
    states = {
        "row_vars": [np.zeros((4, 1)), None],
        "col_vars": [np.zeros((1, 6)), None],
        "variances": [None, np.zeros(5)],
    }
    states[slot] = make(params)
    before = [p.copy() for p in params]
    with pytest.raises((TypeError, ValueError), match=message):
        functional.adafactor(params, grads, *states.values(), step=1)
    for p, b in zip(params, before):
        assert p.tobytes() == b.tobytes()


def test_class_refuses_replaced_state_of_wrong_shape_and_transposed_params() -> None:
    p = np.ones((3, 4))
    opt = optikern.Adafactor([p])
    opt.step([np.ones((3, 4))])
    opt.state[p]["row_var"] = np.zeros((1, 4))
    before = p.copy()
    with pytest.raises(ValueError, match=r"state\[0\]\['row_var'\]: expected shape \(3, 1\)"):
        opt.step([np.ones((3, 4))])
    assert p.tobytes() == before.tobytes()
    with pytest.raises(ValueError, match=r"params\[0\]: expected a C-contiguous array"):
        optikern.Adafactor([np.ones((4, 3)).T]).step([np.ones((3, 4))])


def test_state_dict_round_trip_keeps_factored_shapes() -> None:
    rng = np.random.default_rng(8)
    params = [rng.standard_normal((2, 3, 4)), rng.standard_normal(3)]
    opt = optikern.Adafactor(params, lr=0.05)
    opt.step([rng.standard_normal(p.shape) for p in params])
    twin_params = [p.copy() for p in params]
    twin = optikern.Adafactor(twin_params, lr=0.05)
    twin.load_state_dict(opt.state_dict())
    assert twin.state[twin_params[0]]["col_var"].shape == (2, 1, 4)
    grads = [rng.standard_normal(p.shape) for p in params]
    opt.step(grads)
    twin.step(grads)
    for p, q in zip(params, twin_params):
        assert p.tobytes() == q.tobytes()
    bad = opt.state_dict()
    bad["state"][0]["row_var"] = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"state\[0\]\['row_var'\] has shape \(2, 3, 4\)"):
        twin.load_state_dict(bad)


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
@pytest.mark.parametrize("shape", [(3, 37, 70), (130,)])  # factored batches; one vector
def test_16bit_params_take_the_float32_update_of_their_masters(
    simd_level: str, shape: tuple[int, ...], rounding: str
) -> None:
    """float16 params: the masters and the factored state equal a float32 Adafactor fed the
    same (unscaled) gradients bit for bit, and the params are the masters rounded."""
    rng = np.random.default_rng(4)
    low = rng.standard_normal(shape).astype(np.float16)
    master = low.astype(np.float32)
    opt16 = optikern.Adafactor([low], rounding=rounding, seed=2)
    opt32 = optikern.Adafactor([master])
    for _ in range(3):
        grad = (rng.standard_normal(shape) * 256).astype(np.float16)
        opt16.step([grad], grad_scale=256.0)
        opt32.step([grad.astype(np.float32) / np.float32(256.0)])
    state16, state32 = opt16.state[low], opt32.state[master]
    np.testing.assert_array_equal(state16["master_param"], master)
    for key, value in state32.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(state16[key], value, err_msg=key)
    if rounding == "nearest":
        np.testing.assert_array_equal(low, master.astype(np.float16))
    else:  # each param one of the two float16 values around its master
        below = np.nextafter(master.astype(np.float16), np.float16(-np.inf))
        above = np.nextafter(master.astype(np.float16), np.float16(np.inf))
        assert ((low >= below) & (low <= above)).all()


@pytest.mark.parametrize("float32_grads", [False, True])
def test_functional_16bit_params_are_the_class_update(float32_grads: bool) -> None:
    """functional.adafactor over float16 params and float32 masters writes the class's bytes
    (stochastic rounding, stream given as the step number, as the class uses), and refuses
    mismatched arrays before writing."""
    rng = np.random.default_rng(8)
    shape = (3, 37, 70)
    low = rng.standard_normal(shape).astype(np.float16)
    master = low.astype(np.float32)
    twin = low.copy()
    opt = optikern.Adafactor([twin], rounding="stochastic", seed=4)
    row, col = np.zeros((3, 37, 1), np.float32), np.zeros((3, 1, 70), np.float32)
    kwargs = dict(lowp_params=[low], grad_scale=64.0, rounding="stochastic", seed=4)
    for step in range(1, 4):
        grad = (rng.standard_normal(shape) * 64).astype(np.float32 if float32_grads else np.float16)
        functional.adafactor(
            [master], [grad], [row], [col], [None], step=step, stream=step, **kwargs
        )
        opt.step([grad], grad_scale=64.0)
    state = opt.state[twin]
    np.testing.assert_array_equal(low.view(np.uint16), twin.view(np.uint16))
    np.testing.assert_array_equal(master, state["master_param"])
    np.testing.assert_array_equal(row, state["row_var"])
    np.testing.assert_array_equal(col, state["col_var"])
    before = [a.copy() for a in (low, master, row, col)]
    grad = np.ones(shape, np.float16)
    with pytest.raises(TypeError, match=r"params\[0\]: expected dtype float32"):
        functional.adafactor(
            [master.astype(np.float64)], [grad], [row], [col], [None], step=4, **kwargs
        )
    with pytest.raises(TypeError, match=r"row_vars\[0\]: expected dtype float32"):
        functional.adafactor(
            [master], [grad], [row.astype(np.float64)], [col], [None], step=4, **kwargs
        )
    inside_master = master.reshape(-1)[: 3 * 37].reshape(3, 37, 1)
    with pytest.raises(ValueError, match="overlap"):
        functional.adafactor([master], [grad], [inside_master], [col], [None], step=4, **kwargs)
    for now, then in zip((low, master, row, col), before):
        np.testing.assert_array_equal(now, then)
