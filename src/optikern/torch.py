"""A drop-in for ``torch.optim`` on CPU: ``SGD``, ``Adagrad``, ``RMSprop``, ``Adam`` and ``AdamW``
are subclasses of torch's own classes whose ``step`` runs optikern's fused kernels on zero-copy
NumPy views of the tensors. ``Lion`` and ``LAMB``, which torch.optim lacks, subclass
``torch.optim.Optimizer`` with lion-pytorch's and optax's signatures.

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

import weakref
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
    "LAMB",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "Adam8bit",
    "AdamW",
    "AdamW8bit",
    "Adamax",
    "Lion",
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
    state_bits = 32
    min_8bit_size = 4096
    #: The kernel (``functional.STATE_NAMES``' keys) whose update the class runs.
    _kernel: str
    #: Options the class fixes whatever the groups hold (AdamW's decoupled decay).
    _fixed: ClassVar[dict[str, Any]] = {}
    #: Whether the fused pass needs params of >= 2 dims row-major (factored state's rows).
    _row_major: ClassVar[bool] = False
    #: The arrays of the last fused step while they still fit (torch's __getstate__ drops it).
    _plan: _Plan | None = None

    def __init__(
        self, *args: Any, state_bits: int = 32, min_8bit_size: int = 4096, **kwargs: Any
    ) -> None:
        if state_bits not in (8, 32) or isinstance(state_bits, bool):
            raise ValueError(f"state_bits: expected 32 or 8, got {state_bits!r}")
        if state_bits == 8 and functional.STATE_SIGNED[self._kernel] is None:
            raise ValueError(
                f"state_bits: {type(self).__name__} keeps no running average to store in 8 bits"
            )
        if isinstance(min_8bit_size, bool) or not isinstance(min_8bit_size, int):
            raise TypeError(f"min_8bit_size: expected an int, got {min_8bit_size!r}")
        super().__init__(*args, **kwargs)
        self.state_bits = state_bits
        self.min_8bit_size = min_8bit_size

    def _mixed(self, params: list[torch.Tensor], step: int) -> dict[str, Any]:
        """The mixed-precision arguments of a step of 16-bit params (their masters passed as
        the params); the stochastic stream is the step."""
        return {
            "lowp_params": [_array(p) for p in params],
            "rounding": self.rounding,
            "seed": self.seed,
            "stream": step,
        }

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
            shape = functional.state_shape(self._kernel, name, tuple(p.shape))
            if state.get(name) is None and shape is not None:
                if name in scalars:
                    state[name] = torch.tensor(value, dtype=_get_scalar_dtype())  # type: ignore[no-untyped-call]
                elif shape == p.shape:
                    state[name] = _state_like(p, value)
                else:  # factored (Adafactor's row_var, col_var), as torch's new_zeros
                    state[name] = p.new_full(shape, value, dtype=_state_like(p).dtype)
                fresh = True
        return fresh

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        plan = self._plan
        if plan is not None and plan.run(self):
            return loss
        self._plan = None
        fused = all(
            not group.get("differentiable") and not group.get("capturable")
            for group in self.param_groups
        ) and all(
            (_rows_ok(p) and self._takes_rows(group))
            if p.grad.is_sparse
            else _fused(p, self.state.get(p, {}))
            and (not self._row_major or p.dim() < 2 or p.is_contiguous())
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        )
        if self.state_bits == 8:
            for group in self.param_groups:
                _Blockwise8bit(self, group).step()
            return loss
        if not fused:
            self._unfused_step()
            return loss
        if any(p.dtype == torch.bfloat16 for g in self.param_groups for p in g["params"]):
            import ml_dtypes  # noqa: F401  (fail before any state is made)
        for group in self.param_groups:
            self._step_group(group)
        self._plan = _Plan.of(self)
        return loss

    def _unfused_step(self) -> None:
        """torch's implementation, with torch's checks and errors."""
        super().step()

    def _step_group(self, group: dict[str, Any]) -> None:
        options = self._options(group)
        fill = functional.STATE_FILL[self._kernel](options)
        keeps_state = bool(fill) or functional.COUNTS_STEPS[self._kernel]
        batches: dict[tuple[Any, ...], list[torch.Tensor]] = {}
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
            arrays: dict[str, Any] = {  # None: state a param's shape does not keep
                name: [_array(s[name]) if name in s else None for s in states]
                for name in names - {"step", "master_param"}
            }
            arrays["grads"] = [_array(p.grad) for p in params]  # type: ignore[arg-type]
            mixed: dict[str, Any] = {}
            if dtype in _LOWP:
                arrays["params"] = [_array(s["master_param"]) for s in states]
                mixed = self._mixed(params, step)
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

    def state_dict(self) -> dict[str, Any]:
        """torch's; with 8-bit state, bitsandbytes' layout: the codes, scales and code maps of
        each param inside its ``"__bnb_optimizer_quant_state__"`` dict (FSDP then leaves
        them alone), so ``bitsandbytes.optim`` and optikern load each other's checkpoints."""
        saved = super().state_dict()
        if self.state_bits == 8:
            saved["state"] = {index: _wrap_quant_state(s) for index, s in saved["state"].items()}
        return saved

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self._plan = None
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's, keeping the float32 state of 16-bit params float32 (torch would cast it
        to the param's dtype) and 8-bit codes uint8 (bitsandbytes' layout is read too)."""
        if any(_QUANT_STATE in s for s in state_dict["state"].values() if isinstance(s, dict)):
            state_dict = {
                **state_dict,
                "state": {
                    index: _unwrap_quant_state(s) for index, s in state_dict["state"].items()
                },
            }
        params = [p for g in self.param_groups for p in g["params"]]
        keep = {
            (index, key): value.detach().clone()
            for index, entries in state_dict["state"].items()
            if isinstance(index, int) and index < len(params)
            for key, value in entries.items()
            if isinstance(value, torch.Tensor)
            and key != "step"
            and (params[index].dtype in _LOWP or value.dtype == torch.uint8)
        }
        self._plan = None
        super().load_state_dict(state_dict)
        for (index, key), value in keep.items():  # 8-bit codes stay uint8 (as bitsandbytes)
            self.state[params[index]][key] = (
                value if value.dtype == torch.uint8 else value.to(torch.float32)
            )


class _Plan:
    """The arrays of the last fused step, reused while nothing they were made from changed:
    per group the same params (same memory) with dense gradients of their dtype and strides,
    the same state tensors (same memory), the same state names in use, one step count. Only
    the gradients' views are made per step (an unchanged gradient tensor keeps its view); the
    group dict is read live (schedulers change lr every step). Anything else sends the step
    down the full path, which makes a new plan."""

    def __init__(self, groups: list[_GroupPlan]) -> None:
        self.groups = groups

    @classmethod
    def of(cls, opt: _Dropin) -> _Plan | None:
        """The plan of opt's current params and state, if the fast path serves them all:
        float32/float64 params with dense gradients, state made, one step count per group."""
        if opt.state_bits != 32:
            return None
        groups = []
        for group in opt.param_groups:
            plan = _GroupPlan.of(opt, group)
            if plan is None:
                return None
            groups.append(plan)
        return cls(groups)

    def run(self, opt: _Dropin) -> bool:
        """One step from the plan; False (nothing done) if it no longer fits."""
        if opt.state_bits != 32:
            return False
        calls = []
        for plan in self.groups:
            call = plan.call(opt)
            if call is None:
                return False
            calls.append(call)
        kernel_step = functional._STEPS[opt._kernel]  # functional._step without its wrapper
        for plan, (grads, options, step) in zip(self.groups, calls):
            kernel_step(plan.arrays, grads, plan.states, options, step, False, False, False, None)
            for count in plan.steps:  # torch's float32 step count, written (+= costs 1.7 us)
                count[()] = step
        return True


def _dead() -> None:
    """A weak reference that never matches a gradient."""


class _GroupPlan:
    def __init__(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        self.group = group
        self.params = params
        self.layout = [(p.data_ptr(), p.numel(), p.stride(), p.dtype) for p in params]
        self.arrays = [_array(p) for p in params]
        self.states: list[list[np.ndarray | None] | None] = []
        self.kept: list[tuple[dict[str, Any], str, torch.Tensor, int]] = []
        self.steps: list[np.ndarray] = []
        self.in_use: dict[str, float] = {}
        self.reshaped = True  # whether the class's _options changes the group
        self.ids = [id(p) for p in params]
        # per param: a weak reference to the gradient seen last, its address and its view
        self.grads: list[list[Any]] = [[_dead, 0, None] for _ in params]

    @classmethod
    def of(cls, opt: _Dropin, group: dict[str, Any]) -> _GroupPlan | None:
        params = list(group["params"])
        if not all(
            p.grad is not None and not p.grad.is_sparse and p.dtype in _FULL for p in params
        ):
            return None
        plan = cls(group, params)
        states = [opt.state.get(p, {}) for p in params]
        for name in (*functional.STATE_NAMES[opt._kernel], "step"):
            tensors = [s.get(name) for s in states]
            if not any(isinstance(t, torch.Tensor) for t in tensors):
                if name != "step":
                    plan.states.append(None)
                continue
            absent_ok = [  # None where the param's shape keeps no such state (Adafactor's)
                name != "step" and functional.state_shape(opt._kernel, name, tuple(p.shape)) is None
                for p in params
            ]
            if not all(
                isinstance(t, torch.Tensor) or (t is None and k) for t, k in zip(tensors, absent_ok)
            ):
                return None
            plan.kept += [
                (s, name, t, t.data_ptr()) for s, t in zip(states, tensors) if t is not None
            ]
            if name == "step":
                if len({float(t) for t in tensors}) > 1 or any(t.dim() for t in tensors):
                    return None
                plan.steps = [_array(t) for t in tensors]
            else:
                plan.states.append([None if t is None else _array(t) for t in tensors])
        plan.in_use = functional.STATE_FILL[opt._kernel](opt._options(group))
        plan.reshaped = bool(opt._fixed) or type(opt)._options is not _Dropin._options
        return plan

    def call(self, opt: _Dropin) -> tuple[list[np.ndarray], dict[str, Any], int] | None:
        """The rest of this group's kernel call (gradients, options, step), or None if the
        plan no longer fits."""
        group = self.group
        if [*map(id, group["params"])] != self.ids:
            return None
        if group.get("differentiable") or group.get("capturable"):
            return None
        grads = []
        for p, (ptr, numel, stride, dtype), cached in zip(self.params, self.layout, self.grads):
            g = p.grad
            if g is None or p.data_ptr() != ptr or p.numel() != numel or p.dtype != dtype:
                return None
            if cached[0]() is not g or cached[1] != g.data_ptr():
                if g.is_sparse or g.device.type != "cpu" or g.dtype != dtype:
                    return None
                if g.stride() != stride:
                    return None
                cached[:] = weakref.ref(g), g.data_ptr(), _array(g)
            grads.append(cached[2])
        for state, name, t, ptr in self.kept:
            if state.get(name) is not t or t.data_ptr() != ptr:
                return None
        # the group itself when the class reads it as it is (no copy)
        options = opt._options(group) if self.reshaped else group
        if functional.STATE_FILL[opt._kernel](options) != self.in_use:
            return None  # an option switched a state on or off (amsgrad, momentum, ...)
        return grads, options, int(self.steps[0]) + 1 if self.steps else 0


_QUANT_STATE = "__bnb_optimizer_quant_state__"  # bitsandbytes' key for the 8-bit arrays
_QUANT_KEYS = frozenset(f"{kind}{k}" for kind in ("state", "absmax", "qmap") for k in range(1, 4))


def _wrap_quant_state(state: Any) -> Any:
    if not isinstance(state, dict):
        return state
    inner = {k: v for k, v in state.items() if k in _QUANT_KEYS}
    outer = {k: v for k, v in state.items() if k not in _QUANT_KEYS}
    return {**outer, _QUANT_STATE: inner} if inner else outer


def _unwrap_quant_state(state: Any) -> Any:
    if not isinstance(state, dict) or _QUANT_STATE not in state:
        return state
    outer = {k: v for k, v in state.items() if k != _QUANT_STATE}
    return {**outer, **state[_QUANT_STATE]}


class _Blockwise8bit:
    """One param group's step with 8-bit state, in bitsandbytes' layout: state k of the kernel
    (in ``functional.STATE_NAMES`` order) is ``state{k+1}`` (uint8 codes), ``absmax{k+1}``
    (float32, one per block of 256) and ``qmap{k+1}`` (the dynamic code map, signed for
    ``exp_avg``), ``step`` an int; params of fewer than ``min_8bit_size`` elements keep float32
    ``state{k+1}``; per-param 0-d state (NAdam's ``mu_product``) keeps torch's name and
    float32 tensor. A checkpoint moves between this layout and ``bitsandbytes.optim``'s, and
    torch.optim's float32 state (``exp_avg``, ...) found in ``state[p]`` is converted."""

    _maps: ClassVar[dict[bool, torch.Tensor]] = {}

    def __init__(self, optimizer: _Dropin, group: dict[str, Any]) -> None:
        self.optimizer = optimizer
        self.kernel = optimizer._kernel
        self.options = optimizer._options(group)
        self.group = group
        fill = functional.STATE_FILL[self.kernel](self.options)
        names = functional.STATE_NAMES[self.kernel]
        scalar = functional.SCALAR_STATE_NAMES[self.kernel]
        self.arrays = len(names) - len(scalar)  # the scalars' names come last
        self.slots = [(k, names[k], fill[names[k]]) for k in range(self.arrays) if names[k] in fill]
        self.scalars = [(name, fill[name]) for name in names[self.arrays :]]

    @classmethod
    def qmap(cls, signed: bool) -> torch.Tensor:
        if signed not in cls._maps:
            cls._maps[signed] = torch.from_numpy(functional.dynamic_map(signed))
        return cls._maps[signed]

    def step(self) -> None:
        batches: dict[tuple[bool, torch.dtype, int, bool], list[torch.Tensor]] = {}
        for p in self.group["params"]:
            if p.grad is None:
                continue
            _require_8bit_ready(p, type(self.optimizer).__name__)
            if p.dtype == torch.bfloat16:
                import ml_dtypes  # noqa: F401  (fail before any state is made)
            state = self.optimizer.state[p]
            fresh = self._init_state(p, state)
            eightbit = any(state[f"state{k + 1}"].dtype == torch.uint8 for k, _, _ in self.slots)
            key = (eightbit, p.dtype, int(state.get("step", 0)) + 1, fresh)
            batches.setdefault(key, []).append(p)
        for (eightbit, dtype, step, fresh), params in batches.items():
            states = [self.optimizer.state[p] for p in params]
            grads = [_array(p.grad) for p in params]  # type: ignore[arg-type]
            mixed: dict[str, Any] = {}
            if dtype in _LOWP:  # float32 masters, as the float32-state path keeps them
                arrays = [_array(s["master_param"]) for s in states]
                mixed = self.optimizer._mixed(params, step)
            else:
                arrays = [_array(p) for p in params]
            per_slot: list[list[Any] | None] = [None] * self.arrays
            scalars = [[_array(s[name]) for s in states] for name, _ in self.scalars]
            if eightbit:
                absmax: list[list[Any] | None] = [None] * self.arrays
                qmaps: list[list[Any] | None] = [None] * self.arrays
                for k, _, _ in self.slots:
                    per_slot[k] = [_array(s[f"state{k + 1}"]) for s in states]
                    absmax[k] = [_array(s[f"absmax{k + 1}"]) for s in states]
                    qmaps[k] = [_array(s[f"qmap{k + 1}"].float().contiguous()) for s in states]
                functional._step_8bit(
                    self.kernel,
                    arrays,
                    grads,
                    per_slot,
                    absmax,
                    qmaps,
                    self.options,
                    step,
                    fresh,
                    **mixed,
                    scalars=scalars or None,
                )
            else:
                for k, _, _ in self.slots:
                    per_slot[k] = [_array(s[f"state{k + 1}"]) for s in states]
                functional._step(
                    self.kernel,
                    arrays,
                    grads,
                    [*per_slot, *scalars],
                    self.options,
                    step,
                    fresh,
                    **mixed,
                )
            for s in states:
                s["step"] = int(s.get("step", 0)) + 1

    def _init_state(self, p: torch.Tensor, state: dict[str, Any]) -> bool:
        """Create p's missing state (True if any was made), converting torch.optim's."""
        eightbit = p.numel() >= self.optimizer.min_8bit_size
        signs = functional.STATE_SIGNED[self.kernel]
        fresh = False
        for k, name, initial in self.slots:
            key = f"state{k + 1}"
            if key in state:
                continue
            values = state.pop(name, None)  # torch.optim's float state of the same moment
            if values is None:
                values = torch.full_like(p, initial, memory_format=torch.preserve_format)
                fresh = True
            values = values.to(torch.float32, copy=True)  # never shared with the loaded dict
            if eightbit:
                qmap = self.qmap(signs[k])
                codes, scales = functional.quantize_blockwise(
                    _array(values.contiguous()).ravel(), _array(qmap)
                )
                state[key] = torch.from_numpy(codes).view(p.shape)
                state[f"absmax{k + 1}"] = torch.from_numpy(scales)
                state[f"qmap{k + 1}"] = qmap
            else:
                state[key] = values.contiguous()
        for name, initial in self.scalars:
            if name not in state:
                state[name] = torch.tensor(initial, dtype=torch.float32)
        if p.dtype in _LOWP and "master_param" not in state:
            state["master_param"] = p.detach().to(torch.float32, copy=True)
        step = state.get("step", 0)
        state["step"] = int(step.item() if isinstance(step, torch.Tensor) else step)
        return fresh


def _require_8bit_ready(p: torch.Tensor, owner: str) -> None:
    g = p.grad
    if not (
        p.device.type == "cpu"
        and p.dtype in (torch.float32, *_LOWP)
        and p.is_contiguous()
        and g is not None
        and not g.is_sparse
        and g.dtype in (p.dtype, torch.float32)
        and g.is_contiguous()
    ):
        raise TypeError(
            f"{owner} with 8-bit state updates contiguous CPU float32, float16 or bfloat16 "
            f"params with dense gradients of their dtype (or float32); got a {p.dtype} param "
            f"on {p.device} with a "
            f"{'sparse' if g is not None and g.is_sparse else 'dense'} {getattr(g, 'dtype', '')} "
            "gradient"
        )


class SGD(_Dropin, torch.optim.SGD):
    """``torch.optim.SGD`` whose step is optikern's fused kernel."""

    _kernel = "sgd"

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return bool(group["momentum"] == 0 and group["weight_decay"] == 0)


class Adagrad(_Dropin, torch.optim.Adagrad):
    """``torch.optim.Adagrad`` whose step is optikern's fused kernel."""

    _kernel = "adagrad"

    def _options(self, group: dict[str, Any]) -> dict[str, Any]:
        # torch's lazy state starts from the defaults' value, whatever the group says
        return {**group, "initial_accumulator_value": self.defaults["initial_accumulator_value"]}

    def _takes_rows(self, group: dict[str, Any]) -> bool:
        return bool(group["weight_decay"] == 0)  # torch refuses weight decay with sparse gradients


class RMSprop(_Dropin, torch.optim.RMSprop):
    """``torch.optim.RMSprop`` whose step is optikern's fused kernel."""

    _kernel = "rmsprop"


class Adam(_Dropin, torch.optim.Adam):
    """``torch.optim.Adam`` whose step is optikern's fused kernel."""

    _kernel = "adam"


class AdamW(Adam, torch.optim.AdamW):
    """``torch.optim.AdamW`` whose step is optikern's fused kernel."""

    _fixed: ClassVar[dict[str, Any]] = {"decoupled_weight_decay": True}


class Adam8bit(Adam):
    """``Adam`` with 8-bit state, as ``bitsandbytes.optim.Adam8bit``: ``Adam(...,
    state_bits=8)``, state in bitsandbytes' layout (see the mixed-precision and 8-bit docs)."""

    def __init__(self, params: Any, *args: Any, min_8bit_size: int = 4096, **kwargs: Any) -> None:
        super().__init__(params, *args, state_bits=8, min_8bit_size=min_8bit_size, **kwargs)


class AdamW8bit(AdamW):
    """``AdamW`` with 8-bit state, as ``bitsandbytes.optim.AdamW8bit``: ``AdamW(...,
    state_bits=8)``."""

    def __init__(self, params: Any, *args: Any, min_8bit_size: int = 4096, **kwargs: Any) -> None:
        super().__init__(params, *args, state_bits=8, min_8bit_size=min_8bit_size, **kwargs)


class Adamax(_Dropin, torch.optim.Adamax):
    """``torch.optim.Adamax`` whose step is optikern's fused kernel."""

    _kernel = "adamax"


class RAdam(_Dropin, torch.optim.RAdam):
    """``torch.optim.RAdam`` whose step is optikern's fused kernel."""

    _kernel = "radam"


class Adadelta(_Dropin, torch.optim.Adadelta):
    """``torch.optim.Adadelta`` whose step is optikern's fused kernel."""

    _kernel = "adadelta"


class Lion(_Dropin):
    """Lion (Chen et al. 2023) with lion-pytorch's signature (``lion_pytorch.Lion`` plus
    ``maximize``), whose step is optikern's fused kernel; see :class:`optikern.Lion`. torch.optim
    has no Lion, so this subclasses ``torch.optim.Optimizer``; what the fused pass does not
    serve runs lion-pytorch's update in torch operations."""

    _kernel = "lion"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults, state_bits=state_bits, min_8bit_size=min_8bit_size)

    def _unfused_step(self) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr = group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                state = self.state[p]
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                exp_avg = state["exp_avg"]
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(exp_avg.mul(beta1).add_(grad, alpha=1 - beta1).sign_(), alpha=-lr)
                exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)


