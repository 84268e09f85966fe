"""AdaGrad: ``torch.optim.Adagrad`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``.

    .. math::
        g_t = \pm\nabla_t + \lambda p_{t-1}, \quad
        s_t = s_{t-1} + g_t^2, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 + (t - 1)\eta}\,\frac{g_t}{\sqrt{s_t} + \epsilon}

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-2
        Learning rate :math:`\gamma`.
    lr_decay : float, default 0
        Learning-rate decay :math:`\eta`.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`.
    initial_accumulator_value : float, default 0
        Initial value of the sum of squares :math:`s_0` (Keras uses 0.1).
    eps : float, default 1e-10
        Added to the root of the sum, outside the square root. The blog post's ``1e-7`` is
        ``eps=1e-7``.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool, default False
        Decay the weights directly, :math:`p \leftarrow p\,(1 - \gamma\lambda)`, instead of
        adding an L2 term to the gradient (Keras' ``weight_decay``).
    eps_inside_sqrt : bool, default False
        Divide by :math:`\sqrt{s_t + \epsilon}` (Keras and optax) instead of
        :math:`\sqrt{s_t} + \epsilon`.
    nonfinite, rounding, seed, master_weights
        The options every optimizer has: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step`` and ``sum``.
    """

    _kernel = "adagrad"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        eps_inside_sqrt: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            eps_inside_sqrt=eps_inside_sqrt,
        )
        super().__init__(params, defaults, nonfinite, rounding, seed, master_weights)
