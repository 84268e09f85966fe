"""8-bit optimizer state: AdamW step time per state format against torch and bitsandbytes,
and each against its bandwidth ceiling, all in one run.

    python benchmarks/bench_8bit.py --sizes 1e6,1e7 --threads 1,2
    python benchmarks/bench_8bit.py --sizes 1e8 --threads 1,2 --no-bnb   # 1e8: ~6 GB
    python benchmarks/bench_8bit.py --memory-table   # bytes per parameter, no timing

float32 AdamW moves 28 bytes per element (param read+write, grad read, two states read+write);
with 8-bit state 16 (the states are one byte each, plus a float32 scale per 256 elements).
The ceilings stream the same bytes through `_core.stream_step` (float32 arrays). torch runs
`AdamW(fused=True)` with torch's thread count set to the same value.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import optikern
from optikern import _core
from optikern._bench import formats


def median_seconds(step: Callable[[], object], repeats: int) -> float:
    step()  # state creation, first touch
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def ceiling(n: int, bytes_per_element: int) -> Callable[[], object]:
    """A stream step moving bytes_per_element * n bytes: a float32 array updated in place
    (8 bytes per element) plus one read (4), plus a smaller pair for the rest."""
    extra = (bytes_per_element - 12) * n // 12  # elements of a second (in-place, read) pair
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32)]
    reads = [rng.standard_normal(n).astype(np.float32)]
    if extra:
        arrays.append(rng.standard_normal(extra).astype(np.float32))
        reads.append(rng.standard_normal(extra).astype(np.float32))
    return lambda: _core.stream_step([arrays], reads)


def run(n: int, threads: int, repeats: int, with_bnb: bool) -> dict[str, float]:
    optikern.set_num_threads(threads)
    rng = np.random.default_rng(1)
    grad = rng.standard_normal(n).astype(np.float32)
    out: dict[str, float] = {}
    for label, bits in (("optikern f32", 32), ("optikern 8-bit", 8)):
        param = rng.standard_normal(n).astype(np.float32)
        opt = optikern.AdamW([param], state_bits=bits)
        out[label] = median_seconds(lambda opt=opt: opt.step([grad]), repeats)
        del opt, param
    out["ceiling 28 B"] = median_seconds(ceiling(n, 28), repeats)
    out["ceiling 16 B"] = median_seconds(ceiling(n, 16), repeats)
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(threads)
    p = torch.nn.Parameter(torch.from_numpy(rng.standard_normal(n).astype(np.float32)))
    p.grad = torch.from_numpy(grad)
    fused = torch.optim.AdamW([p], fused=True)
    out["torch fused"] = median_seconds(fused.step, repeats)
    del fused
    if with_bnb:
        try:
            import bitsandbytes as bnb
        except ImportError:
            pass
        else:
            opt8 = bnb.optim.AdamW8bit([p])
            out["bitsandbytes 8-bit"] = median_seconds(opt8.step, max(3, repeats // 5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-bnb", action="store_true", help="skip bitsandbytes (slow)")
    parser.add_argument("--memory-table", action="store_true", help="print it and stop")
    args = parser.parse_args()
    if args.memory_table:
        print(formats.memory_table())
        return
    for size in args.sizes.split(","):
        n = int(float(size))
        for threads in map(int, args.threads.split(",")):
            t = run(n, threads, args.repeats, not args.no_bnb)
            eight = t["optikern 8-bit"]
            print(f"AdamW n={n:.0e} threads={threads}")
            for label, seconds in t.items():
                print(f"  {label:<20} {seconds * 1e3:9.3f} ms  {seconds / n * 1e9:7.3f} ns/el")
            print(
                f"  8-bit of its ceiling: {t['ceiling 16 B'] / eight:.0%}; f32 of its: "
                f"{t['ceiling 28 B'] / t['optikern f32']:.0%}"
            )
            for other in ("torch fused", "bitsandbytes 8-bit", "optikern f32"):
                if other in t:
                    print(f"  8-bit vs {other}: {t[other] / eight:.2f}x")


if __name__ == "__main__":
    main()
