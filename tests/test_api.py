"""The public API: torch.optim's constructor signatures and defaults, live param groups,
per-param state with torch's names, add_param_group."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from optim_db import NAMES, OPTIM_DB, OptimizerInfo

import optikern

pytestmark = pytest.mark.smoke  # the quick subset: python -m pytest -m smoke

#: The options every optimizer takes besides its hyperparameters (see optikern.Optimizer).
COMMON_OPTIONS = {"nonfinite", "rounding", "seed", "master_weights"}
# The optimizers of running averages also take these (tests/test_8bit_state.py).
STATE_FORMAT_OPTIONS = {"state_bits", "min_8bit_size"}


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_signature_and_defaults(info: OptimizerInfo) -> None:
    cls = info.cls
    signature = inspect.signature(cls)
    positional = [
        p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    assert positional[0] == "params"
    for option, value in info.torch_defaults.items():
        assert signature.parameters[option].default == value
    assert signature.parameters["maximize"].kind is inspect.Parameter.KEYWORD_ONLY
    opt = cls([np.zeros(2)])
    for option, value in info.torch_defaults.items():
        assert opt.defaults[option] == value
        assert opt.param_groups[0][option] == value


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_the_table_knows_every_option(info: OptimizerInfo) -> None:
    """optim_db describes every hyperparameter, so the property tests draw them all."""
    names = set(inspect.signature(info.cls).parameters) - {"params"} - COMMON_OPTIONS
    names -= STATE_FORMAT_OPTIONS
    assert set(info.options) == names
    assert set(info.representative) <= names
    for kwargs in info.grid:
        assert set(kwargs) <= names


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_positional_order_matches_torch(info: OptimizerInfo) -> None:
    torch = pytest.importorskip("torch")
    import optikern.torch as okt

    ours = list(inspect.signature(info.cls).parameters.values())
    # torch's class, or for one torch lacks, the drop-in (its signature is the reference's)
    theirs_cls = getattr(torch.optim, info.name) if info.in_torch else getattr(okt, info.name)
    theirs = inspect.signature(theirs_cls).parameters
    ours_positional = [p.name for p in ours if p.kind is p.POSITIONAL_OR_KEYWORD]
    theirs_positional = [n for n, p in theirs.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert ours_positional == theirs_positional[: len(ours_positional)]
    for p in ours:
        if p.name in theirs and p.name != "params" and p.name in info.torch_defaults:
            assert theirs[p.name].default == p.default


def test_groups_override_defaults_and_are_live() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(4), rng.standard_normal(3)
    opt = optikern.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    a0 = a.copy()
    opt.step([np.ones(4), np.ones(3)])
    np.testing.assert_allclose(a, a0 - 0.1)
    opt.param_groups[0]["lr"] = 0.01  # a schedule edits the live dict
    opt.step([np.ones(4), np.ones(3)])
    np.testing.assert_allclose(a, a0 - 0.11)


def test_add_param_group_then_step() -> None:
    a, b = np.ones(3), np.ones(2)
    opt = optikern.Adam([a], lr=0.1)
    opt.step([np.ones(3)])
    opt.add_param_group({"params": b, "lr": 0.2})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    opt.step([np.ones(3), np.ones(2)])
    assert opt.state[a]["step"] == 2 and opt.state[b]["step"] == 1
    np.testing.assert_allclose(b, 1 - 0.2)  # Adam's first step moves by lr


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_state_names_follow_torch(info: OptimizerInfo) -> None:
    p = np.ones(3)
    params = [p, np.ones((2, 3))] if info.factored else [p]  # matrices keep other state
    opt = info.make(params, **info.representative)  # a config keeping every state
    with pytest.raises(KeyError):
        opt.state[p]
    opt.step([np.ones(q.shape) for q in params])
    assert set().union(*(opt.state[q] for q in params)) == info.state_names
    assert ("step" in info.state_names) == info.counts_steps
    assert p in opt.state and len(opt.state) == len(params)


def test_iterables_of_params_are_accepted() -> None:
    params = [np.ones(2), np.ones(3)]
    opt = optikern.RMSprop(iter(params))
    assert opt.param_groups[0]["params"] == params or all(
        x is y for x, y in zip(opt.param_groups[0]["params"], params)
    )


def test_show_config_and_public_names() -> None:
    for name in optikern.__all__:
        assert getattr(optikern, name) is not None
    assert "Adam" in repr(optikern.Adam([np.ones(1)]))


def test_torch_dropin_without_torch_says_how_to_install() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['torch'] = None; import optikern.torch"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "optikern.torch needs PyTorch: pip install torch" in out.stderr
