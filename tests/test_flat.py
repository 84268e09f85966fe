"""optikern.flatten: one arena, views with the original shapes, same training results."""

from __future__ import annotations

import numpy as np
import pytest

import optikern


def test_views_share_the_arena_and_keep_shapes_and_values() -> None:
    rng = np.random.default_rng(0)
    arrays = [
        rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,), (), (0,), (2, 2, 2)]
    ]
    flat = optikern.flatten(arrays)
    assert flat.arena.ndim == 1 and flat.arena.size == sum(a.size for a in arrays)
    for a, v in zip(arrays, flat.views):
        assert v.shape == a.shape and v.dtype == a.dtype
        assert np.array_equal(v, a)
        assert v.size == 0 or np.shares_memory(v, flat.arena)
        assert v.flags.c_contiguous and v.flags.writeable
    flat.views[1][...] = 7.0
    assert np.count_nonzero(flat.arena == 7.0) == 5


def test_training_on_the_arena_equals_training_each_array() -> None:
    rng = np.random.default_rng(1)
    shapes = [(7, 3), (33,), (1,), (4, 5, 6)]
    params = [rng.standard_normal(s) for s in shapes]
    separate = [p.copy() for p in params]
    flat = optikern.flatten(params)
    grads = optikern.flatten([np.zeros(s) for s in shapes])
    opt_flat = optikern.Adam([flat.arena], lr=0.01, weight_decay=0.1)
    opt_sep = optikern.Adam(separate, lr=0.01, weight_decay=0.1)
    for _ in range(5):
        step_grads = [rng.standard_normal(s) for s in shapes]
        for view, g in zip(grads.views, step_grads):
            view[...] = g
        opt_flat.step([grads.arena])
        opt_sep.step(step_grads)
    for view, p in zip(flat.views, separate):
        assert view.tobytes() == p.tobytes()


def test_dtype_rules() -> None:
    assert optikern.flatten([np.ones(2, np.float32)], dtype=np.float64).arena.dtype == np.float64
    with pytest.raises(TypeError, match="one dtype"):
        optikern.flatten([np.ones(2, np.float32), np.ones(2, np.float64)])
    with pytest.raises(TypeError, match="float32 or float64"):
        optikern.flatten([np.ones(2, np.int64)])
    with pytest.raises(TypeError, match="arrays\\[1\\]"):
        optikern.flatten([np.ones(2), [1.0, 2.0]])
    with pytest.raises(TypeError, match=r"single numpy\.ndarray"):
        optikern.flatten(np.ones(3))
