"""torch.optim's for-loop, foreach and fused implementations, and DeepSpeed's CPU Adam, when
installed. Each maker returns a step function or None when the variant does not exist."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str | None:
    """torch's version, None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def make(
    variant: str, optimizer: str, kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[np.ndarray]], None] | None:
    import torch

    tensors = [torch.from_numpy(p) for p in params]  # shares memory with params
    for t in tensors:
        t.requires_grad_(True)
    flag = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}[
        variant
    ]
    try:
        opt = getattr(torch.optim, optimizer)(tensors, **kwargs, **flag)
    except (RuntimeError, TypeError, ValueError):
        return None  # e.g. no fused RMSprop

    def step(grads: list[np.ndarray]) -> None:
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g)
        opt.step()

    return step


def make_deepspeed(
    optimizer: str, kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[np.ndarray]], None] | None:
    if optimizer not in ("Adam", "AdamW"):
        return None
    try:
        import torch
        from deepspeed.ops.adam import DeepSpeedCPUAdam
    except Exception:  # noqa: BLE001 - any failure to import or JIT-build means "not available"
        return None
    tensors = [torch.from_numpy(p).requires_grad_(True) for p in params]
    opt = DeepSpeedCPUAdam(
        tensors,
        lr=kwargs.get("lr", 1e-3),
        weight_decay=kwargs.get("weight_decay", 0.0),
        adamw_mode=optimizer == "AdamW",
    )

    def step(grads: list[np.ndarray]) -> None:
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g)
        opt.step()

    return step


def get_threads() -> int | None:
    """torch's intra-op thread count, None when torch is not installed."""
    if not available():
        return None
    import torch

    return int(torch.get_num_threads())


def set_threads(n: int) -> None:
    if available():
        import torch

        torch.set_num_threads(n)
