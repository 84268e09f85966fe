"""A drop-in for ``torch.optim`` on CPU: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam`` and ``AdamW``
are subclasses of torch's own classes whose ``step`` runs optikern's fused kernels on zero-copy
NumPy views of the tensors.

Everything but the arithmetic is torch's: the constructors (signatures, defaults, errors),
param groups, ``state_dict``/``load_state_dict`` (older checkpoints get torch's defaults),
``torch.optim.lr_scheduler``, hooks and closures; the state has torch's names and layout and
is created when torch creates it, so a state saved by one loads into the other. ``foreach``
and ``fused`` are accepted and change nothing: every step is one fused pass.

The fused pass serves CPU float32/float64 params with dense row-major (contiguous) params and
gradients. float16/bfloat16 params train with float32 master weights and state
(``state[p]["master_param"]``; set ``opt.rounding = "stochastic"`` and ``opt.seed`` for
stochastic rounding; a param changed between steps, by ``p.copy_()`` or another optimizer,
restarts its master, see the mixed-precision docs). Anything else, on any param (other
devices or layouts, sparse gradients, ``capturable=True``, ``differentiable=True``), runs the
whole step through torch's own implementation: slower, but exactly torch's behaviour.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

try:
    import torch
except ImportError as error:  # pragma: no cover - exercised with torch hidden
    raise ImportError("optikern.torch needs PyTorch: pip install torch") from error

import numpy as np

from . import functional

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "RAdam",
    "RMSprop",
    "SparseAdam",
]

_FULL = (torch.float32, torch.float64)
# 16-bit params train with float32 master weights and state (mixed precision).
_LOWP = (torch.float16, torch.bfloat16)


def _array(t: torch.Tensor) -> np.ndarray:
    """The tensor's memory as a NumPy array (no copy); bfloat16 as ``ml_dtypes.bfloat16``."""
    t = t.detach()
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def _dense(t: torch.Tensor) -> bool:
    """Whether t's elements fill one block of memory without gaps, in any order of its axes."""
    if t.is_contiguous():
        return True
    expected = 1
    for stride, extent in sorted((s, n) for s, n in zip(t.stride(), t.shape) if n > 1):
        if stride != expected:
            return False
        expected *= extent
    return True


def _fused(p: torch.Tensor, state: dict[str, Any]) -> bool:
    """Whether the fused pass can update p and its state in place with its gradient (else
    torch's step)."""
    g = p.grad
    return (
        g is not None
        and p.device.type == "cpu"
        and g.device.type == "cpu"
        and not g.is_sparse
        and (g.dtype == p.dtype or (p.dtype in _LOWP and g.dtype == torch.float32))
        and p.dtype in _FULL + _LOWP
        # any dense layout (channels_last, transposed) whose gradient has the same strides
        and _dense(p)
        and g.stride() == p.stride()
        and all(
            s.stride() == p.stride()
            for s in state.values()
            if isinstance(s, torch.Tensor) and s.shape == p.shape
        )
    )


def _ensure(state: dict[str, Any], name: str, p: torch.Tensor) -> None:
    """Create state[name] (zeros like p) unless it exists."""
    if name not in state:
        state[name] = _state_like(p)


def _rows_ok(p: torch.Tensor) -> bool:
    """Whether p's sparse gradient can be applied by the row kernels: a CPU float32/float64
    table with rows as its first dimension and a COO gradient sparse in that one."""
    g = p.grad
    return (
        g is not None
        and g.is_sparse
        and g.layout == torch.sparse_coo
        and g.sparse_dim() == 1
        and p.dim() >= 1
        and p.device.type == "cpu"
        and p.dtype in _FULL
        and g.dtype == p.dtype
        and p.is_contiguous()
    )


