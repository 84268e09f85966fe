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
from torch.optim.optimizer import _get_scalar_dtype

from . import functional

__all__ = [
    "ASGD",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
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
    #: The kernel (``functional.STATE_NAMES``' keys) whose update the class runs.
    _kernel: str
    #: Options the class fixes whatever the groups hold (AdamW's decoupled decay).
    _fixed: ClassVar[dict[str, Any]] = {}

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        """Whether sparse gradients under these options go to the row kernels (else torch's
        step, which applies them, or refuses them, as torch does)."""
        return False

    def _options(self, group: dict[str, Any]) -> dict[str, Any]:
        """The group's options as the kernel reads them (torch's keys)."""
        return {**group, **self._fixed}

    def _init_state(self, p: torch.Tensor, fill: dict[str, float], state: dict[str, Any]) -> bool:
        """Create p's missing state as torch does (``fill``: the state the options use, with
        its initial values); True if any was made (SGD's buffer then starts as the gradient)."""
        if (functional.COUNTS_STEPS[self._kernel] or p.dtype in _LOWP) and "step" not in state:
            state["step"] = torch.tensor(0.0)
        fresh = False
        scalars = functional.SCALAR_STATE_NAMES[self._kernel]
        for name, value in fill.items():
            if state.get(name) is None:
                state[name] = (
                    torch.tensor(value, dtype=_get_scalar_dtype())
                    if name in scalars
                    else _state_like(p, value)
                )
                fresh = True
        return fresh

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
        options = self._options(group)
        fill = functional.STATE_FILL[self._kernel](options)
        keeps_state = bool(fill) or functional.COUNTS_STEPS[self._kernel]
        batches: dict[tuple, list[torch.Tensor]] = {}
        fresh_of: dict[int, bool] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                self._step_rows(options, fill, keeps_state, p)
                continue
            lowp = p.dtype in _LOWP
            if keeps_state or lowp:  # torch's SGD without momentum keeps no state
                state = self.state[p]
                fresh_of[id(p)] = self._init_state(p, fill, state)
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
            functional._step(
                self._kernel,
                arrays["params"],
                arrays["grads"],
                [arrays.get(name) for name in functional.STATE_NAMES[self._kernel]],
                options,
                step,
                fresh,
                **mixed,
            )
            for s in states:
                if "step" in s:
                    s["step"] += 1

    def _step_rows(
        self, options: dict[str, Any], fill: dict[str, float], keeps_state: bool, p: torch.Tensor
    ) -> None:
        """One param with a sparse gradient: only the rows it touches change."""
        state = self.state[p] if keeps_state else {}
        self._init_state(p, fill, state)
        step = int(state["step"]) + 1 if "step" in state else 1
        grad = p.grad.coalesce()  # type: ignore[union-attr]
        names = functional.STATE_NAMES[self._kernel]
        functional._rows_step(
            self._kernel,
            _array(p),
            grad._indices()[0].contiguous().numpy(),
            grad._values().contiguous().numpy(),
            [_array(state[name]) if name in state else None for name in names],
            options,
            step,
        )
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

    _kernel = "sgd"

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return group["momentum"] == 0 and group["weight_decay"] == 0


class Adagrad(_Dropin, torch.optim.Adagrad):
    """``torch.optim.Adagrad`` whose step is optikern's fused kernel."""

    _kernel = "adagrad"

    def _options(self, group: dict[str, Any]) -> dict[str, Any]:
        # torch's lazy state starts from the defaults' value, whatever the group says
        return {**group, "initial_accumulator_value": self.defaults["initial_accumulator_value"]}

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return group["weight_decay"] == 0  # torch refuses weight decay with sparse gradients


class RMSprop(_Dropin, torch.optim.RMSprop):
    """``torch.optim.RMSprop`` whose step is optikern's fused kernel."""

    _kernel = "rmsprop"


class Adam(_Dropin, torch.optim.Adam):
    """``torch.optim.Adam`` whose step is optikern's fused kernel."""

    _kernel = "adam"


class AdamW(Adam, torch.optim.AdamW):
    """``torch.optim.AdamW`` whose step is optikern's fused kernel."""

    _fixed: ClassVar[dict[str, Any]] = {"decoupled_weight_decay": True}


class Adamax(_Dropin, torch.optim.Adamax):
    """``torch.optim.Adamax`` whose step is optikern's fused kernel."""

    _kernel = "adamax"


class RAdam(_Dropin, torch.optim.RAdam):
    """``torch.optim.RAdam`` whose step is optikern's fused kernel."""

    _kernel = "radam"


class Adadelta(_Dropin, torch.optim.Adadelta):
    """``torch.optim.Adadelta`` whose step is optikern's fused kernel."""

    _kernel = "adadelta"


class NAdam(_Dropin, torch.optim.NAdam):
    """``torch.optim.NAdam`` whose step is optikern's fused kernel."""

    _kernel = "nadam"


class Rprop(_Dropin, torch.optim.Rprop):
    """``torch.optim.Rprop`` whose step is optikern's fused kernel."""

    _kernel = "rprop"


class ASGD(_Dropin, torch.optim.ASGD):
    """``torch.optim.ASGD`` whose step is optikern's fused kernel."""

    _kernel = "asgd"


class SparseAdam(_Dropin, torch.optim.SparseAdam):
    """``torch.optim.SparseAdam`` whose step updates the touched rows in one C++ pass."""

    _kernel = "sparse_adam"

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return True

    def _init_state(self, p: torch.Tensor, fill: dict[str, float], state: dict[str, Any]) -> bool:
        if len(state) == 0:  # torch's: a Python int step and zero moments
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return False
