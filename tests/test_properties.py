"""Property-based tests (hypothesis) over hyperparameter ranges and shapes: the kernels agree
with the reference in float64 for any valid options, and refuse invalid ones without writing."""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import NAMES, OPTIM_DB, OptimizerInfo

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.load_profile("ci")

unit = st.floats(0.0, 0.999)
small = st.floats(0.0, 0.5)
positive = st.floats(1e-8, 1.0)
flags = st.booleans()

#: A strategy for each kind of valid value in optim_db (nesterov is drawn with its conditions
#: in the test).
KINDS = {
    "positive": positive,
    "unit": unit,
    "small": small,
    "flag": flags,
    "betas": st.tuples(unit, unit),
    "nesterov": st.just(False),
    "etas": st.tuples(st.floats(0.01, 0.99), st.floats(1.01, 3.0)),
    "step_sizes": st.tuples(st.floats(1e-8, 1e-3), st.floats(1e-3, 100.0)),
    "decay": st.floats(-1.0, 0.0),
    "clip": st.floats(1.0, 3.0),
    "eps_pair": st.tuples(st.none() | positive, positive),
}
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9)


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
@given(data=st.data())
def test_any_valid_options_match_reference(info: OptimizerInfo, data: st.DataObject) -> None:
    options = data.draw(st.fixed_dictionaries({k: KINDS[v] for k, v in info.options.items()}))
    nesterov = [k for k, kind in info.options.items() if kind == "nesterov"]
    if nesterov and options["momentum"] > 0 and data.draw(flags):
        options = {**options, nesterov[0]: True, "dampening": 0.0}
    shape = data.draw(shapes)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(shape)
    ref_param = param.ravel().tolist()
    ref_state: dict = {}
    opt = info.make([param], **options)
    ref = info.reference_on(shape)
    for _ in range(3):
        grad = rng.standard_normal(shape)
        opt.step([grad])
        ref(ref_param, grad.ravel().tolist(), ref_state, **options)
    np.testing.assert_allclose(param.ravel(), ref_param, rtol=1e-12, atol=1e-300)


bad_values = st.sampled_from([float("nan"), -1.0, -1e-9, float("-inf")])
CHECKED = [(info, option) for info in OPTIM_DB for option in info.checked]


@pytest.mark.parametrize(
    ("info", "option"), CHECKED, ids=[f"{info.name}-{option}" for info, option in CHECKED]
)
@given(value=bad_values)
def test_invalid_options_are_refused_without_writing(
    info: OptimizerInfo, option: str, value: float
) -> None:
    param = np.ones(5)
    with pytest.raises(ValueError, match="Invalid"):
        info.make([param], **{option: value})
    opt = info.make([param])
    opt.step([np.ones(5)])
    before = param.copy()
    state = opt.state_dict()
    opt.param_groups[0][option] = value
    with pytest.raises(ValueError, match="Invalid"):
        opt.step([np.ones(5)])
    assert np.array_equal(param, before)
    for key, entry in state["state"][0].items():
        assert np.array_equal(entry, opt.state[param][key])
