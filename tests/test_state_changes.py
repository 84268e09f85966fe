"""What a step does after the user changed what an optimizer was built from: a state array
replaced (used, after the usual checks), a step count edited (the bias correction follows it),
params added to a group, options that need new state, and failed steps that create none."""

from __future__ import annotations

import numpy as np
import pytest

import optikern
from optikern import reference


def adam_reference(p: np.ndarray, g: np.ndarray, state: dict, **options: float) -> np.ndarray:
    """One Adam step of the pure-Python reference from the given state (float64)."""
    param = [float(x) for x in p.ravel()]
    ref_state = {
        "step": state["step"],
        "exp_avg": [float(x) for x in state["exp_avg"].ravel()],
        "exp_avg_sq": [float(x) for x in state["exp_avg_sq"].ravel()],
    }
    reference.adam_step(param, [float(x) for x in g.ravel()], ref_state, **options)
    return np.array(param).reshape(p.shape)


def test_replaced_state_array_is_used_from_the_next_step() -> None:
    rng = np.random.default_rng(0)
    p = rng.standard_normal(50)
    opt = optikern.Adam([p], lr=0.1)
    opt.step([rng.standard_normal(50)])
    new_avg = rng.standard_normal(50)
    opt.state[p]["exp_avg"] = new_avg
    g = rng.standard_normal(50)
    expected = adam_reference(p, g, {**opt.state[p], "exp_avg": new_avg.copy()}, lr=0.1)
    opt.step([g])
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)
    assert opt.state[p]["exp_avg"] is new_avg  # updated in place, not copied


@pytest.mark.parametrize(
    ("replacement", "error", "message"),
    [
        (np.zeros(50, np.float32), TypeError, r"state\[0\]\['exp_avg'\]: expected dtype float64"),
        (np.zeros(49), ValueError, r"state\[0\]\['exp_avg'\]: expected shape"),
        (np.zeros(100)[::2], ValueError, r"state\[0\]\['exp_avg'\]: expected a C-contiguous"),
        ("shared", ValueError, r"state\[0\]\['exp_avg'\] and .*overlap|overlap"),
    ],
    ids=["dtype", "shape", "strided", "aliasing"],
)
def test_bad_replacement_is_refused_and_nothing_changes(
    replacement: object, error: type, message: str
) -> None:
    rng = np.random.default_rng(1)
    p = rng.standard_normal(50)
    opt = optikern.Adam([p], lr=0.1)
    opt.step([rng.standard_normal(50)])
    if isinstance(replacement, str):  # the second moment's own memory
        replacement = opt.state[p]["exp_avg_sq"]
    opt.state[p]["exp_avg"] = replacement
    before = (p.copy(), opt.state[p]["exp_avg_sq"].copy(), opt.state[p]["step"])
    with pytest.raises(error, match=message):
        opt.step([rng.standard_normal(50)])
    assert np.array_equal(p, before[0])
    assert np.array_equal(opt.state[p]["exp_avg_sq"], before[1])
    assert opt.state[p]["step"] == before[2]


def test_edited_step_count_sets_the_bias_correction() -> None:
    rng = np.random.default_rng(2)
    params = [rng.standard_normal(20), rng.standard_normal(30)]
    opt = optikern.Adam(params, lr=0.1)
    opt.step([rng.standard_normal(20), rng.standard_normal(30)])
    opt.state[params[1]]["step"] = 40  # resumed at another count than params[0]
    grads = [rng.standard_normal(20), rng.standard_normal(30)]
    expected = [adam_reference(p, g, opt.state[p], lr=0.1) for p, g in zip(params, grads)]
    opt.step(grads)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-12, atol=1e-15)
    assert [opt.state[p]["step"] for p in params] == [2, 41]


def test_param_appended_to_a_group_gets_state() -> None:
    a, b = np.ones(4), np.ones(6)
    opt = optikern.SGD([a], lr=0.5, momentum=0.9)
    opt.step([np.ones(4)])
    opt.param_groups[0]["params"].append(b)
    opt.step([np.ones(4), np.ones(6)])
    assert np.array_equal(b, np.full(6, 0.5))  # first step: the buffer is the gradient
    assert np.array_equal(opt.state[b]["momentum_buffer"], np.ones(6))
    assert np.allclose(a, 1 - 0.5 - 0.5 * 1.9)


def test_options_that_need_new_state_create_it() -> None:
    p = np.ones(5)
    opt = optikern.Adam([p], lr=0.1)
    opt.step([np.ones(5)])
    assert "max_exp_avg_sq" not in opt.state[p]
    opt.param_groups[0]["amsgrad"] = True
    opt.step([np.ones(5)])
    assert np.array_equal(opt.state[p]["max_exp_avg_sq"], opt.state[p]["exp_avg_sq"])


@pytest.mark.parametrize("groups", [1, 2])
def test_failed_first_step_creates_no_state(groups: int) -> None:
    a, b = np.ones(4), np.ones(6)
    spec: list = [a, b] if groups == 1 else [{"params": [a]}, {"params": [b]}]
    opt = optikern.Adam(spec)
    with pytest.raises(TypeError, match=r"grads\[1\]"):
        opt.step([np.ones(4), np.ones(6, np.float32)])
    assert len(opt.state) == 0
    opt.step([np.ones(4), np.ones(6)])
    assert opt.state[a]["step"] == opt.state[b]["step"] == 1


def test_state_dict_replaced_wholesale_is_used() -> None:
    rng = np.random.default_rng(3)
    p = rng.standard_normal(8)
    opt = optikern.RMSprop([p], lr=0.01, centered=True)
    opt.step([rng.standard_normal(8)])
    fresh = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state[p].items()}
    fresh["square_avg"][:] = 1.0
    opt.state[p] = fresh
    opt.step([np.zeros(8)])
    assert np.allclose(opt.state[p]["square_avg"], 0.99)
