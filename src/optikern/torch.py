"""A drop-in for ``torch.optim`` on CPU: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``, ``AdamW``
as ``torch.optim.Optimizer`` subclasses whose step runs optikern's kernels on zero-copy NumPy
views of the tensors.

Param groups, ``state_dict``/``load_state_dict`` (torch's own), ``torch.optim.lr_scheduler``
and closures work as with ``torch.optim``; the state has torch's names and layout, so a state
saved by one loads into the other. CPU float32/float64 tensors, and float16/bfloat16 ones trained with
float32 master weights and state (set ``opt.rounding = "stochastic"`` and ``opt.seed`` for
stochastic rounding; a param changed between steps, by ``p.copy_()`` or another optimizer,
restarts its master, see the mixed-precision docs); other devices, dtypes,
sparse or non-contiguous tensors raise ``TypeError``/``ValueError`` before anything changes.
"""

from __future__ import annotations

from typing import Any, Callable

try:
    import torch
except ImportError as error:  # pragma: no cover - exercised with torch hidden
    raise ImportError("optikern.torch needs PyTorch: pip install torch") from error

import numpy as np

from . import functional

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "RMSprop"]

_DTYPES = (torch.float32, torch.float64)
# 16-bit params train with float32 master weights and state (mixed precision).
_LOWP = (torch.float16, torch.bfloat16)
# torch.optim's implementation switches: accepted at their defaults (they choose among torch's
# own implementations, which optikern replaces), refused otherwise.
_SWITCHES = {"foreach": None, "fused": None, "capturable": False, "differentiable": False}


def _switches(**given: Any) -> dict[str, Any]:
    for name, value in given.items():
        if value not in (None, False):
            raise ValueError(f"{name}={value!r}: optikern.torch has its own fused CPU kernels")
    return {name: _SWITCHES[name] for name in given}


def _array(t: torch.Tensor) -> np.ndarray:
    """The tensor's memory as a NumPy array (no copy); bfloat16 as ``ml_dtypes.bfloat16``."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _grad(p: torch.Tensor) -> torch.Tensor:
    """p's gradient (a step passes the kernels only params that have one)."""
    grad = p.grad
    if grad is None:
        raise ValueError("optikern.torch: a param without a gradient reached the kernels")
    return grad


def _check(p: torch.Tensor, where: str) -> None:
    """Refuse what the kernels could only reach through a copy."""
    grad = p.grad
    if grad is None:
        raise ValueError(f"{where}: the param has no gradient to check")
    if p.device.type != "cpu":
        raise ValueError(f"{where}: optikern.torch runs on CPU tensors, got device {p.device}")
    if p.dtype not in _DTYPES + _LOWP:
        raise TypeError(
            f"{where}: expected a float32, float64, float16 or bfloat16 tensor, got {p.dtype}"
        )
    if grad.is_sparse:
        raise ValueError(f"{where}: sparse gradients are not supported")
    allowed = (p.dtype, torch.float32) if p.dtype in _LOWP else (p.dtype,)
    if grad.device.type != "cpu" or grad.dtype not in allowed:
        raise TypeError(
            f"{where}: expected a {p.dtype} CPU gradient, got {grad.dtype} on {grad.device}"
        )
    if not p.is_contiguous() or not grad.is_contiguous():
        raise ValueError(f"{where}: expected contiguous tensors (param and gradient)")


def _zeros(p: torch.Tensor) -> torch.Tensor:
    """A state tensor for p: float32 for 16-bit params."""
    dtype = torch.float32 if p.dtype in _LOWP else p.dtype
    return torch.zeros(p.shape, dtype=dtype)


