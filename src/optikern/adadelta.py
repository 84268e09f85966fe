"""Adadelta: ``torch.optim.Adadelta`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), as ``torch.optim.Adadelta``.

    .. math::
        v_t = \rho v_{t-1} + (1 - \rho) g_t^2, \quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \quad
        u_t = \rho u_{t-1} + (1 - \rho) \Delta_t^2, \quad
        p_t = p_{t-1} - \gamma \Delta_t

    with :math:`g_t = \pm\nabla_t + \lambda p_{t-1}` (L2 weight decay).

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1.0
        Scale :math:`\gamma` of the update.
    rho : float, default 0.9
        Decay :math:`\rho` of both running averages (0 <= rho <= 1).
    eps : float, default 1e-6
        Added inside both square roots.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda` added to the gradient.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``square_avg`` and ``acc_delta``.
    """

    _kernel = "adadelta"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
