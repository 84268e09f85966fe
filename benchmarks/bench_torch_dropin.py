"""optikern.torch.Adam against torch.optim.Adam (fused, foreach, for-loop) on CPU tensors.

    python benchmarks/bench_torch_dropin.py [--threads 1,2]

Median time of ``opt.step()`` (gradients already set, warm-up excluded;
``optikern._bench.runner.measure``).
"""

from __future__ import annotations

import argparse

import torch

import optikern
import optikern.torch as okt
from optikern._bench.runner import measure
from optikern._bench.workloads import resnet50_shapes
from optikern._console import format_table


def median_step(opt: torch.optim.Optimizer) -> float:
    return float(measure(opt.step, budget=0.5)["seconds"])


def params_for(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).requires_grad_(True) for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    workloads = {
        "1 x 1e3": [(1000,)],
        "1 x 1e5": [(100_000,)],
        "1 x 1e7": [(10_000_000,)],
        "ResNet-50": resnet50_shapes(),
    }
    cells = []
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        optikern.set_num_threads(threads)
        for name, shapes in workloads.items():
            ours = median_step(okt.Adam(params_for(shapes), lr=1e-3))
            theirs = {
                v: median_step(torch.optim.Adam(params_for(shapes), lr=1e-3, **flag))
                for v, flag in [
                    ("fused", {"fused": True}),
                    ("foreach", {"foreach": True}),
                    ("for-loop", {"foreach": False}),
                ]
            }
            times = [ours, theirs["fused"], theirs["foreach"], theirs["for-loop"]]
            cells.append(
                [name, str(threads), *(f"{t * 1e3:.3f} ms" for t in times)]
                + [f"{theirs['fused'] / ours:.2f}x"]
            )
    header = ["workload", "thr", "optikern.torch", "torch fused", "foreach", "for-loop"]
    print(format_table([*header, "x fused"], cells))


if __name__ == "__main__":
    main()
