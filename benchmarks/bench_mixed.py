"""Mixed precision at the memory wall: an Adam step on 16-bit params with float32 masters and
float32 state, against the bandwidth ceiling of the same bytes, in one run.

    python benchmarks/bench_mixed.py [--sizes 1e6,1e7,1e8] [--threads 1,2]
                                     [--formats bfloat16,float16] [--rounding nearest]

Per element the step reads the 16-bit param and gradient, the master and both moments, and
writes the param, the master and the moments: 2+2+2+4+4+8+8 = 30 bytes. The ceiling is
``_core.stream_step`` (three float32 arrays ``+=`` a fourth: 28 bytes per element) over 30/28
as many elements, so it moves the same bytes with no arithmetic; ``%ceil`` is its time over
the step's. Each time is the median of 5 to 21 steps (gradients ready, warm-up excluded),
the step and its ceiling taking turns so that load on the machine slows both alike.

DeepSpeedCPUAdam, when it imports (``DS_ACCELERATOR=cpu``; the first use JIT-builds ~1 min),
runs on the same 16-bit params and gradients with float32 moments but keeps no master
(22 bytes per element): its row has its own ceiling, of 22 bytes per element.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from functools import partial
from typing import Callable

import numpy as np

import optikern
from optikern import _core

BYTES_PER_ELEMENT = 30  # 16-bit param r+w, 16-bit grad r, master r+w, two moments r+w
STREAM_BYTES = 28  # stream_step with 3 in-place float32 arrays and one read array
DEEPSPEED_BYTES = 22  # no master: param r+w, grad r, two moments r+w


def median_times(steps: list[Callable[[], object]], seconds: float = 2.0) -> list[float]:
    """Median time of each step, the steps taking turns so that a loaded machine slows them
    alike."""
    for step in steps:
        step()
    begin = time.perf_counter()
    for step in steps:
        step()
    rounds = max(5, min(21, int(seconds / (time.perf_counter() - begin))))
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for step, record in zip(steps, times):
            begin = time.perf_counter()
            step()
            record.append(time.perf_counter() - begin)
    return [statistics.median(record) for record in times]


def ceiling_step(streamed_bytes: float) -> Callable[[], object]:
    n = int(streamed_bytes / STREAM_BYTES)
    rng = np.random.default_rng(1)
    inplace = [[rng.standard_normal(n, dtype=np.float32)] for _ in range(3)]
    read = [rng.standard_normal(n, dtype=np.float32)]
    return lambda: _core.stream_step(inplace, read)


def optikern_step(n: int, dtype: type, rounding: str) -> Callable[[], object]:
    rng = np.random.default_rng(0)
    param = rng.standard_normal(n, dtype=np.float32).astype(dtype)
    grad = (rng.standard_normal(n, dtype=np.float32) * np.float32(1e-2)).astype(dtype)
    opt = optikern.Adam([param], lr=1e-4, rounding=rounding)
    return lambda: opt.step([grad])


def deepspeed_step(n: int, fmt: str) -> Callable[[], object] | None:
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        import torch
        from deepspeed.ops.adam import DeepSpeedCPUAdam
    except Exception:  # noqa: BLE001 - any failure to import means "not available"
        return None
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}[fmt]
    param = torch.randn(n).to(dtype).requires_grad_(True)
    param.grad = (torch.randn(n) * 1e-2).to(dtype)
    opt = DeepSpeedCPUAdam([param], lr=1e-4, fp32_optimizer_states=True)
    return opt.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--formats", default="bfloat16,float16")
    parser.add_argument("--rounding", default="nearest", help="nearest, stochastic or both")
    parser.add_argument("--no-deepspeed", action="store_true")
    args = parser.parse_args()
    import ml_dtypes

    dtypes = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
    roundings = ["nearest", "stochastic"] if args.rounding == "both" else [args.rounding]
    print(f"optikern {optikern.__version__}, SIMD level {_core.active_simd_level()}")
    print(
        f"{'step':>30} {'size':>6} {'thr':>3} {'time':>10} {'GB/s':>6} {'%ceil':>6} {'ceiling':>10}"
    )
    for threads in (int(t) for t in args.threads.split(",")):
        optikern.set_num_threads(threads)
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
        for n in (int(float(s)) for s in args.sizes.split(",")):
            rows: list[tuple[str, Callable[[], Callable[[], object] | None], int]] = []
            for fmt in args.formats.split(","):
                rows += [
                    (
                        f"optikern {fmt} {r}",
                        partial(optikern_step, n, dtypes[fmt], r),
                        BYTES_PER_ELEMENT,
                    )
                    for r in roundings
                ]
                if not args.no_deepspeed:
                    rows.append(
                        (f"deepspeed {fmt}", partial(deepspeed_step, n, fmt), DEEPSPEED_BYTES)
                    )
            for label, make, row_bytes in rows:
                step = make()
                if step is None:
                    print(f"{label:>30} not available")
                    continue
                ceiling = ceiling_step(row_bytes * n)
                t, c = median_times([step, ceiling])
                del step, ceiling
                gc.collect()
                print(
                    f"{label:>30} {n:>6.0e} {threads:>3} {t * 1e3:>8.3f}ms "
                    f"{row_bytes * n / t / 1e9:>6.1f} {100 * c / t:>5.0f}% {c * 1e3:>8.3f}ms"
                )


if __name__ == "__main__":
    main()
