"""Runs the benchmark: times every implementation on every workload, reports ns/element,
GB/s, the fraction of the bandwidth ceiling and the ratios against NumPy and torch."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

import optikern
from optikern import _core, reference
from optikern._console import Progress, format_table

from . import numpy_careful, numpy_naive, torch_impls
from .workloads import CONFIGS, Config, as_matrix, workloads

Step = Callable[[list[np.ndarray]], None]
Maker = Callable[[], "Step | None"]


def measure(call: Callable[[], object], budget: float) -> dict[str, Any]:
    """Seconds per ``call()`` over 3 to 15 repeats filling about ``budget`` seconds (each repeat
    averages enough calls to last ~10 ms; two warm-up calls are excluded): the median as
    ``seconds``, and the spread: min, quartiles, max, with the number of repeats. Every timing
    of optikern's command line and of benchmarks/ comes from here."""
    call()
    begin = time.perf_counter()
    call()
    once = max(time.perf_counter() - begin, 1e-7)
    inner = max(1, int(0.01 / once))  # each sample >= ~10 ms, so the clock does not matter
    samples = max(3, min(15, int(budget / (once * inner))))
    times = []
    for _ in range(samples):
        begin = time.perf_counter()
        for _ in range(inner):
            call()
        times.append((time.perf_counter() - begin) / inner)
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return {
        "seconds": median,
        "seconds_min": min(times),
        "seconds_q1": q1,
        "seconds_q3": q3,
        "seconds_max": max(times),
        "repeats": samples,
        "calls_per_repeat": inner,
    }


def implementations(config: Config, params: list[np.ndarray], flat: bool) -> dict[str, Maker]:
    """label -> a function making a step over its own copy of ``params`` (made one at a time,
    so a 1e8-element run holds one implementation's arrays at once) or None if unavailable."""

    def copies() -> list[np.ndarray]:
        return [p.copy() for p in params]

    def classes() -> Step:
        cls: type[optikern.Optimizer] = getattr(optikern, config.optimizer)
        return cls(copies(), **config.kwargs).step

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
        if config.read_sweeps:
            swept = [read[0] if k % 2 else inplace[0][0] for k in range(config.read_sweeps)]

            def sweeps_then_update(grads: list[Any]) -> None:
                optikern.functional.first_nonfinite(swept)  # one read-only pass
                _core.stream_step(inplace, read)

            return sweeps_then_update
        if config.second_pass:
            again = inplace[: config.second_pass]

            def two_passes(grads: list[Any]) -> None:
                _core.stream_step(inplace, read)
                _core.stream_step(again, inplace[config.second_pass])

            return two_passes
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
    states: list[dict[str, Any]] = [{} for _ in params]
    fn = getattr(reference, f"{config.optimizer.lower()}_step")

    shapes = [{"shape": p.shape} if config.matrices else {} for p in params]

    def step(grads: list[np.ndarray]) -> None:
        for v, g, s, shape in zip(values, grads, states, shapes):
            fn(v, g.ravel().tolist(), s, **config.kwargs, **shape)

    return step


