"""The single table of optimizer configurations every parity, property and state test uses
(optax's ``_OPTIMIZERS_UNDER_TEST``, torch's ``optim_db``): adding an option adds coverage
everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import optikern
from optikern import reference


@dataclass(frozen=True)
class Case:
    optimizer: str  # optikern class name (torch.optim's)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        options = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.optimizer}({options})"

    def make(self, params: list, **extra: Any) -> optikern.Optimizer:
        return getattr(optikern, self.optimizer)(params, **self.kwargs, **extra)

    @property
    def reference(self) -> Callable[..., None]:
        return getattr(reference, REFERENCE[self.optimizer])

    @property
    def counts_steps(self) -> bool:
        return self.optimizer != "SGD"


REFERENCE = {
    "SGD": "sgd_step",
    "Adagrad": "adagrad_step",
    "RMSprop": "rmsprop_step",
    "Adam": "adam_step",
    "AdamW": "adamw_step",
}

CASES = [
    Case("SGD", {"lr": 0.05}),
    Case("SGD", {"lr": 0.05, "maximize": True}),
    Case("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    Case("SGD", {"lr": 0.05, "momentum": 0.9}),
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    Case("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "maximize": True}),
    Case(
        "SGD",
        {
            "lr": 0.05,
            "momentum": 0.9,
            "lr_in_momentum": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    Case("Adagrad", {}),
    Case("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    Case("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "eps": 1e-7}),
    Case("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    Case(
        "Adagrad",
        {
            "lr": 0.1,
            "eps": 1e-7,
            "eps_inside_sqrt": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    Case("RMSprop", {}),
    Case("RMSprop", {"alpha": 0.9, "eps": 1e-6}),
    Case("RMSprop", {"momentum": 0.9}),
    Case("RMSprop", {"centered": True}),
    Case("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    Case("RMSprop", {"alpha": 0.3, "centered": True, "maximize": True}),
    Case(
        "RMSprop",
        {
            "momentum": 0.9,
            "lr_in_momentum": True,
            "eps_inside_sqrt": True,
            "weight_decay": 0.01,
            "decoupled_weight_decay": True,
        },
    ),
    Case("Adam", {}),
    Case("Adam", {"lr": 0.01, "amsgrad": True}),
    Case("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    Case("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True, "weight_decay": 0.01}),
    Case("Adam", {"lr": 0.01, "betas": (0.3, 0.9)}),
    Case("Adam", {"lr": 0.01, "eps": 1e-7}),
    Case("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    Case("AdamW", {}),
    Case("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    Case("AdamW", {"lr": 0.01, "maximize": True}),
]
