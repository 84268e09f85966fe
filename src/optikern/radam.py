"""RAdam: ``torch.optim.RAdam`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class RAdam(Optimizer):
    r"""RAdam, Adam with a rectified variance (Liu et al. 2020), as ``torch.optim.RAdam``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}, \\
        p_t = p_{t-1} - \gamma \frac{m_t}{1 - \beta_1^t}
              \cdot \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon}\, r_t
        \quad (\rho_t > 5), \qquad
        p_t = p_{t-1} - \gamma \frac{m_t}{1 - \beta_1^t} \quad \text{otherwise}

    with :math:`\rho_\infty = 2 / (1 - \beta_2) - 1` and
    :math:`r_t = \sqrt{(\rho_t - 4)(\rho_t - 2)\rho_\infty /
    ((\rho_\infty - 4)(\rho_\infty - 2)\rho_t)}`.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-3
        Learning rate :math:`\gamma`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)` of the moment estimates.
    eps : float, default 1e-8
        Added to :math:`\sqrt{v_t}`.
    weight_decay : float, default 0
        Weight decay :math:`\lambda`: an L2 term in the gradient, or with
        ``decoupled_weight_decay`` a decay of the params, :math:`p \leftarrow p(1 - \gamma\lambda)`.
    decoupled_weight_decay : bool, default False
        Decay the params directly (as AdamW does) instead of adding an L2 term.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``exp_avg`` and ``exp_avg_sq``.
    """

    _kernel = "radam"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
