"""The one table of optimizers the tests draw from (torch's ``OptimizerInfo`` / ``optim_db``,
optax's ``_OPTIMIZERS_UNDER_TEST``): each optimizer's class, functional function and reference,
the state torch keeps for it, torch's defaults, the option grid, the invalid options and one
representative configuration. Test modules take their optimizers from ``OPTIM_DB`` (or the
``CASES`` derived from it) and list none themselves: adding an optimizer or an option row here
adds its coverage everywhere."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import optikern
from optikern import functional, reference

#: Kinds of valid option values, for property tests (test_properties.py maps them to
#: strategies): "positive" (> 0), "unit" ([0, 1)), "small" ([0, 0.5]), "flag" (bool),
#: "betas" (a pair of "unit"), "nesterov" (a flag valid only with momentum > 0, dampening 0),
#: "etas" (0 < eta_minus < 1 < eta_plus), "step_sizes" (0 < min <= max).
#: "decay" (in [-1, 0]), "clip" (in [1, 3]), "eps_pair" (None or "positive", then "positive").
OPTION_KINDS = (
    "positive",
    "unit",
    "small",
    "flag",
    "betas",
    "nesterov",
    "etas",
    "step_sizes",
    "decay",
    "clip",
    "eps_pair",
)


@dataclass(frozen=True, eq=False)
class OptimizerInfo:
    name: str  # optikern's class name, torch.optim's
    functional_name: str  # optikern.functional's function
    reference_name: str  # optikern.reference's pure-Python step
    state_names: frozenset[str]  # torch's names of every state entry it may keep per param
    counts_steps: bool  # keeps a "step" count per param (torch's "step")
    torch_defaults: Mapping[str, Any]  # torch.optim's constructor options and their defaults
    options: Mapping[str, str]  # every hyperparameter it takes -> kind of valid value
    checked: tuple[str, ...]  # options refused when negative or NaN ("Invalid ...")
    grid: tuple[Mapping[str, Any], ...]  # the option grid: one kwargs row per case
    invalid: tuple[tuple[Mapping[str, Any], type, str], ...]  # (kwargs, error, message regex)
    representative: Mapping[str, Any]  # one config keeping every state name (has "lr")
    scalar_state: frozenset[str] = frozenset()  # per-param 0-d state (torch's 0-d tensors)
    # options under which steps change no param (from the step after the one they are set in)
    frozen: Mapping[str, Any] = field(default_factory=lambda: {"lr": 0.0})
    # torch.optim has the class (else torch_defaults are those of the reference library named
    # in the class docstring, and the tests hold it to the formula instead of to torch)
    in_torch: bool = True
    # the update scales each tensor by its norms (a norm phase): the reference needs every
    # element, and the 16-bit and sparse-row paths refuse it
    per_tensor_norms: bool = False
    # a param of >= 2 dims keeps factored state (Adafactor): the reference needs its shape
    factored: bool = False

    def __post_init__(self) -> None:
        assert set(self.options.values()) <= set(OPTION_KINDS), self.name
        assert set(self.checked) <= set(self.options), self.name
        assert set(self.torch_defaults) <= set(self.options), self.name
        assert "lr" in self.representative, self.name

    @property
    def cls(self) -> type[optikern.Optimizer]:
        return getattr(optikern, self.name)

    @property
    def functional(self) -> Callable[..., int]:
        return getattr(functional, self.functional_name)

    @property
    def reference(self) -> Callable[..., None]:
        return getattr(reference, self.reference_name)

    def make(self, params: Any, **kwargs: Any) -> optikern.Optimizer:
        return self.cls(params, **kwargs)

    def reference_on(self, shape: tuple[int, ...]) -> Callable[..., None]:
        """The reference for a param of `shape` (flattened in C order)."""
        return functools.partial(self.reference, shape=shape) if self.factored else self.reference

    @property
    def cases(self) -> list[Case]:
        return [Case(self, dict(kwargs)) for kwargs in self.grid]

    @property
    def torch_grid(self) -> list[dict[str, Any]]:
        """The rows of the grid that torch.optim takes too (none if torch lacks the class)."""
        if not self.in_torch:
            return []
        return [dict(kwargs) for kwargs in self.grid if set(kwargs) <= set(self.torch_defaults)]


@dataclass(frozen=True)
class Case:
    """One optimizer configuration: a row of an info's grid."""

    info: OptimizerInfo
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def optimizer(self) -> str:
        return self.info.name

    @property
    def id(self) -> str:
        options = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.optimizer}({options})"

    def make(self, params: Any, **extra: Any) -> optikern.Optimizer:
        return self.info.cls(params, **self.kwargs, **extra)

    @property
    def reference(self) -> Callable[..., None]:
        return self.info.reference

    @property
    def counts_steps(self) -> bool:
        return self.info.counts_steps


