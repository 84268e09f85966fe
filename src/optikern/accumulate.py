"""Gradient accumulation: sum (or average) the gradients of several micro-batches into
preallocated buffers, then step once with the result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["GradientAccumulator"]


class GradientAccumulator:
    """Buffers shaped like the params that add up ``steps`` micro-batch gradients.

    ::

        acc = GradientAccumulator(params, steps=4)
        for x, y in micro_batches:
            acc.add(backward(x, y))
            if acc.ready:
                opt.step(acc.grads)   # the mean of the 4 gradients
                acc.zero()

    Parameters
    ----------
    params : list of numpy.ndarray
        The arrays whose gradients are accumulated (shapes; float dtypes kept, 16-bit ones
        accumulate in float32).
    steps : int
        Micro-batches per optimizer step.
    average : bool, default True
        ``grads`` is the mean of the added gradients (else their sum).
    """

    def __init__(self, params: Sequence[np.ndarray], steps: int, average: bool = True) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
        self.steps = steps
        self.average = average
        self.buffers = [
            np.zeros(p.shape, dtype=p.dtype if p.dtype.itemsize >= 4 else np.float32)
            for p in params
        ]
        self.count = 0
        self._scaled = False  # grads already divided by count

    @property
    def ready(self) -> bool:
        """True once ``steps`` gradients were added."""
        return self.count >= self.steps

    @property
    def grads(self) -> list[np.ndarray]:
        """The accumulated gradients (scaled to the mean in place when ``average``)."""
        if self.average and self.count > 1 and not self._scaled:
            for b in self.buffers:
                np.multiply(b, 1.0 / self.count, out=b)
            self._scaled = True
        return self.buffers

    def add(self, grads: Sequence[np.ndarray]) -> None:
        """Add one micro-batch's gradients (no allocation)."""
        if len(grads) != len(self.buffers):
            raise ValueError(f"grads: expected {len(self.buffers)} arrays, got {len(grads)}")
        for i, (b, g) in enumerate(zip(self.buffers, grads)):
            if not isinstance(g, np.ndarray) or g.shape != b.shape:
                raise ValueError(f"grads[{i}]: expected an array of shape {b.shape}")
            np.add(b, g, out=b, casting="same_kind")
        self.count += 1

    def zero(self) -> None:
        """Start the next accumulation."""
        for b in self.buffers:
            b.fill(0)
        self.count = 0
        self._scaled = False
