"""Runs the benchmark: times every implementation on every workload, reports ns/element,
GB/s, the fraction of the bandwidth ceiling and the ratios against NumPy and torch."""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np

import optikern
from optikern import _core, reference

from . import numpy_careful, numpy_naive, torch_impls
from .workloads import CONFIGS, Config, workloads

Step = Callable[[list], None]
Maker = Callable[[], "Step | None"]


def median_time(step: Step, grads: list, budget: float) -> float:
    """Median seconds per call over repetitions filling about ``budget`` seconds; two warm-up
    calls are excluded."""
    step(grads)
    begin = time.perf_counter()
    step(grads)
    once = max(time.perf_counter() - begin, 1e-7)
    inner = max(1, int(0.01 / once))  # each sample >= ~10 ms, so the clock does not matter
    samples = max(3, min(15, int(budget / (once * inner))))
    times = []
    for _ in range(samples):
        begin = time.perf_counter()
        for _ in range(inner):
            step(grads)
        times.append((time.perf_counter() - begin) / inner)
    return statistics.median(times)


def implementations(config: Config, params: list[np.ndarray], flat: bool) -> dict[str, Maker]:
    """label -> a function making a step over its own copy of ``params`` (made one at a time,
    so a 1e8-element run holds one implementation's arrays at once) or None if unavailable."""

    def copies() -> list[np.ndarray]:
        return [p.copy() for p in params]

    def classes() -> Step:
        return getattr(optikern, config.optimizer)(copies(), **config.kwargs).step

    def arena() -> Step:
        opt = getattr(optikern, config.optimizer)(
            [optikern.flatten(copies()).arena], **config.kwargs
        )
        grad_arena = [np.empty(sum(p.size for p in params), dtype=params[0].dtype)]
        return lambda grads: opt.step(grad_arena)

    def ceiling() -> Step:
        # The wall: the same bytes streamed through one contiguous buffer per array, so no
        # per-tensor cost is counted in it.
        rng = np.random.default_rng(1)
        total = sum(p.size for p in params)
        dtype = params[0].dtype
        inplace: list[Sequence[np.ndarray]] = [
            [rng.standard_normal(total).astype(dtype)] for _ in range(config.inplace)
        ]
        read = [rng.standard_normal(total).astype(dtype)]
        return lambda grads: _core.stream_step(inplace, read)

    def torch_variant(variant: str) -> Maker:
        return lambda: torch_impls.make(variant, config.optimizer, config.kwargs, copies())

    makers: dict[str, Maker] = {"ceiling": ceiling, "optikern": classes}
    if flat:
        makers["optikern flat"] = arena
    makers["numpy careful"] = lambda: numpy_careful.make(config.optimizer, config.kwargs, copies())
    makers["numpy naive"] = lambda: numpy_naive.make(config.optimizer, config.kwargs, copies())
    if torch_impls.available():
        for variant in ("for-loop", "foreach", "fused"):
            makers[f"torch {variant}"] = torch_variant(variant)
    makers["deepspeed"] = lambda: torch_impls.make_deepspeed(
        config.optimizer, config.kwargs, copies()
    )
    if sum(p.size for p in params) <= 10_000 and len(params) == 1:
        makers["reference"] = lambda: reference_step(config, copies())
    return makers


def reference_step(config: Config, params: list[np.ndarray]) -> Step:
    values = [p.ravel().tolist() for p in params]
    states: list[dict] = [{} for _ in params]
    fn = getattr(
        reference,
        {
            "SGD": "sgd_step",
            "Adagrad": "adagrad_step",
            "RMSprop": "rmsprop_step",
            "Adam": "adam_step",
            "AdamW": "adamw_step",
        }[config.optimizer],
    )

    def step(grads: list) -> None:
        for v, g, s in zip(values, grads, states):
            fn(v, g.ravel().tolist(), s, **config.kwargs)

    return step


def check_correctness(config: Config, dtype: type[np.floating[Any]]) -> None:
    """What is timed is also right: optikern equals careful NumPy on a small run."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(1000).astype(dtype)]
    a, b = [params[0].copy()], [params[0].copy()]
    opt = getattr(optikern, config.optimizer)(a, **config.kwargs)
    careful = numpy_careful.make(config.optimizer, config.kwargs, b)
    for _ in range(3):
        g = [rng.standard_normal(1000).astype(dtype)]
        opt.step(g)
        careful(g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if not np.allclose(a[0], b[0], rtol=tol, atol=tol):
        raise AssertionError(f"{config.label} {np.dtype(dtype).name}: optikern != NumPy")


def progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}")
    sys.stderr.flush()


def run(
    sizes: Sequence[int] = (1_000, 100_000, 10_000_000),
    optimizers: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float32",),
    threads: Sequence[int] = (1, 2),
    shapes: Sequence[str] | None = None,
    budget: float = 0.3,
) -> list[dict[str, Any]]:
    """Every (workload, optimizer, dtype, threads) row with each implementation's time."""
    configs = [c for c in CONFIGS if optimizers is None or c.label in optimizers]
    loads = workloads(list(sizes))
    if shapes is not None:
        loads = {k: v for k, v in loads.items() if k in shapes}
    for config in configs:
        for dtype in dtypes:
            check_correctness(config, np.dtype(dtype).type)
    jobs = [(w, c, d, t) for w in loads for c in configs for d in dtypes for t in threads]
    rows = []
    for done, (name, config, dtype, n_threads) in enumerate(jobs):
        progress(done, len(jobs), f"{name} {config.label} {dtype} {n_threads}t")
        optikern.set_num_threads(n_threads)
        torch_impls.set_threads(n_threads)
        rng = np.random.default_rng(0)
        params = [rng.standard_normal(s).astype(dtype) for s in loads[name]]
        grads = [rng.standard_normal(s).astype(dtype) for s in loads[name]]
        elements = sum(p.size for p in params)
        times = {}
        for label, make in implementations(config, params, len(params) > 1).items():
            step = make()
            if step is not None:
                times[label] = median_time(step, grads, budget)
            del step  # free this implementation's arrays before making the next one
        rows.append(summarise(name, config, dtype, n_threads, elements, times))
    optikern.set_num_threads(0)
    progress(len(jobs), len(jobs), "done")
    sys.stderr.write("\n")
    return rows


def summarise(
    name: str, config: Config, dtype: str, threads: int, elements: int, times: dict[str, float]
) -> dict[str, Any]:
    item = np.dtype(dtype).itemsize
    traffic = (config.reads + config.writes) * item * elements
    ceiling = times["ceiling"]
    torch_best = min((t for k, t in times.items() if k.startswith("torch")), default=math.nan)
    results = {
        label: {
            "seconds": t,
            "ns_per_element": t / elements * 1e9,
            "gb_per_s": traffic / t / 1e9,
            "of_ceiling": ceiling / t,
        }
        for label, t in times.items()
    }
    best = min(times.get("optikern flat", math.inf), times["optikern"])
    return {
        "workload": name,
        "optimizer": config.label,
        "dtype": dtype,
        "threads": threads,
        "elements": elements,
        "bytes_per_element": (config.reads + config.writes) * item,
        "results": results,
        "optikern_vs_numpy": times["numpy careful"] / times["optikern"],
        "optikern_vs_torch_best": torch_best / times["optikern"],
        "optikern_vs_torch_fused": times.get("torch fused", math.nan) / times["optikern"],
        "best_optikern_of_ceiling": ceiling / best,
    }


def format_rows(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'workload':<12} {'optimizer':<13} {'dtype':<7} {'thr':>3} {'optikern':>11} "
        f"{'ns/el':>7} {'GB/s':>6} {'%ceil':>6} {'xNumPy':>7} {'xtorch':>7} "
        f"{'xfused':>7}  {'torch best':>11} {'ceiling':>11}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        res = r["results"]
        best_torch = min(
            (v["seconds"] for k, v in res.items() if k.startswith("torch")), default=math.nan
        )
        lines.append(
            f"{r['workload']:<12} {r['optimizer']:<13} {r['dtype']:<7} {r['threads']:>3} "
            f"{fmt_time(res['optikern']['seconds']):>11} {res['optikern']['ns_per_element']:>7.3f} "
            f"{res['optikern']['gb_per_s']:>6.1f} {100 * r['best_optikern_of_ceiling']:>5.0f}% "
            f"{r['optikern_vs_numpy']:>7.2f} {r['optikern_vs_torch_best']:>7.2f} "
            f"{r['optikern_vs_torch_fused']:>7.2f}  {fmt_time(best_torch):>11} "
            f"{fmt_time(res['ceiling']['seconds']):>11}"
        )
    return "\n".join(lines)


def fmt_time(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def save(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "optikern": optikern.__version__,
        "simd_level": _core.active_simd_level(),
        "compiler": _core.compiler,
    }
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    """ns/element against size for each implementation (single-tensor workloads)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    singles = [r for r in rows if r["workload"].startswith("1 x")]
    keys = sorted({(r["optimizer"], r["dtype"], r["threads"]) for r in singles})
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        chosen = sorted(
            (r for r in singles if (r["optimizer"], r["dtype"], r["threads"]) == key),
            key=lambda r: r["elements"],
        )
        for label in chosen[0]["results"]:
            ys = [r["results"].get(label, {}).get("ns_per_element", math.nan) for r in chosen]
            ax.loglog([r["elements"] for r in chosen], ys, marker="o", label=label)
        ax.set_title(f"{key[0]} {key[1]} {key[2]} thread(s)")
        ax.set_ylabel("ns / element")
        ax.legend(fontsize=6)
    axes[-1, 0].set_xlabel("elements")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return True
