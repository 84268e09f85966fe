"""The optimizer base class: param groups, per-param state, atomic steps, state dicts.

Semantics follow ``torch.optim.Optimizer`` where NumPy allows: ``param_groups`` is the live list
of group dicts (edit ``lr`` between steps), ``state[param]`` the state of one param, and
``state_dict()`` uses torch's layout (params replaced by their index in group order).
Gradients are not attributes of the arrays, so ``step(grads)`` takes them as a list aligned with
the params. The update itself is one call per param group into :mod:`optikern.functional`.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import Any, Callable, Union

import numpy as np

from . import _validation, functional
from .errors import NonFiniteError

ParamsArg = Union[Iterable[np.ndarray], Iterable[dict]]

#: What a step does with a gradient holding NaN or infinity: apply it like torch
#: ("propagate"), change nothing and count the step in ``skipped_steps`` ("skip", the AMP
#: ``found_inf`` pattern), or change nothing and raise :class:`NonFiniteError` ("raise").
NONFINITE_POLICIES = ("propagate", "skip", "raise")


class ParamState(MutableMapping):
    """State dicts keyed by the param arrays themselves.

    NumPy arrays are unhashable, so keys are compared by identity, as torch does with tensors.
    Every change made through this mapping or through a param's state dict counts in
    ``generation``, which tells the optimizer when its cached step plans are stale.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[np.ndarray, _StateEntries]] = {}
        self.generation = 0

    def __getitem__(self, param: np.ndarray) -> dict[str, Any]:
        try:
            return self._by_id[id(param)][1]
        except KeyError:
            raise KeyError(
                "no optimizer state for this array (not a param, or not stepped yet)"
            ) from None

    def __setitem__(self, param: np.ndarray, state: dict[str, Any]) -> None:
        self.generation += 1
        self._by_id[id(param)] = (param, _StateEntries(self, state))

    def __delitem__(self, param: np.ndarray) -> None:
        self.generation += 1
        del self._by_id[id(param)]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (param for param, _ in self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, param: object) -> bool:
        return id(param) in self._by_id

    def __repr__(self) -> str:
        return f"ParamState({len(self)} params)"


class _StateEntries(dict):
    """One param's state (a plain dict to read); writes to it count as a state change."""

    __slots__ = ("_owner",)

    def __init__(self, owner: ParamState, entries: dict[str, Any]) -> None:
        super().__init__(entries)
        self._owner = owner

    def _changed(self) -> None:
        self._owner.generation += 1

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> _StateEntries:  # noqa: PYI034
        self._changed()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self._changed()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def clear(self) -> None:
        self._changed()
        super().clear()

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


class _Call:
    """One kernel call of a step, and the state to keep once every call succeeded."""

    __slots__ = ("args", "new_state", "step", "update")

    def __init__(
        self,
        update: Callable[..., int],
        group: dict[str, Any],
        params: list[np.ndarray],
        grads: Sequence[np.ndarray],
        roles: dict[str, list[np.ndarray]],
        step: int | None,
        fresh: bool,
        new_state: list,
    ) -> None:
        self.update = update
        self.args = (group, params, grads, roles, step, fresh)
        self.step = step
        self.new_state = new_state  # [(param, state dict or None, {name: fresh array})]

    def run(self, check_only: bool = False, skip_nonfinite: bool = False) -> int:
        return self.update(*self.args, check_only, skip_nonfinite)


