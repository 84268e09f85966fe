"""Embedding tables with sparse gradients: updating the touched rows of a 1e6 x 64 float32 table
against the dense step, and against torch's own sparse path, in one run.

    python benchmarks/bench_sparse.py [--rows 1000000] [--fraction 0.01] [--threads 1]

Median time of one step (gradients ready; ``optikern._bench.runner.measure``). "dense" updates the whole table with a dense
gradient that is zero outside the touched rows; the sparse rows change nothing else.
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

import optikern
from optikern import functional
from optikern._bench.runner import measure
from optikern._console import format_table


def median_time(step: Callable[[], object]) -> float:
    return float(measure(step, budget=1.0)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=64)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    optikern.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    shape = (args.rows, args.cols)
    touched = np.sort(rng.choice(args.rows, int(args.rows * args.fraction), replace=False))
    values = rng.standard_normal((touched.size, args.cols)).astype(np.float32)
    table = rng.standard_normal(shape).astype(np.float32)
    state = np.zeros_like(table)
    dense_grad = np.zeros_like(table)
    dense_grad[touched] = values
    counter = iter(range(1, 1 << 30))
    timings = {
        "optikern sparse_adagrad (rows)": median_time(
            lambda: functional.sparse_adagrad(
                table, touched, values, state, step=next(counter), lr=0.01
            )
        ),
        "optikern adagrad (dense)": median_time(
            lambda: functional.adagrad([table], [dense_grad], [state], step=next(counter), lr=0.01)
        ),
    }
    try:
        import torch

        import optikern.torch as okt
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        indices = torch.from_numpy(touched).unsqueeze(0)
        for name, cls in (
            ("torch.optim.Adagrad", torch.optim.Adagrad),
            ("optikern.torch", okt.Adagrad),
        ):
            weight = torch.nn.Parameter(torch.from_numpy(table.copy()))
            weight.grad = torch.sparse_coo_tensor(
                indices, torch.from_numpy(values), shape, check_invariants=False
            ).coalesce()
            opt = cls([weight], lr=0.01)
            timings[f"{name} (sparse)"] = median_time(opt.step)
    fastest = timings["optikern sparse_adagrad (rows)"]
    print(
        f"Adagrad, {args.rows} x {args.cols} float32, {touched.size} rows touched "
        f"({args.fraction:.1%}), {args.threads} thread(s)"
    )
    cells = [[name, f"{t * 1e3:.3f}", f"{t / fastest:.1f}x"] for name, t in timings.items()]
    print(format_table(["", "ms/step", "/ optikern rows"], cells))


if __name__ == "__main__":
    main()
