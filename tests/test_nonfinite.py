"""The non-finite policy of every optimizer: propagate (torch), skip, raise."""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import NAMES, OPTIM_DB, OptimizerInfo

import optikern

ALL = pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)


def setup(info: OptimizerInfo, policy: str, groups: int) -> tuple:
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(n) for n in (5, 40000, 3)]
    if groups == 1:
        spec = params
    else:
        spec = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    opt = info.make(spec, nonfinite=policy, **info.representative)
    opt.step([rng.standard_normal(p.shape) for p in params])
    return opt, params, rng


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@ALL
def test_skip_changes_nothing_and_counts(info: OptimizerInfo, bad: float, groups: int) -> None:
    opt, params, rng = setup(info, "skip", groups)
    before = [p.copy() for p in params]
    state = opt.state_dict()
    grads = [rng.standard_normal(p.shape) for p in params]
    grads[1][12345] = bad
    opt.step(grads)
    assert opt.skipped_steps == 1 and opt.found_nonfinite
    for b, p in zip(before, params):
        assert np.array_equal(b, p)
    after = opt.state_dict()
    for index, entries in state["state"].items():
        for key, value in entries.items():
            assert np.array_equal(value, after["state"][index][key])
    grads[1][12345] = 0.0
    opt.step(grads)  # a finite step afterwards goes through
    assert not opt.found_nonfinite and opt.skipped_steps == 1
    assert not np.array_equal(before[1], params[1])


@pytest.mark.parametrize("groups", [1, 2])
@ALL
def test_raise_names_the_gradient_and_changes_nothing(info: OptimizerInfo, groups: int) -> None:
    opt, params, rng = setup(info, "raise", groups)
    before = [p.copy() for p in params]
    grads = [rng.standard_normal(p.shape) for p in params]
    grads[2][0] = np.nan
    with pytest.raises(optikern.NonFiniteError, match=r"grads\[2\]"):
        opt.step(grads)
    for b, p in zip(before, params):
        assert np.array_equal(b, p)


@ALL
def test_propagate_is_torch_behaviour(info: OptimizerInfo) -> None:
    opt, params, rng = setup(info, "propagate", 1)
    grads = [rng.standard_normal(p.shape) for p in params]
    grads[0][1] = np.nan
    opt.step(grads)
    # the NaN reaches the param, or only its state where the rule drops it (Lion's sign(NaN)
    # is 0, as torch.sign's)
    held = [params[0]] + [v for v in opt.state[params[0]].values() if isinstance(v, np.ndarray)]
    assert any(np.isnan(a[1]) for a in held)
    assert np.isfinite(params[1]).all()


def test_bad_input_wins_over_the_scan() -> None:
    p = np.zeros(3)
    opt = optikern.Adam([p], nonfinite="skip")
    with pytest.raises(ValueError, match=r"grads\[0\]: expected shape"):
        opt.step([np.full(4, np.nan)])
    with pytest.raises(ValueError, match="nonfinite"):
        optikern.Adam([p], nonfinite="ignore")


@ALL
def test_propagate_leaves_nan_where_the_reference_does(info: OptimizerInfo) -> None:
    """After a NaN gradient element, the param and every state array hold NaN exactly where
    the reference's do (e.g. Rprop's step size turns NaN, as torch's does)."""
    rng = np.random.default_rng(2)
    param = rng.standard_normal(6)
    ref_param, ref_state = param.tolist(), {}
    opt = info.make([param], **info.representative)
    for step in range(2):
        grad = rng.standard_normal(6)
        grad[3] = np.nan if step == 1 else grad[3]
        opt.step([grad])
        info.reference(ref_param, grad.tolist(), ref_state, **info.representative)
    assert np.isnan(param).tolist() == [np.isnan(x) for x in ref_param]
    for name, value in ref_state.items():
        if isinstance(value, list):
            assert np.isnan(opt.state[param][name]).tolist() == np.isnan(value).tolist(), name
