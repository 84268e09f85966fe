"""``optikern.functional`` against the optimizer classes, for every case of the table: the same
kernel behind both, so params and state agree bit for bit after several steps. (The classes are
held to the pure-Python reference; this holds the functional API's own option plumbing.)"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from optim_db import CASES, Case

from optikern import functional

STATE_ARGS = {  # the functional's state arguments, in its positional order
    "SGD": ["momentum_buffer"],
    "Adagrad": ["sum"],
    "RMSprop": ["square_avg", "grad_avg", "momentum_buffer"],
    "Adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "AdamW": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "Adamax": ["exp_avg", "exp_inf"],
    "RAdam": ["exp_avg", "exp_avg_sq"],
    "Adadelta": ["square_avg", "acc_delta"],
    "Lion": ["exp_avg"],
    "LAMB": ["exp_avg", "exp_avg_sq"],
    "NAdam": ["exp_avg", "exp_avg_sq", "mu_product"],
    "Rprop": ["prev", "step_size"],
    "ASGD": ["ax", "mu", "eta"],
    "Adafactor": ["row_var", "col_var", "variance"],
}
PAIRS = {
    "betas": ("beta1", "beta2"),
    "etas": ("etaminus", "etaplus"),
    "step_sizes": ("step_size_min", "step_size_max"),
    "eps": ("eps1", "eps2"),  # Adafactor's pair
}


def functional_kwargs(case: Case) -> dict[str, Any]:
    """The class's options as the functional's keywords (pairs split; options that only set
    the initial state, Adagrad's initial accumulator and Rprop's lr, given through the state)."""
    kwargs = dict(case.kwargs)
    for pair, names in PAIRS.items():
        if isinstance(kwargs.get(pair), tuple):
            kwargs.update(zip(names, kwargs.pop(pair)))
    takes = inspect.signature(case.info.functional).parameters
    return {key: value for key, value in kwargs.items() if key in takes}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_functional_matches_the_class(case: Case, dtype: type) -> None:
    rng = np.random.default_rng(0)
    shapes = [(7, 3), (33,)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    copies = [p.copy() for p in params]
    opt = case.make(copies)
    fill = functional.STATE_FILL[opt._kernel](opt.param_groups[0])  # initial values
    scalar = functional.SCALAR_STATE_NAMES[opt._kernel]
    states = {
        name: [
            np.array(fill[name], np.float32)
            if name in scalar
            else None
            if functional.state_shape(opt._kernel, name, p.shape) is None
            else np.full(
                functional.state_shape(opt._kernel, name, p.shape), fill.get(name, 0.0), p.dtype
            )
            for p in params
        ]
        for name in STATE_ARGS[case.optimizer]
    }
    kwargs = functional_kwargs(case)
    for step in range(1, 5):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        extra: dict[str, Any] = {"first_step": step == 1} if case.optimizer == "SGD" else {}
        if case.optimizer in (
            "Adagrad",
            "Adam",
            "AdamW",
            "Adamax",
            "RAdam",
            "LAMB",
            "NAdam",
            "ASGD",
            "Adafactor",
        ):
            extra["step"] = step
        case.info.functional(
            params, grads, *(states[name] for name in STATE_ARGS[case.optimizer]), **kwargs, **extra
        )
        opt.step(grads)
    for p, c in zip(params, copies):
        assert p.tobytes() == c.tobytes()
        for name, value in opt.state[c].items():
            if isinstance(value, np.ndarray):
                index = next(i for i, q in enumerate(copies) if q is c)
                assert states[name][index].tobytes() == value.tobytes(), name
