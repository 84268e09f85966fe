"""ZeRO-1 over MPI. Run under ``mpiexec -n 2`` and ``-n 3`` (and plain pytest: one rank).

Gradients are small integers divided by 8 (exact in float32 and float64), so every reduction
order gives the same sum: the sharded optimizer must then be bitwise equal to a single-process
optimizer given that reduced gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_db import OPTIM_DB, OptimizerInfo

import optikern

MPI = pytest.importorskip("mpi4py.MPI")
from optikern.distributed import ShardedOptimizer, shard_bounds

COMM = MPI.COMM_WORLD
RANK, SIZE = COMM.Get_rank(), COMM.Get_size()
SHAPES = [(5, 7), (3,), (1,), (101,)]  # 144 elements: uneven shards for any rank count


def start(dtype: type) -> list[np.ndarray]:
    rng = np.random.default_rng(0)  # the same on every rank
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def local_grads(step: int, rank: int, dtype: type) -> list[np.ndarray]:
    rng = np.random.default_rng(1000 * step + rank)
    return [(rng.integers(-8, 9, s) / 8).astype(dtype) for s in SHAPES]


SHARDABLE = [info for info in OPTIM_DB if not info.per_tensor_norms]


def test_per_tensor_norm_optimizers_are_refused() -> None:
    with pytest.raises(ValueError, match="LAMB scales each tensor by its own norms"):
        ShardedOptimizer(optikern.LAMB, [np.zeros(10)])


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("info", SHARDABLE, ids=[info.name for info in SHARDABLE])
def test_bitwise_equal_to_single_process(info: OptimizerInfo, dtype, reduction) -> None:
    options = info.representative
    sharded = ShardedOptimizer(
        info.cls,
        [{"params": start(dtype)[:2]}, {"params": start(dtype)[2:], "lr": options["lr"] / 2}],
        grad_reduction=reduction,
        **options,
    )
    single_params = start(dtype)
    single = info.make(
        [{"params": single_params[:2]}, {"params": single_params[2:], "lr": options["lr"] / 2}],
        **options,
    )
    for step in range(4):
        for view, g in zip(sharded.grads, local_grads(step, RANK, dtype)):
            view[...] = g
        sharded.step()
        total = [sum(parts) for parts in zip(*(local_grads(step, r, dtype) for r in range(SIZE)))]
        if reduction == "mean" and SIZE > 1:
            optikern.functional.scale_(total, 1.0 / SIZE)
        single.step(total)
        for a, b in zip(sharded.params, single_params):
            assert a.tobytes() == b.tobytes()


def test_state_is_sharded_and_gathers_into_a_single_process_state() -> None:
    sharded = ShardedOptimizer(optikern.Adam, start(np.float32), lr=0.01)
    for step in range(3):
        for view, g in zip(sharded.grads, local_grads(step, RANK, np.float32)):
            view[...] = g
        sharded.step()
    counts, _ = shard_bounds(sum(int(np.prod(s)) for s in SHAPES), SIZE)
    own = sharded.state_dict()["state"].get(0, {})
    assert own.get("exp_avg", np.zeros(0)).size == counts[RANK]
    full = sharded.full_state_dict(root=0)
    if RANK != 0:
        assert full is None
        return
    params = [p.copy() for p in sharded.params]
    single = optikern.Adam(params, lr=0.01)
    single.load_state_dict(full)
    assert single.state[params[0]]["step"] == 3
    assert single.state[params[3]]["exp_avg"].shape == (101,)


@pytest.mark.parametrize("policy", ["skip", "raise"])
def test_one_ranks_nan_stops_every_rank(policy: str) -> None:
    sharded = ShardedOptimizer(optikern.SGD, start(np.float64), lr=0.1, nonfinite=policy)
    before = [p.copy() for p in sharded.params]
    for view, g in zip(sharded.grads, local_grads(0, RANK, np.float64)):
        view[...] = g
    if RANK == SIZE - 1:
        sharded.grads[0][0, 0] = np.nan  # only the last rank sees it, in the first shard
    if policy == "raise":
        with pytest.raises(optikern.NonFiniteError):
            sharded.step()
    else:
        sharded.step()
        assert sharded.skipped_steps == 1
    for a, b in zip(sharded.params, before):
        assert np.array_equal(a, b)


def test_shard_bounds_cover_everything() -> None:
    for n in (0, 1, 7, 144):
        for size in (1, 2, 3, 5):
            counts, offsets = shard_bounds(n, size)
            assert sum(counts) == n and offsets[0] == 0
            assert max(counts) - min(counts) <= 1
