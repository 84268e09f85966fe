"""The fixed cost of one optimizer step, where the arithmetic is small: optikern's classes and
functional API against torch.optim's fused Adam in the same run.

    python benchmarks/bench_overhead.py [--threads 1]

Each row is the median time of a step (gradients ready; ``optikern._bench.runner.measure``).
The ratio column is torch fused Adam's time over the row's (higher is better); the "stream"
row is a kernel that only moves the step's bytes, the floor under any Adam step.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

import optikern
from optikern import _core, functional
from optikern._bench.runner import measure
from optikern._console import format_table


def rows(n: int, tensors: int) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(n).astype(np.float32) for _ in range(tensors)]
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(tensors)]
    exp_avgs = [np.zeros_like(p) for p in params]
    exp_avg_sqs = [np.zeros_like(p) for p in params]
    adam = optikern.Adam([p.copy() for p in params])
    sgd = optikern.SGD([p.copy() for p in params], lr=0.1, momentum=0.9)
    inplace = [[p.copy() for p in params] for _ in range(3)]  # param and two moments
    out: dict[str, Callable[[], object]] = {
        "optikern.Adam.step": lambda: adam.step(grads),
        "optikern.SGD(momentum).step": lambda: sgd.step(grads),
        "functional.adam": lambda: functional.adam(
            params, grads, exp_avgs, exp_avg_sqs, step=1, lr=1e-3
        ),
        "stream (bytes only)": lambda: _core.stream_step(inplace, grads),
    }
    try:
        import torch
    except ImportError:
        return out
    tparams = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    for t, g in zip(tparams, grads):
        t.grad = torch.from_numpy(g)
    fused = torch.optim.Adam(tparams, fused=True)
    out["torch.optim.Adam(fused=True)"] = fused.step
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    optikern.set_num_threads(args.threads)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    print(f"optikern {optikern.__version__}, {_core.active_simd_level()}, {args.threads} thread")
    for n, tensors in [(1000, 1), (1000, 1000)]:
        timings = {name: measure(f, budget=1.0)["seconds"] for name, f in rows(n, tensors).items()}
        torch_time = timings.get("torch.optim.Adam(fused=True)")
        print(f"\n{tensors} tensor(s) x {n} float32 elements")
        cells = [
            [name, f"{t * 1e6:.2f}", f"{torch_time / t:.1f}x" if torch_time else "-"]
            for name, t in timings.items()
        ]
        print(format_table(["", "us/step", "torch fused / this"], cells))


if __name__ == "__main__":
    main()
