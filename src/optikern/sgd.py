"""SGD, plain or with (Nesterov) momentum: ``torch.optim.SGD`` over NumPy arrays."""

from __future__ import annotations

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
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    The blog post this project grew from writes momentum as ``v = rho * v + g``,
    ``w = w - lr * v``: that is ``SGD(params, lr, momentum=rho)`` (dampening 0), except that
    torch and optikern start the buffer at the first gradient rather than at zero.
    """

    _kernel = "sgd"

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
        state_bits: int = 32,
        min_8bit_size: int = 4096,
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
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
