"""ZeRO stage 1 over MPI: the optimizer state sharded across ranks.

Every rank holds the full parameters (as views of one arena per param group) and their
gradients, but the optimizer state of only a contiguous shard of each arena. A step is:

1. reduce-scatter of the gradient arena (sum, or mean): each rank receives the reduced
   gradients of its own shard;
2. the ordinary optikern update of that shard (any optimizer, any options);
3. all-gather of the parameter arena in place, so every rank has every updated parameter.

Memory per rank: the parameter arena and the gradient arena (one full-size copy each, as any
data-parallel training holds), one shard-sized gradient buffer, and 1/N of the optimizer
state. Nothing else full-sized is allocated. Shards may be uneven (any rank count) and empty.

Results are bitwise equal to a single-process optimizer given the same reduced gradient: the
shard update is the same elementwise kernel on the same values.

Run the same program on every rank: ``mpiexec -n 4 python train.py`` (``-hosts a,b`` across
machines)::

    from optikern.distributed import ShardedOptimizer
    opt = ShardedOptimizer(optikern.AdamW, model_params, lr=1e-3)
    w1, b1 = opt.params            # use these views as the model's parameters
    ...                            # backward writes into opt.grads (views of the grad arena)
    opt.step()
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import functional
from .errors import NonFiniteError
from .flat import flatten
from .optimizer import NONFINITE_POLICIES, Optimizer

try:
    from mpi4py import MPI
except ImportError as error:  # pragma: no cover - exercised without mpi4py
    raise ImportError("optikern.distributed needs mpi4py: pip install 'optikern[mpi]'") from error

__all__ = ["ShardedOptimizer"]

_MPI_TYPES = {np.dtype(np.float32): MPI.FLOAT, np.dtype(np.float64): MPI.DOUBLE}


def shard_bounds(n: int, size: int) -> tuple[list[int], list[int]]:
    """Element counts and offsets of each rank's contiguous shard of n elements."""
    counts = [n // size + (1 if r < n % size else 0) for r in range(size)]
    offsets = [sum(counts[:r]) for r in range(size)]
    return counts, offsets


class ShardedOptimizer:
    """Wraps any optikern optimizer class so that each MPI rank keeps the state of its shard.

    Parameters
    ----------
    optimizer_class : type
        An optikern optimizer, e.g. ``optikern.Adam``.
    params : list of numpy.ndarray or list of dict
        The model's arrays or param groups (as for the optimizer). They are copied into one
        arena per group; use ``self.params`` (views of the arenas) from then on.
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.
    grad_reduction : {"mean", "sum"}
        How the ranks' gradients combine.
    nonfinite : {"propagate", "skip", "raise"}
        As for every optimizer, decided for all ranks together: a NaN or infinity in any
        rank's reduced gradient skips (or raises on) every rank.
    **options
        The optimizer's options (``lr``, ``betas``, ...).
    """

    def __init__(
        self,
        optimizer_class: type[Optimizer],
        params: Any,
        comm: Any = None,
        grad_reduction: str = "mean",
        nonfinite: str = "propagate",
        **options: Any,
    ) -> None:
        if grad_reduction not in ("mean", "sum"):
            raise ValueError(f"grad_reduction: expected 'mean' or 'sum', got {grad_reduction!r}")
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite: expected one of {NONFINITE_POLICIES}, got {nonfinite!r}")
        if functional.PER_TENSOR_NORMS[optimizer_class._kernel]:
            raise ValueError(
                f"optimizer_class: {optimizer_class.__name__} scales each tensor by its own "
                "norms, which a shard of the flattened params does not have; shard it per tensor"
            )
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.grad_reduction = grad_reduction
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        rank, size = self.comm.Get_rank(), self.comm.Get_size()
        self._arenas, self._grad_arenas, self._shard_grads, self._bounds = [], [], [], []
        self._group_views: list[list[np.ndarray]] = []
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        inner_groups = []
        for group in groups:
            flat = flatten(list(group["params"]))
            grads = flatten([np.zeros_like(p) for p in flat.views])
            counts, offsets = shard_bounds(flat.arena.size, size)
            lo, hi = offsets[rank], offsets[rank] + counts[rank]
            self._arenas.append(flat.arena)
            self._grad_arenas.append(grads.arena)
            self._shard_grads.append(np.empty(hi - lo, dtype=flat.arena.dtype))
            self._bounds.append((counts, offsets))
            self.params += flat.views
            self.grads += grads.views
            self._group_views.append(flat.views)
            inner_groups.append(
                {**{k: v for k, v in group.items() if k != "params"}, "params": [flat.arena[lo:hi]]}
            )
        self.optimizer = optimizer_class(inner_groups, **options)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The shard optimizer's live groups (changing ``lr`` here reaches this rank; do it on
        every rank)."""
        return self.optimizer.param_groups

    def step(self) -> None:
        """Reduce-scatter ``self.grads``, update this rank's shard, all-gather the params."""
        for arena, shard, (counts, _) in zip(self._grad_arenas, self._shard_grads, self._bounds):
            self.comm.Reduce_scatter(arena, shard, recvcounts=counts, op=MPI.SUM)
        if self.grad_reduction == "mean" and self.comm.Get_size() > 1:
            functional.scale_(self._shard_grads, 1.0 / self.comm.Get_size())
        if self.nonfinite != "propagate":
            local = functional.first_nonfinite(self._shard_grads) >= 0
            if self.comm.allreduce(local, op=MPI.LOR):
                if self.nonfinite == "raise":
                    raise NonFiniteError(
                        "gradients contain NaN or infinity on some rank; "
                        "nothing was updated (nonfinite='raise')"
                    )
                self.skipped_steps += 1
                return
        self.optimizer.step(self._shard_grads)
        for arena, (counts, offsets) in zip(self._arenas, self._bounds):
            self.comm.Allgatherv(MPI.IN_PLACE, [arena, (counts, offsets), _MPI_TYPES[arena.dtype]])

    def state_dict(self) -> dict[str, Any]:
        """This rank's shard state (load it into the same rank of the same layout)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def full_state_dict(self, root: int = 0) -> dict[str, Any] | None:
        """The state of the unsharded optimizer, gathered on ``root`` (None elsewhere), in the
        layout of ``optimizer_class(original params).state_dict()``: it loads into a
        single-process optikern optimizer over the same params."""
        rank = self.comm.Get_rank()
        shard = self.optimizer.state_dict()
        full_state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for g, (arena, (counts, offsets)) in enumerate(zip(self._arenas, self._bounds)):
            entries = shard["state"].get(g, {})
            # Ranks with an empty shard may have no state yet: agree on names and step.
            names = sorted(set().union(*self.comm.allgather([k for k in entries if k != "step"])))
            step = self.comm.allreduce(int(entries.get("step", 0)), op=MPI.MAX)
            gathered: dict[str, np.ndarray] = {}  # filled on root only
            for name in names:
                local = np.ascontiguousarray(entries.get(name, np.zeros(0)), dtype=arena.dtype)
                if local.size != counts[rank]:
                    local = np.zeros(counts[rank], dtype=arena.dtype)
                if rank == root:
                    full = np.empty(arena.size, arena.dtype)
                    target = [full, (counts, offsets), _MPI_TYPES[arena.dtype]]
                    self.comm.Gatherv(local, target, root=root)
                    gathered[name] = full
                else:
                    self.comm.Gatherv(local, None, root=root)
            ids = []
            start = 0
            for p in self._group_views[g]:
                entry: dict[str, Any] = {"step": step} if "step" in entries or step else {}
                if rank == root:
                    for name, values in gathered.items():
                        entry[name] = values[start : start + p.size].reshape(p.shape).copy()
                if entry:
                    full_state[index] = entry
                ids.append(index)
                index += 1
                start += p.size
            group = {k: v for k, v in shard["param_groups"][g].items() if k != "params"}
            group["params"] = ids
            groups.append(group)
        return {"state": full_state, "param_groups": groups} if rank == root else None
