"""In place and zero copy: the caller's arrays are updated where they are, views see the
update, the state arrays are the optimizer's own, and gradients are only read."""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import CASES, Case

import optikern
from optikern import functional

pytestmark = pytest.mark.smoke  # the quick subset: python -m pytest -m smoke


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_views_see_the_update_and_arrays_are_not_rebound(case: Case) -> None:
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((6, 7)), rng.standard_normal(5).astype(np.float32)]
    ids = [id(p) for p in params]
    views = [
        params[0][2:4],
        params[0].reshape(42),
        params[1][::2],
        np.frombuffer(params[1].data, dtype=np.float32),
    ]
    before = [v.copy() for v in views]
    grads = [rng.standard_normal(p.shape).astype(p.dtype) for p in params]
    grad_copies = [g.copy() for g in grads]
    opt = case.make(params)
    opt.step(grads)
    assert [id(p) for p in opt.param_groups[0]["params"]] == ids
    for view, old in zip(views, before):
        assert not np.array_equal(view, old)  # every element moved (random gradients)
    np.testing.assert_array_equal(views[1].reshape(6, 7), params[0])
    for g, c in zip(grads, grad_copies):
        assert np.array_equal(g, c)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_state_arrays_belong_to_the_optimizer(case: Case) -> None:
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((3, 5)), rng.standard_normal(4)]
    grads = [rng.standard_normal(p.shape) for p in params]
    opt = case.make(params)
    opt.step(grads)
    for p in params:
        for name, value in opt.state[p].items():
            if name == "step":
                assert value == 1
                continue
            if name in case.info.scalar_state:  # 0-d, torch's default scalar dtype
                assert value.shape == () and value.dtype == np.float32
            else:
                shape = functional.state_shape(opt._kernel, name, p.shape)  # Adafactor: factored
                assert value.shape == shape and value.dtype == p.dtype
            assert value.flags.c_contiguous and value.flags.writeable and value.flags.owndata
            for other in params + grads:
                assert not np.shares_memory(value, other)


def test_zero_size_zero_dim_and_mixed_dtypes() -> None:
    scalar = np.array(1.0)
    empty = np.zeros((0, 3), dtype=np.float32)
    single = np.ones(1, dtype=np.float32)
    opt = optikern.Adam([scalar, empty, single], lr=0.1)
    opt.step([np.array(1.0), np.zeros((0, 3), np.float32), np.ones(1, np.float32)])
    assert scalar.shape == () and scalar < 1.0
    assert single[0] < 1.0 and single.dtype == np.float32
    assert opt.state[empty]["exp_avg"].shape == (0, 3)


def test_functional_updates_callers_state_arrays() -> None:
    from optikern import functional

    p, g = np.ones(10), np.full(10, 0.5)
    m, v = np.zeros(10), np.zeros(10)
    m_id, v_id = id(m), id(v)
    functional.adam([p], [g], [m], [v], step=1, lr=0.1)
    assert id(m) == m_id and id(v) == v_id
    assert np.allclose(m, 0.05) and np.all(v > 0) and np.all(p < 1)
