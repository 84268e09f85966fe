"""One contiguous arena for many arrays, so that an optimizer step is a single pass.

A step costs a fixed ~0.3 us per tensor (checks, bookkeeping, a loop start) on top of the
per-element work. For a model made of many small arrays that fixed part dominates: 1000 arrays
of 1000 float32 elements take ~0.9 ms per Adam step as separate arrays and ~0.6 ms as one
arena on this project's benchmark machine (``python -m optikern bench`` measures it). Large
arrays gain nothing: use the arena when the average array is below ~1e5 elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from . import _validation

__all__ = ["FlatArrays", "flatten"]


class FlatArrays(NamedTuple):
    """An arena and views into it; ``views[i]`` has the shape of the i-th original array."""

    arena: np.ndarray
    views: list[np.ndarray]


def flatten(arrays: Sequence[np.ndarray], dtype: np.dtype | type | None = None) -> FlatArrays:
    """Copy ``arrays`` into one contiguous 1-D arena and return it with a view per array.

    Use the views as the model's arrays from then on (the originals are not linked to the
    arena) and give the optimizer the arena::

        params = optikern.flatten([w1, b1, w2, b2])
        grads = optikern.flatten([np.zeros_like(v) for v in params.views])
        w1, b1, w2, b2 = params.views        # the model reads and writes these
        opt = optikern.Adam([params.arena])
        ...                                  # backward writes into grads.views
        opt.step([grads.arena])              # one pass over every parameter

    Parameters
    ----------
    arrays : sequence of numpy.ndarray
        Arrays of one floating dtype (any shapes and layouts; they are copied).
    dtype : numpy dtype, optional
        Arena dtype (float32 or float64); default: the arrays' common dtype.

    Returns
    -------
    FlatArrays
        ``(arena, views)``: views are C-contiguous, writeable and share the arena's memory.
    """
    if isinstance(arrays, np.ndarray):
        raise TypeError("arrays: expected a list of numpy arrays, got a single numpy.ndarray")
    arrays = list(arrays)
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"arrays[{i}]: expected a numpy.ndarray, got {type(a).__name__}")
    if dtype is None:
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) > 1:
            raise TypeError(
                f"arrays: expected one dtype, got {sorted(map(str, dtypes))}; pass dtype="
            )
        dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
    dtype = np.dtype(dtype)
    if dtype not in _validation.FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    arena = np.empty(sum(a.size for a in arrays), dtype=dtype)
    views = []
    start = 0
    for a in arrays:
        view = arena[start : start + a.size].reshape(a.shape)
        view[...] = a
        views.append(view)
        start += a.size
    return FlatArrays(arena, views)