class _Optimizer(torch.optim.Optimizer):
    """Shared step: check every param with a gradient, then one kernel call per group (per
    distinct step count and param dtype, usually one). 16-bit params keep a float32
    ``master_param`` in their state and are rewritten from it by ``rounding``."""

    rounding = "nearest"
    seed = 0
    _kernel: str  # functional.CHECK_OPTIONS checks its options (torch's messages)

    def _kernel_params(
        self, params: list[torch.Tensor], states: list[dict[str, Any]]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        """The arrays the kernel updates, and the functional's mixed-precision keywords."""
        if params[0].dtype not in _LOWP:
            return [_array(p) for p in params], {}
        for p, state in zip(params, states):
            if "master_param" not in state:
                state["master_param"] = p.detach().to(torch.float32).clone()
        step = int(states[0]["step"]) + 1 if "step" in states[0] else 0
        return [_array(s["master_param"]) for s in states], {
            "lowp_params": [_array(p) for p in params],
            "rounding": self.rounding,
            "seed": self.seed,
            "stream": step,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's, keeping the float32 state of 16-bit params float32 (torch would cast it
        to the param's dtype)."""
        params = [p for g in self.param_groups for p in g["params"]]
        keep = {
            (index, key): value.detach().clone()
            for index, entries in state_dict["state"].items()
            if isinstance(index, int) and index < len(params) and params[index].dtype in _LOWP
            for key, value in entries.items()
            if isinstance(value, torch.Tensor) and key != "step"
        }
        super().load_state_dict(state_dict)
        for (index, key), value in keep.items():
            self.state[params[index]][key] = value.to(torch.float32)

    def _state_for(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _run(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        states: list[dict[str, Any]],
        step: int,
        first: bool,
    ) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                if p.grad is not None:
                    _check(p, f"param_groups[{i}]['params'][{j}]")
        for group in self.param_groups:
            batches: dict[tuple, tuple[list, list]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                first = not self.state[p] or (
                    p.dtype in _LOWP and set(self.state[p]) == {"master_param"}
                )
                state = self._state_for(p, group)
                key = (int(state["step"]) + 1 if "step" in state else 0, first, p.dtype)
                params, states = batches.setdefault(key, ([], []))
                params.append(p)
                states.append(state)
            for (step, first, _), (params, states) in batches.items():
                self._run(group, params, states, step, first)
                for state in states:
                    if "step" in state:
                        state["step"] += 1
        return loss


class SGD(_Optimizer):
    """``torch.optim.SGD`` on optikern's kernels (same signature and state)."""

    _kernel = "sgd"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            **_switches(foreach=foreach, differentiable=differentiable, fused=fused),
        )
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults)

    def _state_for(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if group["momentum"] != 0 and state.get("momentum_buffer") is None:
            state["momentum_buffer"] = None  # torch's first-step rule: filled from the gradient
        return state

    def _run(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        states: list[dict[str, Any]],
        step: int,
        first: bool,
    ) -> None:
        buffers = None
        first_step = False
        if group["momentum"] != 0:
            first_step = any(s["momentum_buffer"] is None for s in states)
            if first_step and not all(s["momentum_buffer"] is None for s in states):
                for s, p in zip(states, params):  # mixed: run the two kinds separately
                    self._run(group, [p], [s], step, first)
                return
            for s, p in zip(states, params):
                if s["momentum_buffer"] is None:
                    s["momentum_buffer"] = _zeros(p)
            buffers = [_array(s["momentum_buffer"]) for s in states]
        kernel_params, mixed = self._kernel_params(params, states)
        functional.sgd(
            kernel_params,
            [_array(_grad(p)) for p in params],
            buffers,
            lr=float(group["lr"]),
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
            first_step=first_step,
            **mixed,
        )


class Adagrad(_Optimizer):
    """``torch.optim.Adagrad`` on optikern's kernels (same signature and state)."""

    _kernel = "adagrad"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
            **_switches(foreach=foreach, differentiable=differentiable, fused=fused),
        )
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults)
        for group in self.param_groups:  # torch creates Adagrad's state at construction
            for p in group["params"]:
                state = self.state[p]
                state["step"] = torch.tensor(0.0)
                state["sum"] = _zeros(p) + group["initial_accumulator_value"]

    def _state_for(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return self.state[p]

    def _run(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        states: list[dict[str, Any]],
        step: int,
        first: bool,
    ) -> None:
        kernel_params, mixed = self._kernel_params(params, states)
        functional.adagrad(
            kernel_params,
            [_array(_grad(p)) for p in params],
            [_array(s["sum"]) for s in states],
            step=step,
            lr=float(group["lr"]),
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            **mixed,
        )


class RMSprop(_Optimizer):
    """``torch.optim.RMSprop`` on optikern's kernels (same signature and state)."""

    _kernel = "rmsprop"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
            **_switches(capturable=capturable, foreach=foreach, differentiable=differentiable),
        )
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults)

    def _state_for(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["square_avg"] = _zeros(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros(p)
            if group["centered"]:
                state["grad_avg"] = _zeros(p)
        return state

    def _run(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        states: list[dict[str, Any]],
        step: int,
        first: bool,
    ) -> None:
        kernel_params, mixed = self._kernel_params(params, states)
        functional.rmsprop(
            kernel_params,
            [_array(_grad(p)) for p in params],
            [_array(s["square_avg"]) for s in states],
            [_array(s["grad_avg"]) for s in states] if group["centered"] else None,
            [_array(s["momentum_buffer"]) for s in states] if group["momentum"] > 0 else None,
            lr=float(group["lr"]),
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
            **mixed,
        )


class Adam(_Optimizer):
    """``torch.optim.Adam`` on optikern's kernels (same signature and state)."""

    _kernel = "adam"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            **_switches(
                foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused
            ),
        )
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults)

    def _state_for(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = _zeros(p)
            state["exp_avg_sq"] = _zeros(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros(p)
        return state

    def _run(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        states: list[dict[str, Any]],
        step: int,
        first: bool,
    ) -> None:
        beta1, beta2 = group["betas"]
        kernel_params, mixed = self._kernel_params(params, states)
        functional.adam(
            kernel_params,
            [_array(_grad(p)) for p in params],
            [_array(s["exp_avg"]) for s in states],
            [_array(s["exp_avg_sq"]) for s in states],
            [_array(s["max_exp_avg_sq"]) for s in states] if group["amsgrad"] else None,
            step=step,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            **mixed,
        )


class AdamW(Adam):
    """``torch.optim.AdamW`` on optikern's kernels (same signature and state)."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )
