"""ZeRO-1 step time and optimizer memory per rank against the rank count.

    mpiexec -n 1 python benchmarks/bench_distributed.py
    mpiexec -n 2 python benchmarks/bench_distributed.py
    mpiexec -n 3 python benchmarks/bench_distributed.py

Prints (on rank 0) the median time of a step of Adam over a model of --elements float32
parameters, and the bytes of optimizer state each rank holds. ``--table`` prints the state
memory per rank for model sizes from 1e8 to 7e10 parameters instead (computed, no MPI needed).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def memory_table() -> str:
    # Adam with float32 params: 8 bytes of state (exp_avg, exp_avg_sq) per parameter, sharded;
    # the params and gradients (4 + 4 bytes) are held by every rank.
    sizes = {"100M": 1e8, "1B": 1e9, "7B": 7e9, "13B": 1.3e10, "70B": 7e10}
    ranks = [1, 2, 8, 64, 1024]
    lines = [
        "| params | " + " | ".join(f"{r} rank{'s' if r > 1 else ''}" for r in ranks) + " |",
        "|---|" + "---|" * len(ranks),
    ]
    for label, n in sizes.items():
        cells = [f"{8 * n / r / 2**30:,.2f} GiB" for r in ranks]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elements", type=float, default=2e7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print("Adam optimizer state per rank (params and gradients not included):")
        print(memory_table())
        return

    from mpi4py import MPI

    import optikern
    from optikern.distributed import ShardedOptimizer

    comm = MPI.COMM_WORLD
    n = int(args.elements)
    shapes = [(n // 4,), (n // 4,), (n // 2,)]
    rng = np.random.default_rng(0)
    opt = ShardedOptimizer(
        optikern.Adam, [rng.standard_normal(s).astype(np.float32) for s in shapes], lr=1e-3
    )
    for view in opt.grads:
        view[...] = rng.standard_normal(view.shape).astype(np.float32)
    times = []
    for _ in range(args.steps + 2):
        comm.Barrier()
        begin = time.perf_counter()
        opt.step()
        comm.Barrier()
        times.append(time.perf_counter() - begin)
    state_bytes = sum(
        v.nbytes
        for s in opt.optimizer.state.values()
        for v in s.values()
        if isinstance(v, np.ndarray)
    )
    state = comm.gather(state_bytes, root=0)
    if comm.Get_rank() == 0:
        print(
            f"ranks {comm.Get_size()}: {n:.0e} params, step {statistics.median(times[2:]) * 1e3:.1f} ms, "
            f"state per rank {max(state) / 2**20:.1f} MiB (unsharded {8 * n / 2**20:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
