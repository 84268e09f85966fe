"""SGD, plain or with (Nesterov) momentum: ``torch.optim.SGD`` over NumPy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validation, functional
from .optimizer import Optimizer, ParamsArg


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    .. math::
        g_t = \pm\nabla_t + \lambda p_{t-1}, \quad
        b_t = \mu b_{t-1} + (1 - \tau) g_t \;(b_1 = g_1), \quad
        p_t = p_{t-1} - \gamma\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups (``{"params": [...], "lr": ...}``).
    lr : float, default 1e-3
        Learning rate :math:`\gamma`.
    momentum : float, default 0
        Momentum factor :math:`\mu`; 0 is plain (mini-batch) SGD and keeps no state.
    dampening : float, default 0
        Dampening :math:`\tau` of the gradient in the momentum buffer.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda` added to the gradient.
    nesterov : bool, default False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    maximize : bool, default False
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool, default False
        Decay the weights directly, :math:`p \leftarrow p\,(1 - \gamma\lambda)`, instead of
        adding an L2 term to the gradient (Keras' ``weight_decay``).
    lr_in_momentum : bool, default False
        Keras' momentum form: the buffer accumulates :math:`\gamma g_t` and the step is
        :math:`p_t = p_{t-1} - b_t` (differs from torch's when the learning rate changes).
    nonfinite, rounding, seed, master_weights
        The options every optimizer has: see :class:`~optikern.Optimizer`.

    Notes
    -----
    The blog post this project grew from writes momentum as ``v = rho * v + g``,
    ``w = w - lr * v``: that is ``SGD(params, lr, momentum=rho)`` (dampening 0), except that
    torch and optikern start the buffer at the first gradient rather than at zero.
    """

    _state_names = frozenset({"momentum_buffer"})

    _counts_steps = False

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        lr_in_momentum: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            lr_in_momentum=lr_in_momentum,
        )
        super().__init__(params, defaults, nonfinite, rounding, seed, master_weights)

    def _check_group(self, group: dict[str, Any]) -> None:
        _validation.learning_rate(group["lr"])
        _validation.momentum(group["momentum"])
        _validation.real(group["dampening"], "dampening")
        _validation.weight_decay(group["weight_decay"])
        _validation.flag(group["nesterov"], "nesterov")
        _validation.flag(group["maximize"], "maximize")
        _validation.flag(group["decoupled_weight_decay"], "decoupled_weight_decay")
        _validation.flag(group["lr_in_momentum"], "lr_in_momentum")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _state_fill(self, group: dict[str, Any]) -> dict[str, float]:
        # The first step copies the gradient into the buffer, so its initial value is unused.
        return {"momentum_buffer": 0.0} if group["momentum"] != 0 else {}

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
        return functional._sgd(
            kernel_params,
            grads,
            roles.get("momentum_buffer"),
            group["lr"],
            group["momentum"],
            group["dampening"],
            group["weight_decay"],
            group["nesterov"],
            group["maximize"],
            fresh,
            group["decoupled_weight_decay"],
            group["lr_in_momentum"],
            check_only,
            skip_nonfinite,
            lowp_params,
            self._grad_scale,
            self.rounding,
            self.seed,
            step or 0,
        )
