"""Checks of the arrays and options the Python layer owns (params, flags, loss scales).

The optimizers' hyperparameters are checked by the kernels' own option tables in C++
(``functional.CHECK_OPTIONS``), on construction and on every step, with torch's messages.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def lowp_format(dtype: np.dtype) -> str | None:
    """ "float16" or "bfloat16" (``ml_dtypes.bfloat16``, recognised without importing it) for
    the 16-bit types trained with float32 master weights, else None."""
    if dtype.itemsize != 2:  # the common case, decided without a slow dtype comparison
        return None
    if dtype == np.float16:
        return "float16"
    if dtype.name == "bfloat16" and dtype.itemsize == 2:
        return "bfloat16"
    return None


def real(value: Any, name: str) -> float:
    """Return ``value`` as a float, or raise ``TypeError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    return float(value)


def at_least(value: Any, low: float, name: str, what: str) -> None:
    """Raise ``ValueError(f"Invalid {what}: {value}")`` unless ``value >= low`` (NaN fails)."""
    if not real(value, name) >= low:
        raise ValueError(f"Invalid {what}: {value}")


def flag(value: Any, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")


def is_dense(a: np.ndarray) -> bool:
    """Whether a's elements fill one block of memory without gaps (C or Fortran order, or any
    transpose of them), which the kernels update in place as one flat buffer."""
    if a.flags.c_contiguous or a.flags.f_contiguous or a.size == 0:
        return True
    expected = a.itemsize
    for stride, extent in sorted((s, n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride != expected:
            return False
        expected *= extent
    return True


def param_array(p: Any, where: str) -> None:
    """Refuse anything the kernels could only update through a copy."""
    if not isinstance(p, np.ndarray):
        raise TypeError(f"{where}: expected a numpy.ndarray, got {type(p).__name__}")
    if p.dtype not in FLOAT_DTYPES and lowp_format(p.dtype) is None:
        raise TypeError(
            f"{where}: expected a float32, float64, float16 or bfloat16 array in native byte "
            f"order, got {p.dtype}"
        )
    if not is_dense(p):
        raise ValueError(
            f"{where}: expected a C-contiguous or otherwise dense array (it would be updated "
            "through a copy); use numpy.ascontiguousarray before creating the optimizer"
        )
    if not p.flags.aligned:
        raise ValueError(f"{where}: expected an aligned array")
    if not p.flags.writeable:
        raise ValueError(f"{where}: expected a writeable array, got a read-only one")