SGD = OptimizerInfo(
    name="SGD",
    functional_name="sgd",
    reference_name="sgd_step",
    state_names=frozenset({"momentum_buffer"}),
    counts_steps=False,
    torch_defaults={
        "lr": 1e-3,
        "momentum": 0,
        "dampening": 0,
        "weight_decay": 0,
        "nesterov": False,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "momentum": "unit",
        "dampening": "small",
        "weight_decay": "small",
        "nesterov": "nesterov",
        "maximize": "flag",
        "decoupled_weight_decay": "flag",
        "lr_in_momentum": "flag",
    },
    checked=("lr", "momentum", "weight_decay"),
    grid=(
        {"lr": 0.05},
        {"lr": 0.05, "maximize": True},
        {"lr": 0.05, "weight_decay": 0.1},
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True},
        {
            "lr": 0.05,
            "momentum": 0.9,
            "lr_in_momentum": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    invalid=(
        ({"momentum": -0.1}, ValueError, "Invalid momentum value"),
        ({"weight_decay": -1.0}, ValueError, "Invalid weight_decay value"),
        ({"nesterov": True}, ValueError, "Nesterov momentum requires"),
        (
            {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
            ValueError,
            "Nesterov momentum requires",
        ),
    ),
    representative={"lr": 0.05, "momentum": 0.9, "nesterov": True},
)

ADAGRAD = OptimizerInfo(
    name="Adagrad",
    functional_name="adagrad",
    reference_name="adagrad_step",
    state_names=frozenset({"step", "sum"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-2,
        "lr_decay": 0,
        "weight_decay": 0,
        "initial_accumulator_value": 0,
        "eps": 1e-10,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "lr_decay": "small",
        "weight_decay": "small",
        "initial_accumulator_value": "small",
        "eps": "positive",
        "maximize": "flag",
        "decoupled_weight_decay": "flag",
        "eps_inside_sqrt": "flag",
    },
    checked=("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"),
    grid=(
        {},
        {"lr": 0.1, "lr_decay": 0.01},
        {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-7},
        {"lr": 0.1, "weight_decay": 0.1, "maximize": True},
        {
            "lr": 0.1,
            "eps": 1e-7,
            "eps_inside_sqrt": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    invalid=(
        ({"lr_decay": -1.0}, ValueError, "Invalid lr_decay value"),
        ({"eps": -1.0}, ValueError, "Invalid epsilon value"),
        ({"initial_accumulator_value": -1.0}, ValueError, "Invalid initial_accumulator_value"),
    ),
    representative={"lr": 0.05},
)

RMSPROP = OptimizerInfo(
    name="RMSprop",
    functional_name="rmsprop",
    reference_name="rmsprop_step",
    state_names=frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0,
        "momentum": 0,
        "centered": False,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "alpha": "unit",
        "eps": "positive",
        "weight_decay": "small",
        "momentum": "unit",
        "centered": "flag",
        "maximize": "flag",
        "decoupled_weight_decay": "flag",
        "lr_in_momentum": "flag",
        "eps_inside_sqrt": "flag",
    },
    checked=("lr", "alpha", "eps", "weight_decay", "momentum"),
    grid=(
        {},
        {"alpha": 0.9, "eps": 1e-6},
        {"momentum": 0.9},
        {"centered": True},
        {"centered": True, "momentum": 0.5, "weight_decay": 0.1},
        {"alpha": 0.3, "centered": True, "maximize": True},
        {
            "momentum": 0.9,
            "lr_in_momentum": True,
            "eps_inside_sqrt": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    invalid=(
        ({"alpha": -0.1}, ValueError, "Invalid alpha value"),
        ({"momentum": -0.1}, ValueError, "Invalid momentum value"),
    ),
    representative={"lr": 0.01, "centered": True, "momentum": 0.5},
)

ADAM_DEFAULTS = {
    "lr": 1e-3,
    "betas": (0.9, 0.999),
    "eps": 1e-8,
    "weight_decay": 0,
    "amsgrad": False,
    "maximize": False,
}
ADAM_OPTIONS = {
    "lr": "positive",
    "betas": "betas",
    "eps": "positive",
    "weight_decay": "small",
    "amsgrad": "flag",
    "maximize": "flag",
}

ADAM = OptimizerInfo(
    name="Adam",
    functional_name="adam",
    reference_name="adam_step",
    state_names=frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    counts_steps=True,
    torch_defaults=ADAM_DEFAULTS,
    options={**ADAM_OPTIONS, "decoupled_weight_decay": "flag"},
    checked=("lr", "eps", "weight_decay"),
    grid=(
        {},
        {"lr": 0.01, "amsgrad": True},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.01, "maximize": True, "amsgrad": True, "weight_decay": 0.01},
        {"lr": 0.01, "betas": (0.3, 0.9)},
        {"lr": 0.01, "eps": 1e-7},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    invalid=(
        ({"betas": (1.0, 0.999)}, ValueError, "Invalid beta parameter at index 0"),
        ({"betas": (0.9, -0.1)}, ValueError, "Invalid beta parameter at index 1"),
        ({"eps": float("nan")}, ValueError, "Invalid epsilon value"),
    ),
    representative={"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
)

ADAMW = OptimizerInfo(
    name="AdamW",
    functional_name="adamw",
    reference_name="adamw_step",
    state_names=ADAM.state_names,
    counts_steps=True,
    torch_defaults={**ADAM_DEFAULTS, "weight_decay": 1e-2},
    options=ADAM_OPTIONS,
    checked=("lr", "eps", "weight_decay"),
    grid=(
        {},
        {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
        {"lr": 0.01, "maximize": True},
    ),
    invalid=(({"weight_decay": -0.01}, ValueError, "Invalid weight_decay value"),),
    representative={"lr": 0.01, "amsgrad": True},
)

ADAMAX = OptimizerInfo(
    name="Adamax",
    functional_name="adamax",
    reference_name="adamax_step",
    state_names=frozenset({"step", "exp_avg", "exp_inf"}),
    counts_steps=True,
    torch_defaults={
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "betas": "betas",
        "eps": "positive",
        "weight_decay": "small",
        "maximize": "flag",
    },
    checked=("lr", "eps", "weight_decay"),
    grid=(
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-3, "maximize": True},
    ),
    invalid=(
        ({"betas": (0.9, 1.0)}, ValueError, "Invalid beta parameter at index 1"),
        ({"eps": -1e-8}, ValueError, "Invalid epsilon value"),
    ),
    representative={"lr": 0.01, "weight_decay": 0.01},
)

RADAM = OptimizerInfo(
    name="RAdam",
    functional_name="radam",
    reference_name="radam_step",
    state_names=frozenset({"step", "exp_avg", "exp_avg_sq"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "decoupled_weight_decay": False,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "betas": "betas",
        "eps": "positive",
        "weight_decay": "small",
        "decoupled_weight_decay": "flag",
        "maximize": "flag",
    },
    checked=("lr", "eps", "weight_decay"),
    grid=(
        {},
        # beta2 = 0.9: rho_t passes 5 at the 6th step, so both branches run within the tests
        {"lr": 0.01, "betas": (0.9, 0.9), "weight_decay": 0.1},
        {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True},
        {"lr": 0.01, "betas": (0.5, 0.8), "maximize": True},
    ),
    invalid=(
        ({"betas": (1.0, 0.999)}, ValueError, "Invalid beta parameter at index 0"),
        ({"weight_decay": -0.1}, ValueError, "Invalid weight_decay value"),
    ),
    representative={"lr": 0.01, "betas": (0.9, 0.8), "weight_decay": 0.01},
)

ADADELTA = OptimizerInfo(
    name="Adadelta",
    functional_name="adadelta",
    reference_name="adadelta_step",
    state_names=frozenset({"step", "square_avg", "acc_delta"}),
    counts_steps=True,
    torch_defaults={"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0, "maximize": False},
    options={
        "lr": "positive",
        "rho": "unit",
        "eps": "positive",
        "weight_decay": "small",
        "maximize": "flag",
    },
    checked=("lr", "eps", "weight_decay"),
    grid=(
        {},
        {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1},
        {"lr": 0.5, "eps": 1e-3, "maximize": True},
    ),
    invalid=(
        ({"rho": 1.5}, ValueError, "Invalid rho value"),
        ({"eps": -1e-6}, ValueError, "Invalid epsilon value"),
    ),
    representative={"lr": 0.5, "weight_decay": 0.01},
)

LION = OptimizerInfo(
    name="Lion",
    functional_name="lion",
    reference_name="lion_step",
    state_names=frozenset({"exp_avg"}),
    counts_steps=False,
    torch_defaults={"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0},  # lion-pytorch's
    options={"lr": "positive", "betas": "betas", "weight_decay": "small", "maximize": "flag"},
    checked=("lr", "weight_decay"),
    grid=(
        {"lr": 0.01},
        {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1},
        {"lr": 0.01, "betas": (0.0, 1.0), "maximize": True},  # the closed ends of the betas
    ),
    invalid=(
        ({"betas": (1.5, 0.99)}, ValueError, "Invalid beta parameter at index 0"),
        ({"betas": (0.9, -0.1)}, ValueError, "Invalid beta parameter at index 1"),
    ),
    representative={"lr": 0.01, "weight_decay": 0.1},
    in_torch=False,
)

NADAM = OptimizerInfo(
    name="NAdam",
    functional_name="nadam",
    reference_name="nadam_step",
    state_names=frozenset({"step", "exp_avg", "exp_avg_sq", "mu_product"}),
    scalar_state=frozenset({"mu_product"}),
    counts_steps=True,
    torch_defaults={
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "betas": "betas",
        "eps": "positive",
        "weight_decay": "small",
        "momentum_decay": "small",
        "decoupled_weight_decay": "flag",
        "maximize": "flag",
    },
    checked=("lr", "eps", "weight_decay", "momentum_decay"),
    grid=(
        {},
        {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1, "momentum_decay": 0.3},
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
    ),
    invalid=(
        ({"betas": (1.0, 0.999)}, ValueError, "Invalid beta parameter at index 0"),
        ({"momentum_decay": -0.2}, ValueError, "Invalid momentum_decay value"),
    ),
    # eps 1e-3: torch's own float16 NAdam (trained in the 16-bit checkpoint test) divides by
    # a zero denominator with eps 1e-8, which float16 rounds to 0
    representative={"lr": 0.01, "eps": 1e-3, "weight_decay": 0.01, "momentum_decay": 0.1},
)

RPROP = OptimizerInfo(
    name="Rprop",
    functional_name="rprop",
    reference_name="rprop_step",
    state_names=frozenset({"step", "prev", "step_size"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-2,
        "etas": (0.5, 1.2),
        "step_sizes": (1e-6, 50),
        "maximize": False,
    },
    options={"lr": "positive", "etas": "etas", "step_sizes": "step_sizes", "maximize": "flag"},
    checked=("lr",),
    grid=(
        {},
        # the step sizes leave [0.02, 0.08] both ways within a few steps: the clamp binds
        {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (0.02, 0.08)},
        {"lr": 0.01, "maximize": True},
    ),
    invalid=(
        ({"etas": (1.0, 0.5)}, ValueError, r"Invalid eta values: 1\.0, 0\.5"),
        ({"etas": (0.5, 1.0)}, ValueError, r"Invalid eta values: 0\.5, 1\.0"),
    ),
    representative={"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (0.02, 0.08)},
    frozen={"step_sizes": (0.0, 0.0)},  # lr only sets the initial step size
)

ASGD = OptimizerInfo(
    name="ASGD",
    functional_name="asgd",
    reference_name="asgd_step",
    state_names=frozenset({"step", "eta", "mu", "ax"}),
    scalar_state=frozenset({"eta", "mu"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-2,
        "lambd": 1e-4,
        "alpha": 0.75,
        "t0": 1e6,
        "weight_decay": 0,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "lambd": "small",
        "alpha": "unit",
        "t0": "small",
        "weight_decay": "small",
        "maximize": "flag",
    },
    checked=("lr", "weight_decay"),
    grid=(
        {},
        # small t0: the average starts within the tests (mu = 1 / (t - t0) from t = t0 + 2)
        {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 2.0, "weight_decay": 0.1},
        {"lr": 0.05, "t0": 0.0, "maximize": True},
    ),
    invalid=(({"weight_decay": -0.5}, ValueError, "Invalid weight_decay value: -0.5"),),
    # t0 = -1: the average starts at the second step, so ax differs from the param at once
    representative={"lr": 0.05, "lambd": 0.01, "t0": -1.0},
)

ADAFACTOR = OptimizerInfo(
    name="Adafactor",
    functional_name="adafactor",
    reference_name="adafactor_step",
    state_names=frozenset({"step", "row_var", "col_var", "variance"}),
    counts_steps=True,
    torch_defaults={
        "lr": 1e-2,
        "beta2_decay": -0.8,
        "eps": (None, 1e-3),
        "d": 1.0,
        "weight_decay": 0.0,
        "maximize": False,
    },
    options={
        "lr": "positive",
        "beta2_decay": "decay",
        "eps": "eps_pair",
        "d": "clip",
        "weight_decay": "small",
        "maximize": "flag",
    },
    checked=(),  # torch's words: "<name> should be >= 0 but is: <value>" (the invalid rows)
    grid=(
        {},
        {"lr": 0.01, "weight_decay": 0.1},
        {"weight_decay": 0.1, "maximize": True},
        {"beta2_decay": -1.0},
        {"d": 1.5},
        {"lr": 0.05, "eps": (1e-3, 1e-2)},  # eps1 at the scale of g g: the floors act
    ),
    invalid=(
        ({"lr": -1.0}, ValueError, r"Learning rate should be >= 0 but is: -1\.0"),
        ({"eps": (-1e-30, 1e-3)}, ValueError, "epsilon1 should be >= 0"),
        ({"eps": (float("nan"), 1e-3)}, ValueError, "epsilon1 should be >= 0 but is: nan"),
        ({"eps": (None, -1.0)}, ValueError, "epsilon2 should be >= 0"),
        ({"d": 0.0}, ValueError, "Clipping threshold d should be >= 1"),
        ({"beta2_decay": 0.8}, ValueError, "beta2_decay should be <= 0"),
        ({"weight_decay": -0.5}, ValueError, "weight_decay should be >= 0 but is: -0.5"),
        ({"eps": 1e-3}, TypeError, "eps: expected a pair"),
    ),
    representative={"lr": 0.05, "weight_decay": 0.1},
    per_tensor_norms=True,
    factored=True,
)

OPTIM_DB = [SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, ADAMAX, RADAM, ADADELTA, NADAM, RPROP, ASGD]
OPTIM_DB += [ADAFACTOR]
LAMB = OptimizerInfo(
    name="LAMB",
    functional_name="lamb",
    reference_name="lamb_step",
    state_names=frozenset({"step", "exp_avg", "exp_avg_sq"}),
    counts_steps=True,
    torch_defaults={"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-6, "weight_decay": 0.0},  # optax
    options={
        "lr": "positive",
        "betas": "betas",
        "eps": "positive",
        "weight_decay": "small",
        "min_coeff": "small",
        "max_coeff": "positive",
        "maximize": "flag",
    },
    checked=("lr", "eps", "weight_decay", "min_coeff", "max_coeff"),
    grid=(
        {},
        {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1},
        {"lr": 0.01, "eps": 1e-3, "maximize": True},
        # the trust ratio is near 1 on random data: each bound takes over
        {"lr": 0.01, "max_coeff": 0.8},
        {"lr": 0.01, "weight_decay": 0.01, "min_coeff": 1.5, "max_coeff": 10.0},
    ),
    invalid=(
        ({"betas": (1.0, 0.999)}, ValueError, "Invalid beta parameter at index 0"),
        ({"max_coeff": -1.0}, ValueError, "Invalid max_coeff value"),
        ({"min_coeff": "0.1"}, TypeError, "min_coeff: expected a real number"),
    ),
    representative={"lr": 0.01, "weight_decay": 0.01},
    in_torch=False,
    per_tensor_norms=True,
)

OPTIM_DB += [LION, LAMB]  # not in torch.optim
#: The rows torch.optim has: tests holding optikern to torch take theirs from here.
IN_TORCH = [info for info in OPTIM_DB if info.in_torch]
IN_TORCH_NAMES = [info.name for info in IN_TORCH]
#: The rows the 16-bit (mixed-precision) path serves: all of them.
MIXED = OPTIM_DB
MIXED_NAMES = [info.name for info in MIXED]
NAMES = [info.name for info in OPTIM_DB]  # pytest ids

#: Every row of every grid: the parity, property and state tests run each.
CASES = [case for info in OPTIM_DB for case in info.cases]
CASE_IDS = [case.id for case in CASES]

#: The optimizers whose state may be 8-bit (state_bits=8), with options reaching every state
#: they keep: the 8-bit tests of the NumPy classes and of optikern.torch run each.
STATE_8BIT = {
    "SGD": dict(lr=0.05, momentum=0.9),
    "RMSprop": dict(lr=1e-2, momentum=0.5, centered=True),
    "Adam": dict(lr=1e-2, weight_decay=0.1),
    "AdamW": dict(lr=1e-2, amsgrad=True),
    "RAdam": dict(lr=1e-2),
    "Adamax": dict(lr=1e-2),
    "Adadelta": dict(lr=1.0),
    "Lion": dict(lr=1e-3, weight_decay=0.1),
    "NAdam": dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
    "LAMB": dict(lr=1e-2, weight_decay=0.1),
}
