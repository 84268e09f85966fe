"""torch.distributed.optim.ZeroRedundancyOptimizer with optikern.torch.AdamW as the local
optimizer, on the gloo backend with 2 processes (spawned): every rank ends with the params
torch.optim.AdamW gives under the same sharding."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():  # pragma: no cover - torch built without distributed
    pytest.skip("torch.distributed is not available", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def train(rank: int, world: int, port: int, out: str) -> None:
    from torch.distributed.optim import ZeroRedundancyOptimizer

    import optikern.torch as okt

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    results = {}
    for name, cls in (("optikern", okt.AdamW), ("torch", torch.optim.AdamW)):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
        opt = ZeroRedundancyOptimizer(
            net.parameters(), optimizer_class=cls, lr=0.01, weight_decay=0.1
        )
        gen = torch.Generator().manual_seed(100 + rank)
        for _ in range(10):
            x, y = torch.randn(8, 8, generator=gen), torch.randn(8, 4, generator=gen)
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            for p in net.parameters():  # data parallel: average the gradients
                dist.all_reduce(p.grad)
                p.grad /= world
            opt.step()
        results[name] = [p.detach().clone() for p in net.parameters()]
    torch.save(results, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def test_zero_redundancy_optimizer_with_optikern_adamw(tmp_path: Path) -> None:
    torch.multiprocessing.spawn(train, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for results in ranks:
        for ours, theirs in zip(results["optikern"], results["torch"]):
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for a, b in zip(ranks[0]["optikern"], ranks[1]["optikern"]):
        assert torch.equal(a, b)  # every rank holds every updated param