class LAMB(_Dropin):
    """LAMB (You et al. 2020) with optax's rule and signature plus DeepSpeed's trust-ratio
    bounds, whose step is optikern's fused two-pass kernel; see :class:`optikern.LAMB`.
    torch.optim has no LAMB, so this subclasses ``torch.optim.Optimizer``; what the fused pass
    does not serve runs the same update in torch operations."""

    _kernel = "lamb"

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        min_coeff: float | None = None,
        max_coeff: float | None = None,
        maximize: bool = False,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            min_coeff=min_coeff,
            max_coeff=max_coeff,
            maximize=maximize,
        )
        functional.CHECK_OPTIONS[self._kernel](defaults)
        super().__init__(params, defaults, state_bits=state_bits, min_8bit_size=min_8bit_size)

    def _unfused_step(self) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad if group["maximize"] else p.grad
                state = self.state[p]
                if "step" not in state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = int(state["step"])
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).add_(grad * grad, alpha=1 - beta2)
                update = (exp_avg / (1 - beta1**t)) / (
                    (exp_avg_sq / (1 - beta2**t)).sqrt() + group["eps"]
                )
                update.add_(p, alpha=group["weight_decay"])
                param_norm, update_norm = float(p.norm()), float(update.norm())
                trust = 1.0
                if param_norm != 0 and update_norm != 0:
                    trust = param_norm / update_norm
                    if group["max_coeff"] is not None:
                        trust = min(trust, group["max_coeff"])
                    if group["min_coeff"] is not None:
                        trust = max(trust, group["min_coeff"])
                p.add_(update, alpha=-group["lr"] * trust)


class Adafactor(_Dropin, torch.optim.Adafactor):
    """``torch.optim.Adafactor`` whose step is optikern's fused four-pass kernel (params of two
    or more dims row-major; 16-bit params update float32 masters, as in the other classes)."""

    _kernel = "adafactor"
    _row_major = True


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
