"""Adamax: ``torch.optim.Adamax`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Adamax(Optimizer):
    r"""Adamax, Adam with the infinity norm (Kingma & Ba 2015, section 7.1), as
    ``torch.optim.Adamax``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \quad
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}\,\frac{m_t}{u_t}

    with :math:`g_t = \pm\nabla_t + \lambda p_{t-1}` (L2 weight decay).

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 2e-3
        Learning rate :math:`\gamma`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)` of the first moment and the infinity norm.
    eps : float, default 1e-8
        Added to :math:`|g_t|` inside the maximum.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda` added to the gradient.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``exp_avg`` and ``exp_inf``.
    """

    _kernel = "adamax"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
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
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
