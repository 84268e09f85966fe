"""ASGD: ``torch.optim.ASGD`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class ASGD(Optimizer):
    r"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky 1992), as
    ``torch.optim.ASGD``.

    .. math::
        p_t = p_{t-1}(1 - \lambda\eta_t) - \eta_t g_t, \quad
        a_t = a_{t-1} + \mu_t (p_t - a_{t-1}), \\
        \eta_{t+1} = \frac{\gamma}{(1 + \lambda\gamma t)^\alpha}, \quad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    with :math:`\eta_1 = \gamma`, :math:`\mu_1 = 1`; while :math:`\mu_t = 1` the average
    :math:`a_t` (``ax``) is the param itself.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-2
        Learning rate :math:`\gamma`.
    lambd : float, default 1e-4
        Decay term :math:`\lambda`.
    alpha : float, default 0.75
        Power :math:`\alpha` of the learning-rate decay.
    t0 : float, default 1e6
        Step :math:`t_0` after which averaging starts.
    weight_decay : float, default 0
        L2 penalty added to the gradient.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights
        The options every optimizer has: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``ax``, and ``eta`` and ``mu``, 0-d float32 arrays as torch's
    0-d tensors: each step uses the values the previous step left, computed from that step's
    ``lr``, so a schedule acts one step later, as in torch.
    """

    _kernel = "asgd"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(params, defaults, nonfinite, rounding, seed, master_weights)
