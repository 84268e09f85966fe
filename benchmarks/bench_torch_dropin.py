"""optikern.torch.Adam against torch.optim.Adam (fused, foreach, for-loop) on CPU tensors.

    python benchmarks/bench_torch_dropin.py [--threads 1,2]

Median time of ``opt.step()`` (gradients already set), warm-up excluded.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import optikern
import optikern.torch as okt
from optikern._bench.workloads import resnet50_shapes


def median_step(opt: torch.optim.Optimizer, budget: float = 0.5) -> float:
    opt.step()
    opt.step()
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < 5 or time.perf_counter() < deadline:
        begin = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


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
    print(
        f"{'workload':<10} {'thr':>3} {'optikern.torch':>15} {'torch fused':>12} "
        f"{'foreach':>10} {'for-loop':>10} {'x fused':>8}"
    )
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
            print(
                f"{name:<10} {threads:>3} {ours * 1e3:>12.3f} ms {theirs['fused'] * 1e3:>9.3f} ms "
                f"{theirs['foreach'] * 1e3:>7.3f} ms {theirs['for-loop'] * 1e3:>7.3f} ms "
                f"{theirs['fused'] / ours:>7.2f}x"
            )


if __name__ == "__main__":
    main()
