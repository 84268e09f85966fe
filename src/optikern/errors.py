"""Exceptions of optikern beyond the built-in TypeError/ValueError for bad arguments."""

from __future__ import annotations

__all__ = ["NonFiniteError"]


class NonFiniteError(ValueError, RuntimeError):
    """A gradient or norm holds NaN or infinity and the chosen policy is to refuse it.

    Raised before anything is written. It is a ``ValueError`` like every other refused input,
    and a ``RuntimeError`` like the error of ``torch.nn.utils.clip_grad_norm_`` with
    ``error_if_nonfinite=True``.
    """