class _Plan:
    """A group's arrays as the kernel takes them, kept between steps.

    Rebuilding the lists costs ~1 us per param in Python; a plan is reused while nothing it
    was built from changed: the same group with the same params, and no change to any state
    (``ParamState.generation``). The kernel call re-checks every array anyway.
    """

    __slots__ = (
        "fill_names",
        "generation",
        "group",
        "param_ids",
        "params",
        "roles",
        "state_map",
        "states",
        "step",
    )

    def __init__(
        self,
        group: dict[str, Any],
        state_map: ParamState,
        states: list[_StateEntries],
        roles: dict[str, list[np.ndarray]],
        step: int | None,
        fill_names: Iterable[str],
    ) -> None:
        self.fill_names = set(fill_names)
        self.group = group
        self.params = list(group["params"])
        self.param_ids = [id(p) for p in self.params]
        self.state_map = state_map
        self.generation = state_map.generation
        self.states = states
        self.roles = roles
        self.step = step

    def next_step(self) -> int | None:
        return None if self.step is None else self.step + 1

    def advance(self) -> None:
        """Record a successful step in the plan and in every param's state."""
        if self.step is not None:
            self.step += 1
            for state in self.states:
                dict.__setitem__(state, "step", self.step)  # no generation change: the plan knows

    def matches(self, group: dict[str, Any], state_map: ParamState, fill: dict[str, float]) -> bool:
        return (
            group is self.group
            and state_map is self.state_map
            and state_map.generation == self.generation
            and fill.keys() == self.fill_names
            and list(map(id, group["params"])) == self.param_ids
        )