def _state_like(p: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """A state tensor for p, as torch makes it: float32 for 16-bit params."""
    dtype = torch.float32 if p.dtype in _LOWP else p.dtype
    return torch.full_like(p, value, dtype=dtype, memory_format=torch.preserve_format)


class _Dropin(torch.optim.Optimizer):
    """The shared step: torch's own when anything needs it, else per group one fused call per
    (dtype, step count, fresh state) batch, usually one."""

    rounding = "nearest"
    seed = 0
    #: Options the class fixes whatever the groups hold (AdamW's decoupled decay).
    _fixed: ClassVar[dict[str, Any]] = {}

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        """Whether sparse gradients under these options go to the row kernels (else torch's
        step, which applies them, or refuses them, as torch does)."""
        return False

    def _update_rows(
        self,
        group: dict[str, Any],
        p: torch.Tensor,
        state: dict[str, Any],
        indices: np.ndarray,
        values: np.ndarray,
        step: int,
    ) -> None:
        raise NotImplementedError

    def _needs_state(self, group: dict[str, Any]) -> bool:
        """Whether a param keeps state at all under these options (torch's SGD without
        momentum keeps none)."""
        return True

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        """Create p's missing state as torch does; True if the step must treat it as new
        (SGD's momentum buffer then starts as the gradient)."""
        raise NotImplementedError

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        fused = all(
            not group.get("differentiable") and not group.get("capturable")
            for group in self.param_groups
        ) and all(
            (_rows_ok(p) and self._takes_rows(group))
            if p.grad.is_sparse
            else _fused(p, self.state.get(p, {}))
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        )
        if not fused:
            super().step()  # torch's implementation, with torch's checks and errors
            return loss
        if any(p.dtype == torch.bfloat16 for g in self.param_groups for p in g["params"]):
            import ml_dtypes  # noqa: F401  (fail before any state is made)
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        batches: dict[tuple, list[torch.Tensor]] = {}
        fresh_of: dict[int, bool] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                self._step_rows(group, p)
                continue
            lowp = p.dtype in _LOWP
            if self._needs_state(group) or lowp:
                state = self.state[p]
                fresh_of[id(p)] = self._init_state(p, group, state)
                if lowp:  # float32 state (torch's Adagrad made its own at construction)
                    for key, value in state.items():
                        if isinstance(value, torch.Tensor) and value.dtype != torch.float32:
                            state[key] = value.float() if key != "step" else value
                if lowp and "master_param" not in state:
                    state["master_param"] = p.detach().to(
                        torch.float32, memory_format=torch.preserve_format, copy=True
                    )
                step = int(state["step"]) + 1 if "step" in state else 0
            else:
                step = 0
            batches.setdefault((p.dtype, step, fresh_of.get(id(p), False)), []).append(p)
        for (dtype, step, fresh), params in batches.items():
            states = [self.state[p] for p in params] if id(params[0]) in fresh_of else []
            names = {k for s in states for k, v in s.items() if isinstance(v, torch.Tensor)}
            arrays = {
                name: [_array(s[name]) for s in states] for name in names - {"step", "master_param"}
            }
            arrays["grads"] = [_array(p.grad) for p in params]  # type: ignore[arg-type]
            mixed: dict[str, Any] = {}
            if dtype in _LOWP:
                arrays["params"] = [_array(s["master_param"]) for s in states]
                mixed = {
                    "lowp_params": [_array(p) for p in params],
                    "rounding": self.rounding,
                    "seed": self.seed,
                    "stream": step,
                }
            else:
                arrays["params"] = [_array(p) for p in params]
            self._update({**group, **self._fixed}, arrays, step, fresh, mixed)
            for s in states:
                if "step" in s:
                    s["step"] += 1

    def _step_rows(self, group: dict[str, Any], p: torch.Tensor) -> None:
        """One param with a sparse gradient: only the rows it touches change."""
        state = self.state[p] if self._needs_state(group) else {}
        self._init_state(p, group, state)
        step = int(state["step"]) + 1 if "step" in state else 1
        grad = p.grad.coalesce()  # type: ignore[union-attr]
        indices = grad._indices()[0].contiguous().numpy()
        values = grad._values().contiguous().numpy()
        self._update_rows(group, p, state, indices, values, step)
        if "step" in state:
            state["step"] += 1

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


class SGD(_Dropin, torch.optim.SGD):
    """``torch.optim.SGD`` whose step is optikern's fused kernel."""

    def _needs_state(self, group: dict[str, Any]) -> bool:
        return group["momentum"] != 0

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return group["momentum"] == 0 and group["weight_decay"] == 0

    def _update_rows(
        self,
        group: dict[str, Any],
        p: torch.Tensor,
        state: dict[str, Any],
        indices: np.ndarray,
        values: np.ndarray,
        step: int,
    ) -> None:
        functional.sparse_sgd(
            _array(p), indices, values, lr=float(group["lr"]), maximize=group["maximize"]
        )

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if p.dtype in _LOWP and "step" not in state:
            state["step"] = torch.tensor(0.0)  # keys stochastic rounding
        if group["momentum"] == 0 or state.get("momentum_buffer") is not None:
            return False
        # torch's first step copies the gradient into the buffer (the kernel does)
        state["momentum_buffer"] = _state_like(p)
        return True

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        functional.sgd(
            arrays["params"],
            arrays["grads"],
            arrays.get("momentum_buffer") if group["momentum"] != 0 else None,
            lr=float(group["lr"]),
            momentum=group["momentum"],
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            maximize=group["maximize"],
            first_step=fresh,
            **mixed,
        )


class Adagrad(_Dropin, torch.optim.Adagrad):
    """``torch.optim.Adagrad`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "sum" not in state:  # torch's lazy state starts from the defaults' value
            state["step"] = torch.tensor(0.0)
            state["sum"] = _state_like(p, self.defaults["initial_accumulator_value"])
        return False

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return group["weight_decay"] == 0  # torch refuses weight decay with sparse gradients

    def _update_rows(
        self,
        group: dict[str, Any],
        p: torch.Tensor,
        state: dict[str, Any],
        indices: np.ndarray,
        values: np.ndarray,
        step: int,
    ) -> None:
        functional.sparse_adagrad(
            _array(p),
            indices,
            values,
            _array(state["sum"]),
            step=step,
            lr=float(group["lr"]),
            lr_decay=group["lr_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
        )

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        functional.adagrad(
            arrays["params"],
            arrays["grads"],
            arrays["sum"],
            step=step,
            lr=float(group["lr"]),
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=group["maximize"],
            **mixed,
        )


class RMSprop(_Dropin, torch.optim.RMSprop):
    """``torch.optim.RMSprop`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
        _ensure(state, "square_avg", p)
        if group["momentum"] > 0:
            _ensure(state, "momentum_buffer", p)
        if group["centered"]:
            _ensure(state, "grad_avg", p)
        return False

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        functional.rmsprop(
            arrays["params"],
            arrays["grads"],
            arrays["square_avg"],
            arrays["grad_avg"] if group["centered"] else None,
            arrays["momentum_buffer"] if group["momentum"] > 0 else None,
            lr=float(group["lr"]),
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
            centered=group["centered"],
            maximize=group["maximize"],
            **mixed,
        )


class Adam(_Dropin, torch.optim.Adam):
    """``torch.optim.Adam`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
        _ensure(state, "exp_avg", p)
        _ensure(state, "exp_avg_sq", p)
        if group["amsgrad"]:
            _ensure(state, "max_exp_avg_sq", p)
        return False

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        beta1, beta2 = group["betas"]
        functional.adam(
            arrays["params"],
            arrays["grads"],
            arrays["exp_avg"],
            arrays["exp_avg_sq"],
            arrays["max_exp_avg_sq"] if group["amsgrad"] else None,
            step=step,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            maximize=group["maximize"],
            decoupled_weight_decay=group.get("decoupled_weight_decay", False),
            **mixed,
        )


class AdamW(Adam, torch.optim.AdamW):
    """``torch.optim.AdamW`` whose step is optikern's fused kernel."""

    _fixed: ClassVar[dict[str, Any]] = {"decoupled_weight_decay": True}


class Adamax(_Dropin, torch.optim.Adamax):
    """``torch.optim.Adamax`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
        _ensure(state, "exp_avg", p)
        _ensure(state, "exp_inf", p)
        return False

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        beta1, beta2 = group["betas"]
        functional.adamax(
            arrays["params"],
            arrays["grads"],
            arrays["exp_avg"],
            arrays["exp_inf"],
            step=step,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
            **mixed,
        )


class RAdam(_Dropin, torch.optim.RAdam):
    """``torch.optim.RAdam`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
        _ensure(state, "exp_avg", p)
        _ensure(state, "exp_avg_sq", p)
        return False

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        beta1, beta2 = group["betas"]
        functional.radam(
            arrays["params"],
            arrays["grads"],
            arrays["exp_avg"],
            arrays["exp_avg_sq"],
            step=step,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"],
            maximize=group["maximize"],
            **mixed,
        )


class Adadelta(_Dropin, torch.optim.Adadelta):
    """``torch.optim.Adadelta`` whose step is optikern's fused kernel."""

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if "step" not in state:
            state["step"] = torch.zeros(())
        _ensure(state, "square_avg", p)
        _ensure(state, "acc_delta", p)
        return False

    def _update(
        self,
        group: dict[str, Any],
        arrays: dict[str, list[np.ndarray]],
        step: int,
        fresh: bool,
        mixed: dict[str, Any],
    ) -> None:
        functional.adadelta(
            arrays["params"],
            arrays["grads"],
            arrays["square_avg"],
            arrays["acc_delta"],
            lr=float(group["lr"]),
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
            **mixed,
        )


class SparseAdam(_Dropin, torch.optim.SparseAdam):
    """``torch.optim.SparseAdam`` whose step updates the touched rows in one C++ pass."""

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return True

    def _init_state(self, p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> bool:
        if len(state) == 0:  # torch's: a Python int step and zero moments
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return False

    def _update_rows(
        self,
        group: dict[str, Any],
        p: torch.Tensor,
        state: dict[str, Any],
        indices: np.ndarray,
        values: np.ndarray,
        step: int,
    ) -> None:
        beta1, beta2 = group["betas"]
        functional.sparse_adam(
            _array(p),
            indices,
            values,
            _array(state["exp_avg"]),
            _array(state["exp_avg_sq"]),
            step=step,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=group["eps"],
            maximize=group.get("maximize", False),
        )