def check_correctness(config: Config, dtype: type[np.floating[Any]]) -> None:
    """What is timed is also right: optikern equals careful NumPy on a small run."""
    rng = np.random.default_rng(0)
    shape = as_matrix((1000,)) if config.matrices else (1000,)
    params = [rng.standard_normal(shape).astype(dtype)]
    a, b = [params[0].copy()], [params[0].copy()]
    opt = getattr(optikern, config.optimizer)(a, **config.kwargs)
    careful = numpy_careful.make(config.optimizer, config.kwargs, b)
    for _ in range(3):
        g = [rng.standard_normal(shape).astype(dtype)]
        opt.step(g)
        careful(g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    if not np.allclose(a[0], b[0], rtol=tol, atol=tol):
        raise AssertionError(f"{config.label} {np.dtype(dtype).name}: optikern != NumPy")


def run(
    sizes: Sequence[int] = (1_000, 100_000, 10_000_000),
    optimizers: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float32",),
    threads: Sequence[int] = (1, 2),
    shapes: Sequence[str] | None = None,
    budget: float = 0.3,
) -> list[dict[str, Any]]:
    """Every (workload, optimizer, dtype, threads) row with each implementation's time.
    Unknown names raise ValueError before anything runs. Thread counts (optikern's and
    torch's, which share OpenMP) are restored afterwards."""
    labels = [c.label for c in CONFIGS]
    loads = workloads(list(sizes))
    for what, asked, valid in (
        ("optimizers", optimizers, labels),
        ("shapes", shapes, list(loads)),
        ("dtypes", dtypes, ["float32", "float64"]),
    ):
        unknown = [name for name in asked or () if name not in valid]
        if unknown:
            raise ValueError(f"{what}: unknown {unknown}; choose from {valid}")
    if not all(isinstance(n, int) and n > 0 for n in threads):
        raise ValueError(f"threads: expected positive integers, got {list(threads)}")
    configs = [c for c in CONFIGS if optimizers is None or c.label in optimizers]
    if shapes is not None:
        loads = {k: v for k, v in loads.items() if k in shapes}
    for config in configs:
        for dtype in dtypes:
            check_correctness(config, np.dtype(dtype).type)
    jobs = [(w, c, d, t) for w in loads for c in configs for d in dtypes for t in threads]
    torch_threads = torch_impls.get_threads()
    try:
        with Progress(total=len(jobs), desc="optikern bench", unit="row") as bar:
            rows = _run_jobs(jobs, loads, budget, bar)
    finally:
        optikern.set_num_threads(0)
        if torch_threads is not None:
            torch_impls.set_threads(torch_threads)
    return rows


def _run_jobs(
    jobs: list[tuple[str, Config, str, int]],
    loads: dict[str, list[tuple[int, ...]]],
    budget: float,
    bar: Progress,
) -> list[dict[str, Any]]:
    rows = []
    for name, config, dtype, n_threads in jobs:
        bar.set_postfix_str(f"{name} {config.label} {dtype} {n_threads}t")
        optikern.set_num_threads(n_threads)
        torch_impls.set_threads(n_threads)
        rng = np.random.default_rng(0)
        shapes = [as_matrix(s) if config.matrices else s for s in loads[name]]
        params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        elements = sum(p.size for p in params)
        timings = {}
        for label, make in implementations(config, params, len(params) > 1).items():
            step = make()
            if step is not None:
                timings[label] = measure(partial(step, grads), budget)
            del step  # free this implementation's arrays before making the next one
        rows.append(summarise(name, config, dtype, n_threads, elements, timings))
        bar.update()
    return rows


def summarise(
    name: str,
    config: Config,
    dtype: str,
    threads: int,
    elements: int,
    timings: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One row: each implementation's timing (median ``seconds`` and its spread), per element,
    GB/s and fraction of the ceiling; the ratios to optikern (None where torch is missing or
    has no such variant)."""
    item = np.dtype(dtype).itemsize
    traffic = (config.reads + config.writes) * item * elements
    times = {label: timing["seconds"] for label, timing in timings.items()}
    ceiling = times["ceiling"]
    torch_times = [t for k, t in times.items() if k.startswith("torch")]
    torch_best = min(torch_times) if torch_times else None
    torch_fused = times.get("torch fused")
    results = {
        label: {
            **timing,
            "ns_per_element": timing["seconds"] / elements * 1e9,
            "gb_per_s": traffic / timing["seconds"] / 1e9,
            "of_ceiling": ceiling / timing["seconds"],
        }
        for label, timing in timings.items()
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
        "optikern_vs_torch_best": None if torch_best is None else torch_best / times["optikern"],
        "optikern_vs_torch_fused": (
            None if torch_fused is None else torch_fused / times["optikern"]
        ),
        "best_optikern_of_ceiling": ceiling / best,
    }


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The table; torch's columns (xtorch, xfused, torch best) only when torch was measured,
    else a line saying it is not installed."""
    with_torch = any(k.startswith("torch") for r in rows for k in r["results"])
    header = ["workload", "optimizer", "dtype", "thr", "optikern", "ns/el", "GB/s", "%ceil"]
    header += ["xNumPy", *(["xtorch", "xfused", "torch best"] if with_torch else []), "ceiling"]
    table = []
    for r in rows:
        res = r["results"]
        ours = res["optikern"]
        cells = [r["workload"], r["optimizer"], r["dtype"], str(r["threads"])]
        cells += [fmt_time(ours["seconds"]), f"{ours['ns_per_element']:.3f}"]
        cells += [f"{ours['gb_per_s']:.1f}", f"{100 * r['best_optikern_of_ceiling']:.0f}%"]
        cells.append(f"{r['optikern_vs_numpy']:.2f}")
        if with_torch:
            best_torch = min(
                (v["seconds"] for k, v in res.items() if k.startswith("torch")), default=None
            )
            cells += [fmt_ratio(r["optikern_vs_torch_best"])]
            cells += [fmt_ratio(r["optikern_vs_torch_fused"]), fmt_time(best_torch)]
        cells.append(fmt_time(res["ceiling"]["seconds"]))
        table.append(cells)
    text = format_table(header, table, left=3)
    if not with_torch:
        text += (
            "\ntorch is not installed: its columns (xtorch, xfused, torch best) are left out "
            "(pip install torch to compare)"
        )
    return text


def fmt_ratio(ratio: float | None) -> str:
    """A ratio to optikern; ``nan`` where torch has no such variant (no fused RMSprop)."""
    return "nan" if ratio is None else f"{ratio:.2f}"


def fmt_time(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def default_output_dir(command: str = "bench") -> Path:
    """Where ``optikern bench`` (or ``demo``) writes by default: ``$XDG_CACHE_HOME/optikern/bench``,
    else (unset, or not an absolute path) ``~/.cache/optikern/bench``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", ""))
    if not cache.is_absolute():
        cache = Path("~/.cache").expanduser()
    return cache / "optikern" / command


def cpu_model() -> str | None:
    """The CPU's model name (from /proc/cpuinfo on Linux), None where unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def metadata() -> dict[str, Any]:
    """The machine and the software a run was measured on."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the CPUs this process may use
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "optikern": optikern.__version__,
        "simd_level": _core.active_simd_level(),
        "simd_detected": _core.detected_simd_level(),
        "simd_available": list(_core.available_simd_levels()),
        "openmp": bool(_core.openmp),
        "max_threads": optikern.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(affinity(0)) if affinity else None,
        "cpu": cpu_model(),
        "compiler": _core.compiler,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "torch": torch_impls.version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def strict(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON's null), so the file
    is strict JSON."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def save(
    rows: list[dict[str, Any]],
    path: Path,
    settings: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Strict JSON (no NaN): ``{"meta": machine and software (``metadata()`` taken before the
    run, or now), "settings": what was asked, "rows": ...}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta or metadata(), "settings": settings or {}, "rows": rows}
    path.write_text(json.dumps(strict(document), indent=1, allow_nan=False) + "\n")


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    """ns/element against size for each implementation (single-tensor workloads); False
    without matplotlib or without such rows."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    singles = [r for r in rows if r["workload"].startswith("1 x")]
    if not singles:
        return False
    keys = sorted({(r["optimizer"], r["dtype"], r["threads"]) for r in singles})
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        chosen = sorted(
            (r for r in singles if (r["optimizer"], r["dtype"], r["threads"]) == key),
            key=lambda r: r["elements"],
        )
        for label in chosen[0]["results"]:
            ys = [r["results"].get(label, {}).get("ns_per_element") or math.nan for r in chosen]
            ax.loglog([r["elements"] for r in chosen], ys, marker="o", label=label)
        ax.set_title(f"{key[0]} {key[1]} {key[2]} thread(s)")
        ax.set_ylabel("ns / element")
        ax.legend(fontsize=6)
    axes[-1, 0].set_xlabel("elements")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
