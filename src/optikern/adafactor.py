"""Adafactor: ``torch.optim.Adafactor`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern 2018), as ``torch.optim.Adafactor``.

    .. math::
        \hat\beta_{2,t} = 1 - t^{\tau}, \quad
        \rho_t = \min(\gamma, 1/\sqrt{t}), \quad
        \alpha_t = \max(\epsilon_2, \lVert p_{t-1} \rVert / \sqrt{n})\,\rho_t, \\
        R_t = \hat\beta_{2,t} R_{t-1} + (1 - \hat\beta_{2,t})\,\mathrm{mean}_j(g_t^2), \quad
        C_t = \hat\beta_{2,t} C_{t-1} + (1 - \hat\beta_{2,t})\,\mathrm{mean}_i(g_t^2), \quad
        \hat v_t = \frac{R_t C_t}{\max(\mathrm{mean}(R_t), \epsilon_1)}, \\
        u_t = g_t / \sqrt{\max(\hat v_t, \epsilon_1^2)}, \quad
        p_t = p_{t-1}(1 - \gamma\lambda)
            - \frac{\alpha_t}{\max(1, \lVert u_t \rVert / (\sqrt{n}\,d))} u_t

    for a param of two or more dimensions, seen as a batch of matrices (its last two
    dimensions): one row factor :math:`R` and one column factor :math:`C` per matrix instead of
    an elementwise second moment. A param of fewer dimensions keeps
    :math:`\hat v_t = \hat\beta_{2,t} \hat v_{t-1} + (1 - \hat\beta_{2,t}) g_t^2`. The norms are
    per param (tensor). Each step is one C++ call of four passes: the sums of
    :math:`p^2` and, per row and column, of :math:`g^2`; the factors; the sum of :math:`u^2`;
    the update.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups; arrays of two or more dimensions must be
        C-contiguous.
    lr : float, default 1e-2
        Learning rate :math:`\gamma` (it caps the relative step :math:`\rho_t`).
    beta2_decay : float, default -0.8
        Decay :math:`\tau \le 0` of the second moment's averaging.
    eps : (float or None, float), default (None, 1e-3)
        :math:`\epsilon_1` (None: the dtype's machine epsilon), the floor of the second moment,
        and :math:`\epsilon_2`, the floor of the param scale.
    d : float, default 1.0
        Clipping threshold :math:`d \ge 1` of the update's RMS.
    weight_decay : float, default 0
        Decoupled weight decay :math:`\lambda`.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights
        The options every optimizer has: see :class:`~optikern.Optimizer` (16-bit params
        take the float32 update of their masters whole, see the mixed-precision docs).

    Notes
    -----
    State per param: ``step``; ``row_var`` of shape ``shape[:-1] + (1,)`` and ``col_var`` of
    shape ``shape[:-2] + (1, shape[-1])`` for a param of two or more dimensions, else
    ``variance`` of the param's shape (torch's names and shapes). No 8-bit state: the factored
    statistics are not elementwise running averages.
    """

    _kernel = "adafactor"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=eps,
            d=d,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, nonfinite, rounding, seed, master_weights)
