"""Property-based tests (hypothesis) over hyperparameter ranges and shapes: the kernels agree
with the reference in float64 for any valid options, and refuse invalid ones without writing."""

from __future__ import annotations

import numpy as np
import pytest
from cases import REFERENCE

import optikern
from optikern import reference

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

OPTIONS = {
    "SGD": st.fixed_dictionaries(
        {
            "lr": positive,
            "momentum": unit,
            "dampening": small,
            "weight_decay": small,
            "maximize": flags,
            "decoupled_weight_decay": flags,
            "lr_in_momentum": flags,
        }
    ),
    "Adagrad": st.fixed_dictionaries(
        {
            "lr": positive,
            "lr_decay": small,
            "weight_decay": small,
            "initial_accumulator_value": small,
            "eps": positive,
            "maximize": flags,
            "decoupled_weight_decay": flags,
            "eps_inside_sqrt": flags,
        }
    ),
    "RMSprop": st.fixed_dictionaries(
        {
            "lr": positive,
            "alpha": unit,
            "eps": positive,
            "weight_decay": small,
            "momentum": unit,
            "centered": flags,
            "maximize": flags,
            "decoupled_weight_decay": flags,
            "lr_in_momentum": flags,
            "eps_inside_sqrt": flags,
        }
    ),
    "Adam": st.fixed_dictionaries(
        {
            "lr": positive,
            "betas": st.tuples(unit, unit),
            "eps": positive,
            "weight_decay": small,
            "amsgrad": flags,
            "maximize": flags,
            "decoupled_weight_decay": flags,
        }
    ),
}
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9)


@pytest.mark.parametrize("name", list(OPTIONS))
@given(data=st.data())
def test_any_valid_options_match_reference(name: str, data: st.DataObject) -> None:
    options = data.draw(OPTIONS[name])
    if name == "SGD" and data.draw(flags) and options["momentum"] > 0:
        options = {**options, "nesterov": True, "dampening": 0.0}
    shape = data.draw(shapes)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(shape)
    ref_param = param.ravel().tolist()
    ref_state: dict = {}
    opt = getattr(optikern, name)([param], **options)
    ref = getattr(reference, REFERENCE[name])
    for _ in range(3):
        grad = rng.standard_normal(shape)
        opt.step([grad])
        ref(ref_param, grad.ravel().tolist(), ref_state, **options)
    np.testing.assert_allclose(param.ravel(), ref_param, rtol=1e-12, atol=1e-300)


bad_values = st.sampled_from([float("nan"), -1.0, -1e-9, float("-inf")])


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("SGD", "lr"),
        ("SGD", "momentum"),
        ("Adagrad", "eps"),
        ("Adagrad", "lr_decay"),
        ("RMSprop", "alpha"),
        ("RMSprop", "weight_decay"),
        ("Adam", "lr"),
        ("Adam", "eps"),
    ],
)
@given(value=bad_values)
def test_invalid_options_are_refused_without_writing(name: str, option: str, value: float) -> None:
    param = np.ones(5)
    with pytest.raises(ValueError, match="Invalid"):
        getattr(optikern, name)([param], **{option: value})
    opt = getattr(optikern, name)([param])
    opt.step([np.ones(5)])
    before = param.copy()
    state = opt.state_dict()
    opt.param_groups[0][option] = value
    with pytest.raises(ValueError, match="Invalid"):
        opt.step([np.ones(5)])
    assert np.array_equal(param, before)
    for key, entry in state["state"][0].items():
        assert np.array_equal(entry, opt.state[param][key])
