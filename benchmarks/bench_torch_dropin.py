"""optikern.torch.Adam against torch.optim.Adam (fused, foreach, for-loop) on CPU tensors, and
the drop-in's own cost per step beyond torch.optim.Optimizer's machinery.

    python benchmarks/bench_torch_dropin.py [--threads 1,2] [--rounds 5]

Each cell is the median over ``--rounds`` alternating rounds (every contender once per round)
of the median time of ``opt.step()`` (gradients already set, warm-up excluded;
``optikern._bench.runner.measure``), so the ratios compare timings of the same run. The
overhead table steps one 16-element float32 tensor: the drop-in's step minus the step of an
empty ``torch.optim.Optimizer`` subclass with the same ``@torch.no_grad()`` (torch's step
wrapper, hooks and profiler record are the same in both).
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any, Callable

import torch

import optikern
import optikern.torch as okt
from optikern._bench.runner import measure
from optikern._bench.workloads import resnet50_shapes
from optikern._console import format_table


class _Empty(torch.optim.Optimizer):
    """torch.optim.Optimizer's machinery around a step that does nothing."""

    def __init__(self, params: list[torch.Tensor]) -> None:
        super().__init__(params, {"lr": 1e-3})

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> None:
        return None


def params_for(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).requires_grad_(True) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params


def alternating(steps: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per step of each, measured in turn, round after round."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(float(measure(step, budget=0.3)["seconds"]))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workloads = {
        "1 x 1e3": [(1000,)],
        "1 x 1e5": [(100_000,)],
        "1 x 1e6": [(1_000_000,)],
        "1 x 1e7": [(10_000_000,)],
        "ResNet-50": resnet50_shapes(),
    }
    cells, overheads = [], []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        optikern.set_num_threads(threads)
        for name, shapes in workloads.items():
            t = alternating(
                {
                    "ours": okt.Adam(params_for(shapes), lr=1e-3).step,
                    "fused": torch.optim.Adam(params_for(shapes), lr=1e-3, fused=True).step,
                    "foreach": torch.optim.Adam(params_for(shapes), lr=1e-3, foreach=True).step,
                    "for-loop": torch.optim.Adam(params_for(shapes), lr=1e-3, foreach=False).step,
                },
                args.rounds,
            )
            cells.append(
                [name, str(threads), *(f"{v * 1e3:.3f} ms" for v in t.values())]
                + [f"{t['fused'] / t['ours']:.2f}x"]
            )
        t = alternating(
            {
                "empty": _Empty(params_for([(16,)])).step,
                "ours": okt.Adam(params_for([(16,)])).step,
                "fused": torch.optim.Adam(params_for([(16,)]), fused=True).step,
            },
            args.rounds,
        )
        overheads.append(
            [str(threads), *(f"{v * 1e6:.2f} us" for v in t.values())]
            + [
                f"{(t['ours'] - t['empty']) * 1e6:.2f} us",
                f"{(t['fused'] - t['empty']) * 1e6:.2f} us",
            ]
        )
    header = ["workload", "thr", "optikern.torch", "torch fused", "foreach", "for-loop"]
    print(format_table([*header, "x fused"], cells))
    print()
    header = ["thr", "empty Optimizer", "optikern.torch", "torch fused", "ours - empty"]
    print(format_table([*header, "fused - empty"], overheads))


if __name__ == "__main__":
    main()
