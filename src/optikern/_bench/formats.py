"""Bytes per parameter: what AdamW keeps and moves per parameter in each param and state
format, and its step time in each against a stream of the same bytes (``optikern bench
--bytes-per-param``; ``benchmarks/bench_8bit.py --memory-table``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

import optikern
from optikern import _core

from .runner import fmt_time, measure

# Bytes per element of the parts of a step: 8-bit state is one byte per moment plus a float32
# scale per block of 256.
_SCALES = 4 / _core.QUANTIZATION_BLOCK


class StateFormat(NamedTuple):
    label: str
    params: str  # "float32", "bfloat16", "float16"; 16-bit params keep a float32 master
    state_bits: int

    @property
    def kept(self) -> float:
        """Bytes per param the optimizer holds: the two moments, and the master if any."""
        state = 8.0 if self.state_bits == 32 else 2 * (1 + _SCALES)
        return state + (0.0 if self.params == "float32" else 4.0)

    @property
    def moved(self) -> float:
        """Bytes per param one step reads and writes: param, gradient (the param's dtype),
        master and both moments."""
        width = 4 if self.params == "float32" else 2
        state = 16.0 if self.state_bits == 32 else 4 * (1 + _SCALES)
        return 3 * width + (0.0 if self.params == "float32" else 8.0) + state


FORMATS = [
    StateFormat(
        f"{params} params{'' if params == 'float32' else ' + fp32 master'}, {state}", params, bits
    )
    for params in ("float32", "bfloat16", "float16")
    for state, bits in (("float32 state", 32), ("8-bit state", 8))
]
#: The model sizes of the distributed docs' memory table.
MODEL_SIZES = [("100M", 1e8), ("1B", 1e9), ("7B", 7e9), ("13B", 13e9), ("70B", 70e9)]


def memory_table() -> str:
    """Markdown: the bytes per param kept and moved per format, and the memory kept for each
    model size."""
    head = "| format | bytes/param kept | bytes/param moved per step | " + " | ".join(
        name for name, _ in MODEL_SIZES
    )
    lines = [head + " |", "|---" * (3 + len(MODEL_SIZES)) + "|"]
    for f in FORMATS:
        sizes = " | ".join(f"{f.kept * n / 2**30:.2f} GiB" for _, n in MODEL_SIZES)
        lines.append(f"| {f.label} | {f.kept:.2f} | {f.moved:.2f} | {sizes} |")
    return "\n".join(lines)


def stream_ceiling(n_bytes: float) -> Callable[[], object]:
    """A step streaming about ``n_bytes`` through memory as AdamW's arrays do: three float32
    arrays updated in place and one read (28 bytes per element)."""
    n = max(1, int(n_bytes / 28))
    rng = np.random.default_rng(1)
    inplace: list[Sequence[np.ndarray]] = [
        [rng.standard_normal(n, dtype=np.float32)] for _ in range(3)
    ]
    read = [rng.standard_normal(n, dtype=np.float32)]
    return lambda: _core.stream_step(inplace, read)


def _adamw_step(f: StateFormat, n: int) -> Callable[[], object]:
    dtype: Any = np.float32
    if f.params == "bfloat16":
        import ml_dtypes

        dtype = ml_dtypes.bfloat16
    elif f.params == "float16":
        dtype = np.float16
    rng = np.random.default_rng(0)
    param = rng.standard_normal(n, dtype=np.float32).astype(dtype)
    grad = (rng.standard_normal(n, dtype=np.float32) * np.float32(1e-2)).astype(dtype)
    opt = optikern.AdamW([param], lr=1e-4, state_bits=f.state_bits)
    return lambda: opt.step([grad])


def time_rows(n: int, threads: int, budget: float) -> list[list[str]]:
    """Per format: bytes kept and moved, the step time at n params and its share of the
    ceiling (the stream of the same bytes), measured one format after the other."""
    optikern.set_num_threads(threads)
    rows = []
    try:
        for f in FORMATS:
            if f.params == "bfloat16":
                try:
                    import ml_dtypes  # noqa: F401
                except ImportError:
                    rows.append([f.label, f"{f.kept:.2f}", f"{f.moved:.2f}", "needs ml_dtypes"])
                    continue
            seconds = measure(_adamw_step(f, n), budget)["seconds"]
            ceiling = measure(stream_ceiling(f.moved * n), budget)["seconds"]
            rows.append(
                [
                    f.label,
                    f"{f.kept:.2f}",
                    f"{f.moved:.2f}",
                    fmt_time(seconds),
                    f"{seconds / n * 1e9:.3f}",
                    f"{ceiling / seconds:.0%}",
                ]
            )
    finally:
        optikern.set_num_threads(0)
    return rows


TIME_HEADER = [
    "format",
    "bytes/param kept",
    "bytes/param moved",
    "step",
    "ns/param",
    "of its ceiling",
]
