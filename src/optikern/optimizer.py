"""The optimizer base class: param groups, per-param state, atomic steps, state dicts.

Semantics follow ``torch.optim.Optimizer`` where NumPy allows: ``param_groups`` is the live list
of group dicts (edit ``lr`` between steps), ``state[param]`` the state of one param, and
``state_dict()`` uses torch's layout (params replaced by their index in group order).
Gradients are not attributes of the arrays, so ``step(grads)`` takes them as a list aligned with
the params.

Each param group is served by a C++ group object (``functional.GROUPS``) holding checked views
of its params and of the arrays in their state dicts; a step hands it the live group dict and
the gradients. When the params or state arrays it was built from change (a param added, an
array in ``state[p]`` replaced, state loaded), the object notices and is rebuilt from the
current state, checking the new arrays.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import Any, Callable, Union

import numpy as np

from . import _validation, functional
from .errors import NonFiniteError

ParamsArg = Union[Iterable[np.ndarray], Iterable[dict[str, Any]]]

#: What a step does with a gradient holding NaN or infinity: apply it like torch
#: ("propagate"), change nothing and count the step in ``skipped_steps`` ("skip", the AMP
#: ``found_inf`` pattern), or change nothing and raise :class:`NonFiniteError` ("raise").
NONFINITE_POLICIES = ("propagate", "skip", "raise")


class ParamState(MutableMapping[np.ndarray, dict[str, Any]]):
    """Per-param state dicts keyed by the param arrays themselves.

    NumPy arrays are unhashable, so keys are compared by identity, as torch does with tensors.
    Each value is a plain dict with torch's state names; replacing or removing a param's dict
    here calls ``on_change`` (the optimizer then rebuilds its groups).
    """

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._by_id: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self._on_change = on_change

    def __getitem__(self, param: np.ndarray) -> dict[str, Any]:
        try:
            return self._by_id[id(param)][1]
        except KeyError:
            raise KeyError(
                "no optimizer state for this array (not a param, or not stepped yet)"
            ) from None

    def __setitem__(self, param: np.ndarray, state: dict[str, Any]) -> None:
        self._by_id[id(param)] = (param, dict(state))
        self._on_change()

    def __delitem__(self, param: np.ndarray) -> None:
        del self._by_id[id(param)]
        self._on_change()

    def __iter__(self) -> Iterator[np.ndarray]:
        return (param for param, _ in self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, param: object) -> bool:
        return id(param) in self._by_id

    def __repr__(self) -> str:
        return f"ParamState({len(self)} params)"


class Optimizer:
    """Base class of the optimizers; a subclass names its kernel and its constructor.

    Options every optimizer takes (keyword-only):

    nonfinite : {"propagate", "skip", "raise"}, default "propagate"
        A step whose gradients hold NaN or infinity: apply it as torch does, or change
        nothing and count it in ``skipped_steps``, or change nothing and raise
        :class:`~optikern.NonFiniteError`.
    rounding : {"nearest", "stochastic"}, default "nearest"
        How float16/bfloat16 params are rewritten from their float32 master copy each step
        (stochastic rounding is seeded by ``seed`` and the step count, so reproducible).
    seed : int, default 0
        Seed of stochastic rounding.
    master_weights : bool, default True
        Keep a float32 master copy of float16/bfloat16 params (``state[p]["master_param"]``).
        Without it the 16-bit params are updated directly (2 bytes less per param): then use
        ``rounding="stochastic"``, or updates smaller than half the 16-bit spacing are lost.
    state_bits : {32, 8}, default 32
        Optimizers whose state is a running average (SGD with momentum, RMSprop, Adam, AdamW,
        RAdam, Adamax, Adadelta, Lion) may keep it in 8 bits per element: blockwise dynamic
        quantization (Dettmers et al. 2022, as bitsandbytes): ``state[p][name]`` holds uint8
        codes, ``name + "_absmax"`` a float32 scale per block of 256 elements and
        ``name + "_qmap"`` the 256 codes; each step reads the state back, updates it in float32
        and quantizes it again in the same pass. float32 and float16/bfloat16 params (with or
        without master weights); float64 params keep float64 state.
    min_8bit_size : int, default 4096
        With ``state_bits=8``, params of fewer elements keep float32 state (as bitsandbytes).

    State is created at a param's first step, as torch does. Arrays in ``state[p]`` may be
    replaced between steps (``opt.state[p]["exp_avg"] = a``): the next step uses the new array,
    after checking it like any other (dtype, shape, layout, no shared memory), or raises
    naming ``state[i][name]``.
    """

    #: The kernel (a key of ``functional.GROUPS``) whose options, state and update it uses.
    _kernel: str

    @property
    def _state_names(self) -> frozenset[str]:
        """Every state name the optimizer may keep (load_state_dict refuses others)."""
        names = functional.STATE_NAMES[self._kernel]
        if functional.STATE_SIGNED[self._kernel] is None:
            return frozenset(names)
        return frozenset(n + suffix for n in names for suffix in ("", "_absmax", "_qmap"))

    @property
    def _counts_steps(self) -> bool:
        return bool(functional.COUNTS_STEPS[self._kernel])

    def __init__(
        self,
        params: ParamsArg,
        defaults: dict[str, Any],
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(
                f"nonfinite: expected one of {', '.join(NONFINITE_POLICIES)}, got {nonfinite!r}"
            )
        if rounding not in functional.ROUNDINGS:
            raise ValueError(f"rounding: expected 'nearest' or 'stochastic', got {rounding!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
        self.nonfinite = nonfinite
        self.rounding = rounding
        self.seed = int(seed)
        _validation.flag(master_weights, "master_weights")
        self.master_weights = bool(master_weights)
        if state_bits not in (8, 32) or isinstance(state_bits, bool):
            raise ValueError(f"state_bits: expected 32 or 8, got {state_bits!r}")
        if state_bits == 8 and functional.STATE_SIGNED[self._kernel] is None:
            raise ValueError(
                f"state_bits: {type(self).__name__} keeps no running average to store in 8 bits"
            )
        if isinstance(min_8bit_size, bool) or not isinstance(min_8bit_size, (int, np.integer)):
            raise TypeError(f"min_8bit_size: expected an int, got {min_8bit_size!r}")
        if min_8bit_size < 0:
            raise ValueError(f"min_8bit_size: expected >= 0, got {min_8bit_size}")
        self.state_bits = int(state_bits)
        self.min_8bit_size = int(min_8bit_size)
        self._grad_scale = 1.0
        self.skipped_steps = 0
        self.found_nonfinite = False
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state = ParamState(self._drop_groups)
        self._groups: list[Any] = []  # one C++ group per param group, or None until built
        # Steps and state changes are serialised: two threads stepping one optimizer must not
        # interleave (the kernels release the GIL).
        self._lock = threading.Lock()
        if isinstance(params, np.ndarray):
            raise TypeError(
                "params: expected a list of numpy arrays or of param-group dicts, got a single "
                "numpy.ndarray (wrap it in a list)"
            )
        if isinstance(params, dict):
            raise TypeError("params: expected a list of param-group dicts, got a single dict")
        param_list: list[Any] = list(params)
        if not param_list:
            raise ValueError("optimizer got an empty parameter list")
        groups = param_list if isinstance(param_list[0], dict) else [{"params": param_list}]
        for group in groups:
            self._add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    # -- pickling: state is keyed by identity, so it travels as a list in param order --------

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            params = [p for g in self.param_groups for p in g["params"]]
            by_id = self.state._by_id
            return {
                "defaults": self.defaults,
                "param_groups": self.param_groups,
                "state": [dict(by_id[id(p)][1]) if id(p) in by_id else None for p in params],
                "nonfinite": self.nonfinite,
                "rounding": self.rounding,
                "seed": self.seed,
                "master_weights": self.master_weights,
                "state_bits": self.state_bits,
                "min_8bit_size": self.min_8bit_size,
                "skipped_steps": self.skipped_steps,
                "found_nonfinite": self.found_nonfinite,
            }

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self.defaults = saved["defaults"]
        self.param_groups = saved["param_groups"]
        self.nonfinite = saved["nonfinite"]
        self.rounding = saved["rounding"]
        self.seed = saved["seed"]
        self.master_weights = saved["master_weights"]
        self.state_bits = saved.get("state_bits", 32)
        self.min_8bit_size = saved.get("min_8bit_size", 4096)
        self._grad_scale = 1.0
        self.skipped_steps = saved["skipped_steps"]
        self.found_nonfinite = saved["found_nonfinite"]
        self._groups = []
        self.state = ParamState(self._drop_groups)
        params = [p for g in self.param_groups for p in g["params"]]
        for p, entries in zip(params, saved["state"]):
            if entries is not None:
                self.state[p] = entries
        self._lock = threading.Lock()

    def _drop_groups(self) -> None:
        self._groups = []

    # -- param groups ---------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of params with its own options (missing ones take the defaults)."""
        with self._lock:
            self._add_param_group(param_group)

    def _add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group: expected a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group: expected a 'params' entry")
        params = param_group["params"]
        if isinstance(params, np.ndarray):
            params = [params]
        elif isinstance(params, (set, dict)) or not isinstance(params, Iterable):
            raise TypeError(
                f"params: expected an ordered list of numpy arrays, got {type(params).__name__}"
            )
        params = list(params)
        first_index = sum(len(g["params"]) for g in self.param_groups)
        for i, p in enumerate(params):
            _validation.param_array(p, f"params[{first_index + i}]")
        group = dict(param_group)
        group["params"] = params
        for name, value in self.defaults.items():
            group.setdefault(name, value)
        self._check_group(group)
        known = [p for g in self.param_groups for p in g["params"]]
        _check_distinct(known + params)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError/TypeError for invalid hyperparameters (torch's messages)."""
        functional.CHECK_OPTIONS[self._kernel](group)

    # -- step -----------------------------------------------------------------------------

    def step(self, grads: Sequence[np.ndarray], *, grad_scale: float = 1.0) -> None:
        """Update every param in place with its gradient.

        ``grads`` holds one array per param, in group order then param order. Every check runs
        before anything is written: when this raises, no param and no state changed. Steps of
        one optimizer from several threads run one after the other.

        ``grad_scale`` is the loss scale of mixed-precision training: float16/bfloat16 params'
        gradients are divided by it inside the update (it must be 1 for other params).
        """
        if not isinstance(grads, (list, tuple)):
            raise TypeError(
                f"grads: expected a list of numpy arrays, one per param, got {type(grads).__name__}"
            )
        if grad_scale != 1.0:
            _validation.at_least(grad_scale, 0.0, "grad_scale", "grad_scale")
            for i, p in enumerate(p for g in self.param_groups for p in g["params"]):
                if not _is_lowp(p):
                    raise ValueError(
                        f"grad_scale: applies to float16/bfloat16 params only, params[{i}] is "
                        f"{p.dtype} (unscale its gradient with optikern.functional.scale_)"
                    )
        with self._lock:
            self._grad_scale = grad_scale
            self._step(grads)

    def _step(self, grads: Sequence[np.ndarray]) -> None:
        groups = self.param_groups
        cores = self._groups
        if len(cores) == 1 and len(groups) == 1 and cores[0] is not None:
            # The steady state of the common case: one group, its C++ group built.
            group = groups[0]
            if len(grads) == len(group["params"]):
                try:
                    bad = cores[0].step(
                        grads,
                        0,
                        group,
                        self.nonfinite != "propagate",
                        False,
                        self._grad_scale,
                        self.rounding == "stochastic",
                        self.seed,
                    )
                except functional.StaleGroup:
                    pass  # rebuilt below
                else:
                    self._nonfinite_found(bad)
                    return
        starts = [0]
        for group in groups:
            starts.append(starts[-1] + len(group["params"]))
        if len(grads) != starts[-1]:
            raise ValueError(
                f"grads: expected {starts[-1]} arrays (one per param), got {len(grads)}"
            )
        if len(self._groups) != len(groups):
            self._groups = [None] * len(groups)
        scan = self.nonfinite != "propagate"
        # State created for this step, kept if it succeeds.
        pending: list[tuple[int, list[Any]]] = []
        try:
            if len(groups) == 1:  # one call checks, scans and updates atomically by itself
                bad = self._run(0, grads, 0, scan, False, pending)
                if bad >= 0 and self._nonfinite_found(bad):
                    self._discard(pending)
                    return
            else:  # check (and scan) every group before the first one writes
                for i in range(len(groups)):
                    bad = self._run(i, grads, starts[i], scan, True, pending)
                    if bad >= 0 and self._nonfinite_found(bad):
                        self._discard(pending)
                        return
                for i in range(len(groups)):
                    self._run(i, grads, starts[i], False, False, pending)
        except BaseException:
            self._discard(pending)
            raise
        self.found_nonfinite = False
        for _, created in pending:
            for p, state, new, _ in created:
                if new:
                    self.state._by_id[id(p)] = (p, state)

    def _run(
        self,
        i: int,
        grads: Sequence[np.ndarray],
        start: int,
        scan: bool,
        check_only: bool,
        pending: list[tuple[int, list[Any]]],
    ) -> int:
        """One group's step (or check) through its C++ group, built or rebuilt as needed."""
        group = self.param_groups[i]
        for _ in range(2):
            core = self._groups[i]
            if core is None:
                core, created = self._build(group, start)
                self._groups[i] = core
                if created:
                    pending.append((i, created))
            try:
                return int(
                    core.step(
                        grads,
                        start,
                        group,
                        scan,
                        check_only,
                        self._grad_scale,
                        self.rounding == "stochastic",
                        self.seed,
                    )
                )
            except functional.StaleGroup:
                self._groups[i] = None
        raise RuntimeError("optimizer group rebuilt twice in one step")  # pragma: no cover

    def _build(self, group: dict[str, Any], first_index: int) -> tuple[Any, list[Any]]:
        """A C++ group over the group's params and their state, creating missing state (kept
        only if the step succeeds): float32 for 16-bit params, whose master starts equal to
        them (exactly: every float16/bfloat16 value is a float32)."""
        fill = functional.STATE_FILL[self._kernel](group)
        scalars = functional.SCALAR_STATE_NAMES[self._kernel]
        states, fresh, created = [], [], []
        for p in group["params"]:
            entry = self.state._by_id.get(id(p))
            state = entry[1] if entry is not None else {}
            new: dict[str, Any] = {}
            for name, value in fill.items():
                if name not in state and self._state_shape(name, p.shape) is not None:
                    new.update(self._initial_state(p, name, value, name in scalars))
            if _is_lowp(p) and self.master_weights and "master_param" not in state:
                new["master_param"] = p.astype(np.float32)
            if new or entry is None:
                state.update(new)
                created.append((p, state, entry is None, list(new)))
            states.append(state)
            fresh.append(any(name in fill for name in new))
        try:
            core = functional.GROUPS[self._kernel](
                list(group["params"]), states, group, fresh, first_index
            )
        except BaseException:
            self._discard([(-1, created)])
            raise
        return core, created

    def _dequantized(
        self, saved: dict[str, Any], name: str, codes: np.ndarray, index: int
    ) -> np.ndarray:
        """The float32 values of saved 8-bit state `name` (a checkpoint in another format)."""
        if name + "_absmax" not in saved or name + "_qmap" not in saved:
            raise ValueError(
                f"state_dict: state[{index}][{name!r}] is 8-bit (uint8) but "
                f"'{name}_absmax' or '{name}_qmap' is missing"
            )
        absmax = np.ascontiguousarray(saved[name + "_absmax"], dtype=np.float32)
        qmap = np.ascontiguousarray(saved[name + "_qmap"], dtype=np.float32)
        values = np.empty_like(codes, dtype=np.float32)
        functional._in_memory_order(values)[...] = functional.dequantize_blockwise(
            np.ascontiguousarray(codes.ravel(order="K")), absmax, qmap
        )
        return values

    def _in_8bit(self, p: np.ndarray) -> bool:
        """Whether p's state is kept in 8 bits."""
        return (
            self.state_bits == 8
            and (p.dtype == np.float32 or _is_lowp(p))
            and p.size >= self.min_8bit_size
        )

    def _initial_state(
        self, p: np.ndarray, name: str, value: float, scalar: bool = False
    ) -> dict[str, np.ndarray]:
        """Fresh state `name` of p: float arrays (float32 for 16-bit params), 8-bit codes with
        their scales and code map, or for a per-param scalar a 0-d float32 array (torch's
        default scalar dtype)."""
        if scalar:
            return {name: np.array(value, dtype=np.float32)}
        shape = self._state_shape(name, p.shape)
        if shape is not None and shape != p.shape:  # factored (Adafactor's row and column
            dtype = np.dtype(np.float32) if _is_lowp(p) else p.dtype  # statistics)
            return {name: np.full(shape, value, dtype=dtype)}
        if not self._in_8bit(p):
            return {name: np.full_like(p, value, dtype=np.float32 if _is_lowp(p) else p.dtype)}
        codes, absmax = functional._quantized(
            np.full(p.shape, value, dtype=np.float32), self._qmap(name), like=p
        )
        return {name: codes, name + "_absmax": absmax, name + "_qmap": self._qmap(name)}

    def _state_shape(self, name: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """The shape of state `name` of a param of `shape`, None if it keeps none."""
        return functional.state_shape(self._kernel, name, shape)

    def _qmap(self, name: str) -> np.ndarray:
        """The dynamic code map of state `name`: signed unless it cannot be negative."""
        k = functional.STATE_NAMES[self._kernel].index(name)
        return functional.dynamic_map(functional.STATE_SIGNED[self._kernel][k])

    def _discard(self, pending: list[tuple[int, list[Any]]]) -> None:
        """Undo the state created for a step that did not happen."""
        for i, created in pending:
            for _, state, new, names in created:
                if not new:
                    for name in names:
                        state.pop(name, None)
            if 0 <= i < len(self._groups):
                self._groups[i] = None

    def _nonfinite_found(self, index: int) -> bool:
        """Apply the non-finite policy after a scan; True if the step must not go on."""
        self.found_nonfinite = index >= 0
        if index < 0:
            return False
        if self.nonfinite == "raise":
            raise NonFiniteError(
                f"grads[{index}]: contains NaN or infinity; nothing was updated (nonfinite='raise')"
            )
        self.skipped_steps += 1
        return True

    # -- state dict -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot in torch's layout: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Arrays are copies, so the snapshot does not change as training goes on; it holds only
        NumPy arrays, numbers, strings and plain containers: save it with pickle (or
        ``numpy.savez`` as an object array, which ``numpy.load`` reads only with
        ``allow_pickle=True``).
        """
        with self._lock:
            return self._state_dict()

    def _state_dict(self) -> dict[str, Any]:
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for group in self.param_groups:
            indices = []
            for p in group["params"]:
                entry = self.state._by_id.get(id(p))
                if entry is not None:
                    state[index] = {
                        k: v.copy() if isinstance(v, np.ndarray) else copy.deepcopy(v)
                        for k, v in entry[1].items()
                    }
                indices.append(index)
                index += 1
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = indices
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; resuming from it is bit-identical to never stopping.

        The snapshot must come from the same optimizer class over params of the same shapes;
        anything else raises ``ValueError``/``TypeError`` and leaves this optimizer unchanged.
        """
        with self._lock:
            self._load_state_dict(state_dict)

    def _load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                "state_dict: expected a dict with keys 'state' and 'param_groups' "
                "(from Optimizer.state_dict())"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list) or len(saved_groups) != len(self.param_groups):
            raise ValueError(
                "state_dict: loaded state dict has a different number of parameter groups"
            )
        params = [p for g in self.param_groups for p in g["params"]]
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            if not isinstance(saved, dict) or len(saved.get("params", ())) != len(group["params"]):
                raise ValueError(
                    "state_dict: loaded state dict contains a parameter group that doesn't "
                    "match the size of optimizer's group"
                )
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new_group["params"] = group["params"]
            missing = set(self.defaults) - set(new_group)
            if missing:
                raise ValueError(f"state_dict: param group lacks options {sorted(missing)}")
            self._check_group(new_group)
            new_groups.append(new_group)
        indices = [i for saved in saved_groups for i in saved["params"]]
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise ValueError("state_dict: 'state' must be a dict from param index to state")
        unknown = set(saved_state) - set(indices)
        if unknown:
            raise ValueError(f"state_dict: state for unknown param indices {sorted(unknown)}")
        new_state = ParamState(self._drop_groups)
        for index, p in zip(indices, params):
            if index in saved_state:
                new_state[p] = self._loaded_state(saved_state[index], p, index)
        self.param_groups[:] = new_groups
        self.state = new_state
        self._groups = []

    def _loaded_state(self, saved: Any, p: np.ndarray, index: int) -> dict[str, Any]:
        """A checked copy of one param's saved state, cast to the param's dtype."""
        if not isinstance(saved, dict):
            raise ValueError(f"state_dict: state[{index}] must be a dict")
        unknown = set(saved) - self._state_names - {"step", "master_param"}
        if unknown:
            raise ValueError(
                f"state_dict: state[{index}] has {sorted(map(str, unknown))}, which "
                f"{type(self).__name__} does not keep (it keeps {sorted(self._state_names)}); "
                "is this the state of another optimizer?"
            )
        loaded: dict[str, Any] = {}
        for name, value in saved.items():
            if name == "step":
                step = value.item() if isinstance(value, np.ndarray) and value.size == 1 else value
                if (
                    isinstance(step, (bool, np.bool_))
                    or not isinstance(step, (int, float, np.integer, np.floating))
                    or not float(step).is_integer()
                    or not 0 <= step <= functional.MAX_STEPS
                ):
                    raise ValueError(
                        f"state_dict: state[{index}]['step'] must be a count in [0, 2**62]"
                    )
                loaded[name] = int(step)
                continue
            if name.endswith(("_absmax", "_qmap")):
                continue  # read with the codes they belong to
            array = np.asarray(value)
            if name in functional.SCALAR_STATE_NAMES[self._kernel]:
                if array.shape != () or not np.issubdtype(array.dtype, np.floating):
                    raise ValueError(
                        f"state_dict: state[{index}][{name!r}] must be a 0-d floating-point "
                        f"array, got {array.dtype} of shape {array.shape}"
                    )
                # torch's 0-d state is float32, or float64 once loaded for a float64 param
                loaded[name] = array.astype(
                    np.float64 if array.dtype == np.float64 else np.float32, copy=True
                )
                continue
            shape = p.shape if name == "master_param" else self._state_shape(name, p.shape)
            if array.shape != shape:
                raise ValueError(
                    f"state_dict: state[{index}][{name!r}] has shape {array.shape}, "
                    f"expected {shape} for a param of shape {p.shape}"
                )
            if array.dtype == np.uint8 and name != "master_param":
                if self._in_8bit(p):  # kept as saved: quantizing read-back values can move codes
                    codes = np.empty_like(p, dtype=np.uint8)
                    codes[...] = array
                    self._dequantized(saved, name, array, index)  # checks scales and map
                    loaded.update(
                        {
                            name: codes,
                            name + "_absmax": np.array(saved[name + "_absmax"], np.float32),
                            name + "_qmap": np.array(saved[name + "_qmap"], np.float32),
                        }
                    )
                    continue
                array = self._dequantized(saved, name, array, index)
            elif not np.issubdtype(array.dtype, np.floating):
                raise TypeError(
                    f"state_dict: state[{index}][{name!r}] has dtype {array.dtype}, "
                    "expected a floating-point array"
                )
            if name != "master_param" and self._in_8bit(p):
                qmap = np.asarray(saved.get(name + "_qmap", self._qmap(name)), dtype=np.float32)
                codes, absmax = functional._quantized(array.astype(np.float32), qmap, like=p)
                loaded.update({name: codes, name + "_absmax": absmax, name + "_qmap": qmap})
                continue
            dtype = np.float32 if _is_lowp(p) else p.dtype
            if shape == p.shape:
                loaded[name] = np.empty_like(p, dtype=dtype)  # the param's memory layout
                loaded[name][...] = array
            else:
                loaded[name] = np.array(array, dtype=dtype, order="C")
        if (self._counts_steps or _is_lowp(p)) and "step" not in loaded:
            raise ValueError(f"state_dict: state[{index}] lacks 'step'")
        return loaded


def _is_lowp(p: np.ndarray) -> bool:
    return _validation.lowp_format(p.dtype) is not None


def _check_distinct(params: list[np.ndarray]) -> None:
    """Refuse a param listed twice or two params sharing memory (views of one array)."""
    if len({id(p) for p in params}) != len(params):
        raise ValueError("some parameters appear more than once in the optimizer's params")
    spans = sorted(
        (p.__array_interface__["data"][0], p.nbytes, i) for i, p in enumerate(params) if p.nbytes
    )
    for (start_a, size_a, a), (start_b, _, b) in zip(spans, spans[1:]):
        if start_b < start_a + size_a:
            raise ValueError(
                f"params[{min(a, b)}] and params[{max(a, b)}] share memory (views of one "
                "array); the optimizer needs separate arrays"
            )