class Optimizer:
    """Base class of the optimizers. Subclasses define the state they keep and one kernel call.

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

    Subclass hooks:

    * ``_state_fill(group)``: the state arrays the group's options need, with their initial
      value (e.g. ``{"exp_avg": 0.0, "exp_avg_sq": 0.0}``);
    * ``_counts_steps``: whether the state keeps torch's per-param ``"step"``;
    * ``_update(group, params, grads, roles, step, fresh, check_only, skip_nonfinite)``: one
      functional call updating params that share one step number, returning its result;
      ``roles`` maps each state name to the arrays of those params (``fresh``: they were just
      created, which SGD's momentum needs to know).
    """

    _counts_steps = True
    #: The kernel (``functional.KERNELS``) whose options, state and update the class uses.
    _kernel: str

    @property
    def _state_names(self) -> frozenset[str]:
        """Every state name the optimizer may keep (load_state_dict refuses others)."""
        return frozenset(functional.STATE_NAMES[self._kernel])

    def __init__(
        self,
        params: ParamsArg,
        defaults: dict[str, Any],
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
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
        self._grad_scale = 1.0
        self.skipped_steps = 0
        self.found_nonfinite = False
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state = ParamState()
        self._plans: list[_Plan | None] = []
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
        param_list = list(params)
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
        self._grad_scale = 1.0
        self.skipped_steps = saved["skipped_steps"]
        self.found_nonfinite = saved["found_nonfinite"]
        self.state = ParamState()
        params = [p for g in self.param_groups for p in g["params"]]
        for p, entries in zip(params, saved["state"]):
            if entries is not None:
                self.state[p] = entries
        self._plans = []
        self._lock = threading.Lock()

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
            groups = self.param_groups
            if len(groups) == 1 and len(self._plans) == 1:
                # The steady state of the common case: one group, one kernel call, nothing
                # to build.
                group, plan = groups[0], self._plans[0]
                if plan is not None and plan.matches(group, self.state, self._state_fill(group)):
                    if len(grads) != len(plan.params):
                        raise ValueError(
                            f"grads: expected {len(plan.params)} arrays (one per param), "
                            f"got {len(grads)}"
                        )
                    bad = self._update(
                        group,
                        plan.params,
                        grads,
                        plan.roles,
                        plan.next_step(),
                        False,
                        False,
                        self.nonfinite != "propagate",
                    )
                    if bad < 0 or not self._nonfinite_found(bad):
                        self.found_nonfinite = False
                        plan.advance()
                    return
            self._step_groups(grads)

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

    def _step_groups(self, grads: Sequence[np.ndarray]) -> None:
        groups = self.param_groups
        sizes = [len(g["params"]) for g in groups]
        if len(grads) != sum(sizes):
            raise ValueError(
                f"grads: expected {sum(sizes)} arrays (one per param), got {len(grads)}"
            )
        if len(self._plans) != len(groups):
            self._plans = [None] * len(groups)
        bounds = list(itertools.accumulate(sizes, initial=0))
        calls: list[_Call] = []
        for i, group in enumerate(groups):
            group_grads = grads[bounds[i] : bounds[i + 1]]
            plan = self._plans[i]
            fill = self._state_fill(group)
            if plan is not None and plan.matches(group, self.state, fill):
                calls.append(
                    _Call(
                        self._update,
                        group,
                        plan.params,
                        group_grads,
                        plan.roles,
                        plan.next_step(),
                        False,
                        [],
                    )
                )
            else:
                self._plans[i] = None
                calls += self._group_calls(group, group_grads, fill)
        scan = self.nonfinite != "propagate"
        params = [p for g in self.param_groups for p in g["params"]]
        if len(calls) == 1:
            # One call checks, scans and updates atomically by itself.
            bad = _run(calls[0], params, skip_nonfinite=scan)
            if bad >= 0 and self._nonfinite_found(_global_index(params, calls[0].args[1][bad])):
                return
        else:
            # Check (and scan) every call before the first one writes.
            for call in calls:
                bad = _run(call, params, check_only=True, skip_nonfinite=scan)
                if bad >= 0 and self._nonfinite_found(_global_index(params, call.args[1][bad])):
                    return
            self.found_nonfinite = False
            for call in calls:
                _run(call, params)
        for call in calls:
            self._commit(call)
        for i, group in enumerate(groups):
            plan = self._plans[i]
            if plan is not None:
                plan.advance()
            else:
                self._plans[i] = self._plan(group)

    def _plan(self, group: dict[str, Any]) -> _Plan | None:
        """A plan for the group's next step, or None if its params need separate calls."""
        by_id = self.state._by_id
        try:
            states = [by_id[id(p)][1] for p in group["params"]]
        except KeyError:
            return None
        fill = self._state_fill(group)
        lowp = {_is_lowp(p) for p in group["params"]}
        if len(lowp) != 1:
            return None
        names = self._state_names_for(fill, lowp.pop())
        if not all(name in s for s in states for name in names):
            return None
        step = None
        if "step" in names:
            steps = {s.get("step") for s in states}
            if len(steps) != 1 or None in steps:
                return None
            step = steps.pop()
        roles = {name: [s[name] for s in states] for name in names if name != "step"}
        return _Plan(group, self.state, states, roles, step, fill)

    def _group_calls(
        self, group: dict[str, Any], grads: Sequence[np.ndarray], fill: dict[str, float]
    ) -> list[_Call]:
        """Kernel calls for one group: one per distinct step number (usually exactly one)."""
        by_key: dict[Any, tuple[list, list, dict[str, list], list]] = {}
        for p, g in zip(group["params"], grads):
            entry = self.state._by_id.get(id(p))
            state = entry[1] if entry is not None else {}
            lowp = _is_lowp(p)
            names = self._state_names_for(fill, lowp)
            fresh = {
                name: _initial_state(p, name, fill.get(name))
                for name in names
                if name not in state and name != "step"
            }
            step = state.get("step", 0) + 1 if "step" in names else None
            params, grads_, roles, new_state = by_key.setdefault(
                (step, bool(fresh), lowp),
                ([], [], {name: [] for name in names if name != "step"}, []),
            )
            params.append(p)
            grads_.append(g)
            for name, arrays in roles.items():
                arrays.append(fresh[name] if name in fresh else state[name])
            new_state.append((p, entry[1] if entry is not None else None, fresh))
        return [
            _Call(self._update, group, params, grads_, roles, step, fresh, new_state)
            for (step, fresh, _), (params, grads_, roles, new_state) in by_key.items()
        ]

    def _state_names_for(self, fill: dict[str, float], lowp: bool) -> list[str]:
        """The state a param keeps: the group's arrays, "step" when counted, and for a
        float16/bfloat16 param its float32 master copy (and a step count, which keys its
        stochastic rounding)."""
        names = list(fill)
        if self._counts_steps or lowp:
            names.append("step")
        if lowp and self.master_weights:
            names.append("master_param")
        return names

    def _mixed(
        self, params: list[np.ndarray], roles: dict[str, list[np.ndarray]]
    ) -> tuple[list[np.ndarray] | None, list[np.ndarray] | None]:
        """The params the kernel updates and the 16-bit params it rewrites: float32 masters
        and the float16/bfloat16 params (None and the 16-bit params without master weights),
        or the params themselves and None."""
        masters = roles.get("master_param")
        if masters is not None:
            return masters, params
        return (None, params) if params and _is_lowp(params[0]) else (params, None)

    def _commit(self, call: _Call) -> None:
        for p, state, fresh in call.new_state:
            if state is None:
                self.state[p] = fresh
                state = self.state[p]
            else:
                state.update(fresh)
            if call.step is not None:
                state["step"] = call.step

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def _update(
        self,
        group: dict[str, Any],
        params: list[np.ndarray],
        grads: Sequence[np.ndarray],
        roles: dict[str, list[np.ndarray]],
        step: int | None,
        fresh: bool,
        check_only: bool,
        skip_nonfinite: bool,
    ) -> int:
        kernel_params, lowp_params = self._mixed(params, roles)
        return functional._run(
            self._kernel,
            kernel_params,
            grads,
            [roles.get(name) for name in functional.STATE_NAMES[self._kernel]],
            group,
            step or 0,
            fresh,
            check_only,
            skip_nonfinite,
            lowp_params,
            self._grad_scale,
            self.rounding,
            self.seed,
            step or 0,
        )

    # -- state dict -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot in torch's layout: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Arrays are copies, so the snapshot does not change as training goes on; it holds only
        NumPy arrays, numbers, strings and plain containers (pickle and ``numpy.savez`` work).
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
        new_state = ParamState()
        for index, p in zip(indices, params):
            if index in saved_state:
                new_state[p] = self._loaded_state(saved_state[index], p, index)
        self.param_groups[:] = new_groups
        self.state = new_state

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
                    or step < 0
                ):
                    raise ValueError(f"state_dict: state[{index}]['step'] must be a count >= 0")
                loaded[name] = int(step)
                continue
            array = np.asarray(value)
            if array.shape != p.shape:
                raise ValueError(
                    f"state_dict: state[{index}][{name!r}] has shape {array.shape}, "
                    f"expected {p.shape} like the param"
                )
            if not np.issubdtype(array.dtype, np.floating):
                raise TypeError(
                    f"state_dict: state[{index}][{name!r}] has dtype {array.dtype}, "
                    "expected a floating-point array"
                )
            dtype = np.float32 if _is_lowp(p) else p.dtype
            loaded[name] = np.array(array, dtype=dtype, order="C", copy=True)
        if (self._counts_steps or _is_lowp(p)) and "step" not in loaded:
            raise ValueError(f"state_dict: state[{index}] lacks 'step'")
        return loaded


def _global_index(params: list[np.ndarray], param: np.ndarray) -> int:
    return next(i for i, p in enumerate(params) if p is param)


def _run(call: _Call, params: list[np.ndarray], **options: bool) -> int:
    """Runs one kernel call; errors name arrays by their index among all the optimizer's
    params (a call sees only its own slice of them)."""
    try:
        return call.run(**options)
    except (TypeError, ValueError) as error:
        local = call.args[1]
        message = re.sub(
            r"\[(\d+)\]",
            lambda m: f"[{_global_index(params, local[int(m[1])])}]",
            str(error),
        )
        raise type(error)(message) from None


def _is_lowp(p: np.ndarray) -> bool:
    return _validation.lowp_format(p.dtype) is not None


def _initial_state(p: np.ndarray, name: str, value: float | None) -> np.ndarray:
    """A fresh state array for p: float32 for 16-bit params, whose master copy starts equal
    to them (exactly: every float16/bfloat16 value is a float32)."""
    if not _is_lowp(p):
        return np.full_like(p, value)
    if name == "master_param":
        return p.astype(np.float32)
    return np.full(p.shape, value, dtype=np.float32)


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
