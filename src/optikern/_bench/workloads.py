"""What is timed: optimizer configurations, their memory traffic, and tensor-shape workloads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Config:
    """One optimizer configuration, with the arrays a step reads and writes per element."""

    label: str
    optimizer: str  # optikern / torch.optim class name
    kwargs: dict[str, Any] = field(default_factory=dict)
    inplace: int = 1  # arrays read and written (param and state)
    # arrays read and written by a second pass, which also reads one more (LAMB's update
    # pass after its norm pass: p written, m and v read)
    second_pass: int = 0
    # arrays only read again by sweeps before the update (Adafactor: p and g for the sums,
    # g for the norm of the update)
    read_sweeps: int = 0
    # the optimizer keeps factored state: each 1-D workload tensor runs as a near-square matrix
    matrices: bool = False

    @property
    def reads(self) -> int:
        second = self.second_pass + 1 if self.second_pass else 0
        return self.inplace + 1 + second + self.read_sweeps  # + the gradient

    @property
    def writes(self) -> int:
        return self.inplace + self.second_pass


CONFIGS = [
    Config("SGD", "SGD", {"lr": 1e-3}, inplace=1),
    Config("SGD+momentum", "SGD", {"lr": 1e-3, "momentum": 0.9}, inplace=2),
    Config("Adagrad", "Adagrad", {"lr": 1e-2}, inplace=2),
    Config("RMSprop", "RMSprop", {"lr": 1e-2}, inplace=2),
    Config("Adam", "Adam", {"lr": 1e-3}, inplace=3),
    Config("AdamW", "AdamW", {"lr": 1e-3, "weight_decay": 1e-2}, inplace=3),
    Config("NAdam", "NAdam", {"lr": 2e-3}, inplace=3),
    Config("RAdam", "RAdam", {"lr": 1e-3}, inplace=3),
    Config("Adamax", "Adamax", {"lr": 2e-3}, inplace=3),
    Config("Adadelta", "Adadelta", {"lr": 1.0}, inplace=3),
    Config("Rprop", "Rprop", {"lr": 1e-2}, inplace=3),
    # averaging from the second step (t0 = 0): the step reads ax, as the ceiling assumes
    Config("ASGD", "ASGD", {"lr": 1e-2, "t0": 0.0}, inplace=2),
]
CONFIGS += [Config("Lion", "Lion", {"lr": 1e-4, "weight_decay": 1e-2}, inplace=2)]
# LAMB reads p, m, v again in its update pass: 40 bytes per float32 element (28 + 12 here)
CONFIGS += [Config("LAMB", "LAMB", {"lr": 1e-3, "weight_decay": 1e-2}, inplace=3, second_pass=1)]
# Adafactor reads p and g (sums), g (norm of u), then p and g and writes p: 24 bytes per float32
CONFIGS += [Config("Adafactor", "Adafactor", {"lr": 1e-2}, inplace=1, read_sweeps=3, matrices=True)]


def as_matrix(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A 1-D shape as the near-square matrix of its elements (1e7: 2500 x 4000), the rows the
    largest divisor up to the square root; other shapes unchanged."""
    if len(shape) != 1:
        return shape
    n = shape[0]
    rows = max(r for r in range(1, int(n**0.5) + 1) if n % r == 0)
    return (rows, n // rows)


def resnet50_shapes() -> list[tuple[int, ...]]:
    """The 161 parameter tensors of torchvision's resnet50 (25,557,032 elements), derived from
    the architecture: conv weights without bias, batch-norm weight and bias, the fc layer."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    in_channels = 64
    for width, blocks in [(64, 3), (128, 4), (256, 6), (512, 3)]:
        out_channels = width * 4
        for block in range(blocks):
            shapes += [(width, in_channels, 1, 1), (width,), (width,)]
            shapes += [(width, width, 3, 3), (width,), (width,)]
            shapes += [(out_channels, width, 1, 1), (out_channels,), (out_channels,)]
            if block == 0:  # projection shortcut
                shapes += [(out_channels, in_channels, 1, 1), (out_channels,), (out_channels,)]
            in_channels = out_channels
    shapes += [(1000, 2048), (1000,)]
    return shapes


def size_name(n: int) -> str:
    """``1e3`` for 1000, ``5e5`` for 500000; other sizes as digits (``1500``), so two sizes
    never share a name."""
    mantissa, exponent = f"{n:.0e}".split("e")
    if int(mantissa) * 10 ** int(exponent) == n:
        return f"{mantissa}e{int(exponent)}"
    return str(n)


def workloads(sizes: Sequence[int]) -> dict[str, list[tuple[int, ...]]]:
    """name -> tensor shapes: one tensor per size (``1 x 1e3``), 1000 x 1000, ResNet-50."""
    out: dict[str, list[tuple[int, ...]]] = {f"1 x {size_name(n)}": [(n,)] for n in sizes}
    out["1000 x 1e3"] = [(1000,)] * 1000
    out["ResNet-50"] = resnet50_shapes()
    return out
