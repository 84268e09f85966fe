"""RMSProp: ``torch.optim.RMSprop`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class RMSprop(Optimizer):
    r"""RMSProp (Hinton, lecture 6e), as ``torch.optim.RMSprop``.

    .. math::
        v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2, \quad
        \bar g_t = \alpha \bar g_{t-1} + (1 - \alpha) g_t, \quad
        a_t = \sqrt{v_t - \bar g_t^2} + \epsilon, \\
        b_t = \mu b_{t-1} + g_t / a_t, \quad p_t = p_{t-1} - \gamma b_t

    with :math:`g_t = \pm\nabla_t + \lambda p_{t-1}`; :math:`\bar g = 0` unless ``centered``;
    without momentum :math:`p_t = p_{t-1} - \gamma g_t / a_t`.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-2
        Learning rate :math:`\gamma`.
    alpha : float, default 0.99
        Smoothing constant :math:`\alpha` (the blog post's and Keras' decay rate 0.9 is
        ``alpha=0.9``).
    eps : float, default 1e-8
        Added to the root, outside the square root.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`.
    momentum : float, default 0
        Momentum :math:`\mu` of the normalised step.
    centered : bool, default False
        Normalise by the estimated variance instead of the second moment.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool, default False
        Decay the weights directly, :math:`p \leftarrow p\,(1 - \gamma\lambda)`, instead of
        adding an L2 term to the gradient (Keras' ``weight_decay``).
    lr_in_momentum : bool, default False
        Keras' momentum form: :math:`b_t = \mu b_{t-1} + \gamma g_t / a_t`,
        :math:`p_t = p_{t-1} - b_t`.
    eps_inside_sqrt : bool, default False
        :math:`a_t = \sqrt{v_t - \bar g_t^2 + \epsilon}` (Keras and optax) instead of adding
        :math:`\epsilon` after the root.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0) and
    ``grad_avg`` (centered).
    """

    _kernel = "rmsprop"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        lr_in_momentum: bool = False,
        eps_inside_sqrt: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            lr_in_momentum=lr_in_momentum,
            eps_inside_sqrt=eps_inside_sqrt,
        )
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
