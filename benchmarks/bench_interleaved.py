"""One optimizer of ``optikern bench`` at one size, every implementation measured in turn for
several rounds, so a loaded machine slows them alike (same-run ratios that hold up where one
long measurement per implementation does not).

    python benchmarks/bench_interleaved.py Lion --size 1e7 --threads 1 --rounds 9

Prints per implementation the median over rounds of ``optikern bench``'s timing, the
bandwidth ceiling's time over it (the same bytes streamed, the ceiling column) and its time
over optikern's. NumPy and the pure-Python reference are left out.
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial

import numpy as np

import optikern
from optikern._bench import runner, torch_impls
from optikern._bench.workloads import CONFIGS


def main() -> None:
    labels = [c.label for c in CONFIGS]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("optimizer", choices=labels)
    parser.add_argument("--size", type=float, default=1e7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    config = next(c for c in CONFIGS if c.label == args.optimizer)
    optikern.set_num_threads(args.threads)
    torch_impls.set_threads(args.threads)
    rng = np.random.default_rng(0)
    n = int(args.size)
    params = [rng.standard_normal(n).astype(args.dtype)]
    grads = [rng.standard_normal(n).astype(args.dtype)]
    skip = {"numpy careful", "numpy naive", "reference"}
    made = {k: make() for k, make in runner.implementations(config, params, False).items()}
    steps = {k: s for k, s in made.items() if s is not None and k not in skip}
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.rounds):
        for label, step in steps.items():
            times[label].append(runner.measure(partial(step, grads), 0.3)["seconds"])
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{config.label} {args.dtype} n={n:.0e} threads={args.threads} rounds={args.rounds}")
    for label, t in median.items():
        print(
            f"  {label:<16} {t * 1e3:10.4f} ms   ceiling/this {median['ceiling'] / t:5.2f}"
            f"   this/optikern {t / median['optikern']:6.2f}"
        )


if __name__ == "__main__":
    main()
