"""torch.optim's for-loop, foreach and fused implementations (for Lion and LAMB, which
torch.optim lacks, their update in torch operations), and DeepSpeed's CPU Adam and Lion, when
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
    if optimizer in UPDATES:  # not in torch.optim: what its users run instead
        return _tensor_steps(UPDATES[optimizer], variant, kwargs, tensors)
    try:
        opt = getattr(torch.optim, optimizer)(tensors, **kwargs, **flag)
    except (RuntimeError, TypeError, ValueError):
        return None  # e.g. no fused RMSprop

    def step(grads: list[np.ndarray]) -> None:
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g)
        opt.step()

    return step


def lion_update(
    foreach: bool,
    kwargs: dict[str, Any],
    step: int,
    params: list[Any],
    grads: list[Any],
    exp_avgs: list[Any],
) -> None:
    """lion-pytorch's update_fn per tensor, or the same with torch's _foreach ops (lerp:
    one pass per moving average)."""
    import torch

    lr, wd = kwargs.get("lr", 1e-4), kwargs.get("weight_decay", 0.0)
    beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
    if foreach:
        torch._foreach_mul_(params, 1 - lr * wd)
        signs = torch._foreach_lerp(exp_avgs, grads, 1 - beta1)
        torch._foreach_sign_(signs)
        torch._foreach_add_(params, signs, alpha=-lr)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta2)
        return
    for p, g, m in zip(params, grads, exp_avgs):
        p.mul_(1 - lr * wd)
        p.add_(m.clone().mul_(beta1).add(g, alpha=1 - beta1).sign_(), alpha=-lr)
        m.mul_(beta2).add_(g, alpha=1 - beta2)


def lamb_update(
    foreach: bool,
    kwargs: dict[str, Any],
    step: int,
    params: list[Any],
    grads: list[Any],
    exp_avgs: list[Any],
    exp_avg_sqs: list[Any],
) -> None:
    """optax's lamb (without bounds) per tensor, or with torch's _foreach ops (norms from
    torch._foreach_norm)."""
    import torch

    lr, eps = kwargs.get("lr", 1e-3), kwargs.get("eps", 1e-6)
    wd = kwargs.get("weight_decay", 0.0)
    beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
    bias1, bias2 = 1 - beta1**step, 1 - beta2**step
    if foreach:
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        denoms = torch._foreach_div(exp_avg_sqs, bias2)
        torch._foreach_sqrt_(denoms)
        torch._foreach_add_(denoms, eps)
        updates = torch._foreach_div(exp_avgs, denoms)
        torch._foreach_div_(updates, bias1)
        torch._foreach_add_(updates, params, alpha=wd)
        ratios = [
            a / b if a > 0 and b > 0 else 1.0
            for a, b in zip(torch._foreach_norm(params), torch._foreach_norm(updates))
        ]
        torch._foreach_mul_(updates, [-lr * float(r) for r in ratios])
        torch._foreach_add_(params, updates)
        return
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        u = (m / bias1) / ((v / bias2).sqrt_().add_(eps))
        u.add_(p, alpha=wd)
        param_norm, update_norm = float(p.norm()), float(u.norm())
        ratio = param_norm / update_norm if param_norm > 0 and update_norm > 0 else 1.0
        p.add_(u, alpha=-lr * ratio)


#: Optimizers torch.optim lacks: their update in torch operations and the state it keeps.
UPDATES: dict[str, tuple[Callable[..., None], int]] = {"Lion": (lion_update, 1)}
UPDATES["LAMB"] = (lamb_update, 2)


def _tensor_steps(
    update: tuple[Callable[..., None], int],
    variant: str,
    kwargs: dict[str, Any],
    tensors: list[Any],
) -> Callable[[list[Any]], None] | None:
    import torch

    if variant == "fused":
        return None
    fn, n_state = update
    states = [[torch.zeros_like(t) for t in tensors] for _ in range(n_state)]
    params = [t.detach() for t in tensors]
    count = [0]

    def step(grads: list[np.ndarray]) -> None:
        count[0] += 1
        tensor_grads = [torch.from_numpy(g) for g in grads]
        with torch.no_grad():
            fn(variant == "foreach", kwargs, count[0], params, tensor_grads, *states)

    return step


def make_deepspeed(
    optimizer: str, kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[np.ndarray]], None] | None:
    if optimizer == "Lion":
        return _deepspeed_lion(kwargs, params)
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


def _deepspeed_lion(
    kwargs: dict[str, Any], params: list[np.ndarray]
) -> Callable[[list[Any]], None] | None:
    try:
        import torch
        from deepspeed.ops.lion import DeepSpeedCPULion
    except Exception:  # noqa: BLE001 - any failure to import or JIT-build means "not available"
        return None
    tensors = [torch.from_numpy(p).requires_grad_(True) for p in params]
    opt = DeepSpeedCPULion(
        tensors,
        lr=kwargs.get("lr", 1e-4),
        betas=kwargs.get("betas", (0.9, 0.99)),
        weight_decay=kwargs.get("weight_decay", 0.0),
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
