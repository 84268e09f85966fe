"""Gradient clipping over lists of NumPy arrays, as ``torch.nn.utils``.

The norm is one pass in C++ over every array (the float32 and float64 ones together), the
scaling or clamping another, both in place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import functional
from .errors import NonFiniteError

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def clip_grad_norm_(
    grads: Sequence[np.ndarray],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    r"""Scale ``grads`` in place so that their total norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: with :math:`n` the ``norm_type``-norm of all
    elements together, every gradient is multiplied by
    :math:`\min\left(1, \frac{\text{max\_norm}}{n + 10^{-6}}\right)`.

    Parameters
    ----------
    grads : list of numpy.ndarray
        Gradients (float32 or float64, C-contiguous, writeable), changed in place.
    max_norm : float
        Largest allowed total norm.
    norm_type : float, default 2.0
        Order of the norm; ``math.inf`` for the largest absolute value.
    error_if_nonfinite : bool, default False
        Raise :class:`NonFiniteError` (and leave ``grads`` unchanged) if the norm is NaN or
        infinite; otherwise such a norm is applied as torch does (gradients become NaN).

    Returns
    -------
    float
        The total norm before clipping.
    """
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads: expected a list of numpy arrays, got {type(grads).__name__}")
    if len(grads) == 0:
        return 0.0
    total = functional.grad_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise NonFiniteError(
            f"The total norm of order {norm_type} for gradients is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm "
            "anyway, set `error_if_nonfinite=False`"
        )
    coefficient = float(max_norm) / (total + 1e-6)
    # min() would return 1.0 for a NaN coefficient; torch's clamp keeps NaN.
    if not coefficient < 1.0 and not math.isnan(coefficient):
        return total
    functional.scale_(grads, coefficient)
    return total


def clip_grad_value_(grads: Sequence[np.ndarray], clip_value: float) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``
    (``torch.nn.utils.clip_grad_value_``); NaN stays NaN."""
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads: expected a list of numpy arrays, got {type(grads).__name__}")
    clip_value = float(clip_value)
    functional.clamp_(grads, -clip_value, clip_value)
