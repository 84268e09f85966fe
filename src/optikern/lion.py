"""Lion: lion-pytorch's ``Lion`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Lion(Optimizer):
    r"""Lion, evolved sign momentum (Chen et al. 2023), as ``lion_pytorch.Lion``.

    .. math::
        p_t = p_{t-1}(1 - \gamma\lambda)
            - \gamma \operatorname{sign}(\beta_1 m_{t-1} + (1 - \beta_1) g_t), \quad
        m_t = \beta_2 m_{t-1} + (1 - \beta_2) g_t

    with :math:`\operatorname{sign}(0) = 0`. Every element moves by exactly :math:`\gamma`
    (or not at all), so Lion wants a learning rate 3-10x smaller than AdamW's and a weight
    decay that much larger. Not in ``torch.optim``; ``optax.lion`` is the same rule.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-4
        Step :math:`\gamma` of every element.
    betas : (float, float), default (0.9, 0.99)
        :math:`\beta_1` interpolates the momentum and the gradient inside the sign,
        :math:`\beta_2` decays the stored momentum (0 <= beta <= 1).
    weight_decay : float, default 0
        Decoupled decay :math:`\lambda`: the param is scaled by :math:`1 - \gamma\lambda`.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``exp_avg`` (no step count, as lion-pytorch).
    """

    _kernel = "lion"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
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
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
