"""optikern: fused C++ optimizer updates applied in place to NumPy arrays.

Params may also be float16 or bfloat16 (``ml_dtypes.bfloat16``): the optimizer then keeps
float32 master weights and state, and rewrites the 16-bit params every step by
round-to-nearest-even or stochastic rounding (``rounding="stochastic"``).

The optimizers follow ``torch.optim`` (names, defaults, formulas, state names)::

    import numpy as np, optikern
    w = np.zeros(10, dtype=np.float32)
    opt = optikern.Adam([w], lr=1e-3)
    opt.step([grad_w])          # w is updated in place

:mod:`optikern.functional` holds the stateless updates the classes are built on, and
:mod:`optikern.reference` the pure-Python definition they are tested against.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from . import _core, functional, lr_scheduler
from ._version import __version__ as __version__
from .accumulate import GradientAccumulator
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .clip import clip_grad_norm_, clip_grad_value_
from .errors import NonFiniteError
from .flat import FlatArrays, flatten
from .lamb import LAMB
from .lion import Lion
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = [
    "ASGD",
    "LAMB",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "FlatArrays",
    "GradientAccumulator",
    "Lion",
    "NAdam",
    "NonFiniteError",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "available_simd_levels",
    "clip_grad_norm_",
    "clip_grad_value_",
    "flatten",
    "functional",
    "get_cmake_dir",
    "get_include",
    "get_num_threads",
    "lr_scheduler",
    "set_num_threads",
    "show_config",
    "simd_level",
]


def available_simd_levels() -> list[str]:
    """SIMD levels this CPU can run, lowest first (``"baseline"``, ``"avx2"``, ``"avx512"``)."""
    return list(_core.available_simd_levels())


@contextlib.contextmanager
def simd_level(name: str) -> Iterator[None]:
    """Run the kernels at SIMD level ``name`` inside the ``with`` block (results are identical
    on every level; this exists to test that and to measure each level)."""
    previous = _core.active_simd_level()
    _core.set_simd_level(name)
    try:
        yield
    finally:
        _core.set_simd_level(previous)


def get_num_threads() -> int:
    """Threads a large step is split over (OpenMP's maximum unless :func:`set_num_threads`)."""
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """Split large steps over ``n`` threads; ``n=0`` follows OpenMP again
    (``OMP_NUM_THREADS``, ``threadpoolctl``)."""
    _core.set_num_threads(n)


def show_config() -> None:
    """Print the SIMD level in use, the levels available, threads and the compiler."""
    print(f"optikern {__version__}")
    print(
        f"  simd level:      {_core.active_simd_level()} (detected {_core.detected_simd_level()})"
    )
    print(f"  available:       {', '.join(_core.available_simd_levels())}")
    print(
        f"  threads:         {_core.get_num_threads()} (OpenMP {'on' if _core.openmp else 'off'})"
    )
    print(f"  compiler:        {_core.compiler}")


def get_include() -> str:
    """Directory of the C++ headers (``#include <optikern/optikern.hpp>``)."""
    return str(_installed_dir() / "include")


def get_cmake_dir() -> str:
    """Directory of the CMake package: ``find_package(optikern CONFIG)`` with this in
    ``CMAKE_PREFIX_PATH`` (or ``optikern_DIR``) provides the target ``optikern::kernels``."""
    return str(_installed_dir() / "share" / "cmake" / "optikern")


def _installed_dir() -> Path:
    # Installed data sits beside the compiled module (site-packages/optikern in a wheel, the
    # build tree in an editable install).
    return Path(_core.__file__).parent
