"""Dense arrays that are not C-contiguous (Fortran order, transposes, channels-last) are updated
in place with zero copies when param, gradient and state share strides: an elementwise update
does not care about element order. Results equal those of C-contiguous copies bit for bit
(up to the rounding of a norm's sum, which follows memory order, for LAMB);
mismatched layouts and arrays with gaps are refused, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import CASES, Case

import optikern
from optikern import functional

LAYOUTS = {
    "fortran": lambda a: np.asfortranarray(a),
    "transposed": lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)).transpose(1, 2, 0),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dense_layouts_train_like_c_order(case: Case, layout: str) -> None:
    rng = np.random.default_rng(0)
    shape = (4, 5, 3)
    make = LAYOUTS[layout]
    params = [make(rng.standard_normal(shape)), rng.standard_normal(7)]
    copies = [np.ascontiguousarray(p) for p in params]
    assert not params[0].flags.c_contiguous
    address = params[0].__array_interface__["data"][0]
    opt, twin = case.make(params), case.make(copies)
    if case.info.factored:  # rows and columns are the last two dimensions in memory
        with pytest.raises(ValueError, match=r"params\[0\]: expected a C-contiguous array"):
            opt.step([make(rng.standard_normal(shape)), rng.standard_normal(7)])
        return
    for _ in range(4):
        grads = [rng.standard_normal(shape), rng.standard_normal(7)]
        opt.step([make(grads[0]), grads[1]])
        twin.step(grads)
    assert params[0].__array_interface__["data"][0] == address  # updated in place
    assert params[0].tobytes(order="A") != copies[0].tobytes(order="A") or layout != "fortran"
    # per-tensor norms are summed in memory order: equal up to the rounding of that sum
    same = (
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15))
        if case.info.per_tensor_norms
        else np.testing.assert_array_equal
    )
    same(params[0], copies[0])
    for key, value in opt.state[params[0]].items():
        if isinstance(value, np.ndarray):
            if key not in case.info.scalar_state:
                assert value.strides == params[0].strides, key  # state shares the layout
            same(value, twin.state[copies[0]][key])
    restored = case.make([make(np.zeros(shape)), np.zeros(7)])
    restored.load_state_dict(opt.state_dict())
    first = restored.param_groups[0]["params"][0]
    for key, value in restored.state[first].items():
        if isinstance(value, np.ndarray) and key not in case.info.scalar_state:
            assert value.strides == first.strides


def test_functional_takes_fortran_arrays() -> None:
    rng = np.random.default_rng(1)
    p = np.asfortranarray(rng.standard_normal((6, 4)))
    c = np.ascontiguousarray(p)
    g = rng.standard_normal((6, 4))
    m, v = np.zeros_like(p), np.zeros_like(p)  # zeros_like keeps the layout
    mc, vc = np.zeros_like(c), np.zeros_like(c)
    functional.adam([p], [np.asfortranarray(g)], [m], [v], step=1, lr=0.1)
    functional.adam([c], [g], [mc], [vc], step=1, lr=0.1)
    np.testing.assert_array_equal(p, c)
    np.testing.assert_array_equal(m, mc)


@pytest.mark.parametrize(
    ("make_grad", "message"),
    [
        (lambda g: np.ascontiguousarray(g), r"grads\[0\]: expected the memory layout"),
        (lambda g: np.asfortranarray(np.repeat(g, 2, axis=0))[::2], r"grads\[0\]: expected a C-"),
    ],
    ids=["other layout", "gaps"],
)
def test_mismatched_or_gapped_layouts_are_refused(make_grad, message) -> None:
    p = np.asfortranarray(np.ones((6, 4)))
    opt = optikern.Adam([p])
    with pytest.raises(ValueError, match=message):
        opt.step([make_grad(np.ones((6, 4)))])
    assert np.all(p == 1) and len(opt.state) == 0
    with pytest.raises(
        ValueError, match=r"params\[0\]: expected a C-contiguous or otherwise dense"
    ):
        optikern.Adam([np.ones((6, 8))[:, ::2]])
