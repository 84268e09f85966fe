"""Schedules against torch.optim.lr_scheduler number for number (when torch is installed) and
against their closed forms."""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np
import pytest
from optim_db import IN_TORCH, IN_TORCH_NAMES, OPTIM_DB, OptimizerInfo

import optikern
from optikern import lr_scheduler as S

STEPS = 120


def groups(zeros: Callable) -> list[dict]:
    return [{"params": [zeros(2)]}, {"params": [zeros(3)], "lr": 0.05}]


def optikern_opt(info: OptimizerInfo = OPTIM_DB[0]) -> optikern.Optimizer:
    return info.make(groups(np.zeros), **{**info.representative, "lr": 0.1})


SCHEDULES: dict[str, Callable[[Any, Any], Any]] = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=40, eta_min=1e-4),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=10),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=lambda t: 1 / (1 + t)),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 1),
    "OneCycleLR-3phase-linear": lambda m, o: m.OneCycleLR(
        o, max_lr=[1.0, 0.5], total_steps=STEPS + 1, three_phase=True, anneal_strategy="linear"
    ),
    "Sequential warmup+cosine": lambda m, o: m.SequentialLR(
        o,
        [m.LinearLR(o, start_factor=0.01, total_iters=5), m.CosineAnnealingLR(o, T_max=50)],
        milestones=[5],
    ),
    "Chained exp+step": lambda m, o: m.ChainedScheduler(
        [m.ExponentialLR(o, gamma=0.99), m.StepLR(o, step_size=10, gamma=0.5)]
    ),
}


def trace(module: Any, make: Callable, opt: Any, step_optimizer: bool = False) -> list[tuple]:
    scheduler = make(module, opt)
    out = []
    for _ in range(STEPS):
        groups = opt.param_groups
        out.append(tuple((g["lr"], g.get("momentum"), tuple(g.get("betas", ()))) for g in groups))
        if step_optimizer:
            opt.step()  # torch warns when a schedule steps before its optimizer
        scheduler.step()
    return out


@pytest.mark.parametrize("info", IN_TORCH, ids=IN_TORCH_NAMES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_matches_torch(name: str, info: OptimizerInfo) -> None:
    torch = pytest.importorskip("torch")
    kwargs = {**info.representative, "lr": 0.1}
    torch_opt = getattr(torch.optim, info.name)(groups(torch.zeros), **kwargs)
    try:
        SCHEDULES[name](torch.optim.lr_scheduler, torch_opt)
    except ValueError as error:  # OneCycleLR cycles a momentum the optimizer lacks
        with pytest.raises(ValueError, match=re.escape(str(error))):
            SCHEDULES[name](S, optikern_opt(info))
        return
    torch_opt = getattr(torch.optim, info.name)(groups(torch.zeros), **kwargs)
    ours = trace(S, SCHEDULES[name], optikern_opt(info))
    theirs = trace(torch.optim.lr_scheduler, SCHEDULES[name], torch_opt, step_optimizer=True)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        for (lr_a, m_a, beta_a), (lr_b, m_b, beta_b) in zip(a, b):
            assert lr_a == pytest.approx(lr_b, rel=1e-12, abs=1e-15), step
            assert m_a == pytest.approx(m_b, rel=1e-12) if m_b is not None else m_a is None
            assert beta_a == pytest.approx(beta_b, rel=1e-12)


def test_closed_forms_without_torch() -> None:
    opt = optikern_opt()
    cosine = S.CosineAnnealingLR(opt, T_max=20, eta_min=0.01)
    for t in range(1, 60):
        cosine.step()
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * t / 20)) / 2
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9)
    opt = optikern_opt()
    step = S.StepLR(opt, step_size=3, gamma=0.5)
    for t in range(1, 10):
        step.step()
        assert opt.param_groups[1]["lr"] == pytest.approx(0.05 * 0.5 ** (t // 3))
    opt = optikern_opt()
    warm = S.LinearLR(opt, start_factor=0.25, total_iters=4)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        warm.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1])


def test_schedule_drives_training_and_state_round_trip() -> None:
    p = np.ones(4)
    opt = optikern.Adam([p], lr=0.1)
    sched = S.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        opt.step([np.ones(4)])
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)
    saved = sched.state_dict()
    fresh = S.ExponentialLR(optikern.Adam([np.ones(4)], lr=0.1), gamma=0.5)
    fresh.load_state_dict(saved)
    assert fresh.last_epoch == 3 and fresh.get_last_lr() == sched.get_last_lr()


def test_errors() -> None:
    with pytest.raises(TypeError, match="optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(optikern_opt(), max_lr=1.0)
    opt = optikern_opt()
    cycle = S.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    cycle.step()
    cycle.step()
    with pytest.raises(ValueError, match="Tried to step"):
        cycle.step()
