"""LAMB: optax's ``lamb`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class LAMB(Optimizer):
    r"""LAMB, layer-wise adaptive moments (You et al. 2020), as ``optax.lamb``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}
            + \lambda p_{t-1}, \quad
        p_t = p_{t-1} - \gamma \frac{\lVert p_{t-1} \rVert}{\lVert u_t \rVert} u_t

    with the norms taken per param (tensor); the trust ratio
    :math:`\lVert p \rVert / \lVert u \rVert` is 1 when either norm is 0. Each step is one
    C++ call of two passes: the moments and both norms (deterministic sums), then the update.
    No gradient clipping inside (use :func:`~optikern.clip_grad_norm_`). Not in
    ``torch.optim``.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-3
        Scale :math:`\gamma` of the update.
    betas : (float, float), default (0.9, 0.999)
        Decays :math:`\beta_1, \beta_2` of the moment averages (0 <= beta < 1).
    eps : float, default 1e-6
        Added to the bias-corrected root, outside it (optax's ``eps``, ``eps_root=0``).
    weight_decay : float, default 0
        :math:`\lambda`: :math:`\lambda p` joins the update before the trust ratio.
    min_coeff, max_coeff : float or None, default None
        Bounds of the trust ratio (DeepSpeed's ``min_coeff``/``max_coeff``); None: unbounded.
        Applied where both norms are nonzero; the lower bound wins if they cross.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`
        (16-bit params take the float32 update of their masters whole, see the
        mixed-precision docs).

    Notes
    -----
    State per param: ``step``, ``exp_avg`` and ``exp_avg_sq``.
    """

    _kernel = "lamb"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        min_coeff: float | None = None,
        max_coeff: float | None = None,
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
            min_coeff=min_coeff,
            max_coeff=max_coeff,
            maximize=maximize,
        )
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )
