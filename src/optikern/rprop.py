"""Rprop: ``torch.optim.Rprop`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Rprop(Optimizer):
    r"""Rprop, resilient backpropagation (Riedmiller & Braun 1993), as ``torch.optim.Rprop``.

    Each element keeps its own step size, grown by :math:`\eta^+` while its gradient keeps its
    sign and shrunk by :math:`\eta^-` when the sign flips; the step uses only the sign of the
    gradient:

    .. math::
        \eta_t = \mathrm{clamp}\left(\eta_{t-1} f_t, \Gamma_{min}, \Gamma_{max}\right), \quad
        f_t = \begin{cases} \eta^+ & g_t g_{t-1} > 0 \\ \eta^- & g_t g_{t-1} < 0 \\
        1 & \text{otherwise} \end{cases}, \quad
        p_t = p_{t-1} - \eta_t \operatorname{sign}(g_t)

    where the sign flipped, :math:`g_t` is taken as 0 (no step, and none remembered as
    :math:`g_{t-1}` for the next step). :math:`\eta_0 = \gamma`.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-2
        The initial step size :math:`\gamma` of every element.
    etas : tuple of float, default (0.5, 1.2)
        :math:`(\eta^-, \eta^+)`, with :math:`0 < \eta^- < 1 < \eta^+`.
    step_sizes : tuple of float, default (1e-6, 50)
        :math:`(\Gamma_{min}, \Gamma_{max})`, the bounds of the step sizes.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights
        The options every optimizer has: see :class:`~optikern.Optimizer`.

    Notes
    -----
    State per param: ``step``, ``prev`` (the last gradient, zeroed where its sign flipped)
    and ``step_size``.
    """

    _kernel = "rprop"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50.0),
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
    ) -> None:
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        super().__init__(params, defaults, nonfinite, rounding, seed, master_weights)
