"""NAdam: ``torch.optim.NAdam`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class NAdam(Optimizer):
    r"""NAdam, Adam with Nesterov momentum (Dozat 2016), as ``torch.optim.NAdam``.

    .. math::
        \mu_t = \beta_1 \left(1 - \tfrac12\, 0.96^{t\psi}\right), \quad
        \Pi_t = \Pi_{t-1}\,\mu_t, \quad
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1} - \gamma \left(\frac{1 - \mu_t}{1 - \Pi_t}\, g_t
              + \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}}\, m_t\right)
              \Big/ \left(\sqrt{v_t / (1 - \beta_2^t)} + \epsilon\right)

    with :math:`\Pi_0 = 1` (``mu_product``, per param).

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 2e-3
        Learning rate :math:`\gamma`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)` of the moment estimates.
    eps : float, default 1e-8
        Added to the root of the bias-corrected :math:`v_t`.
    weight_decay : float, default 0
        Weight decay :math:`\lambda`: an L2 term in the gradient, or with
        ``decoupled_weight_decay`` a decay of the params, :math:`p \leftarrow p(1 - \gamma\lambda)`.
    momentum_decay : float, default 4e-3
        :math:`\psi`, how fast the momentum schedule :math:`\mu_t` approaches :math:`\beta_1`.
    decoupled_weight_decay : bool, default False
        Decay the params directly (NAdamW) instead of adding an L2 term.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``exp_avg``, ``exp_avg_sq`` and ``mu_product``, a 0-d float32
    array as torch keeps it (its product is rounded to float32 every step, as torch's is).
    """

    _kernel = "nadam"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
