"""Adam and AdamW: ``torch.optim.Adam`` / ``torch.optim.AdamW`` over NumPy arrays."""

from __future__ import annotations

from .optimizer import Optimizer, ParamsArg


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``.

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`g_t = \pm\nabla_t + \lambda p_{t-1}` (L2 weight decay) and
    :math:`\hat v_t = \max(\hat v_{t-1}, v_t)` under ``amsgrad``, else :math:`\hat v_t = v_t`.
    With ``decoupled_weight_decay`` the decay is applied as in :class:`AdamW` instead.

    Parameters
    ----------
    params : list of numpy.ndarray or list of dict
        Arrays updated in place, or param groups.
    lr : float, default 1e-3
        Learning rate :math:`\gamma`.
    betas : tuple of float, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)` of the moment estimates.
    eps : float, default 1e-8
        Added to the bias-corrected root, outside the square root (Keras' default and the blog
        post's value is ``eps=1e-7``).
    weight_decay : float, default 0
        Weight decay :math:`\lambda`.
    amsgrad : bool, default False
        Use the running maximum of the second moment (Reddi et al. 2018).
    maximize : bool, default False
        Ascend the objective instead of descending it.
    nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        The options of every optimizer and of 8-bit state: see :class:`~optikern.Optimizer`.
    decoupled_weight_decay : bool, default False
        Decay the weights directly (AdamW) instead of adding an L2 term to the gradient.

    Notes
    -----
    State per param: ``step``, ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` (amsgrad).
    """

    _kernel = "adam"

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
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
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(
            params, defaults, nonfinite, rounding, seed, master_weights, state_bits, min_8bit_size
        )


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    Adam with decoupled weight decay: each step first scales the params,
    :math:`p \leftarrow p\,(1 - \gamma\lambda)`, then applies the :class:`Adam` update without an
    L2 term. Parameters as :class:`Adam`, with ``weight_decay`` defaulting to ``1e-2``.
    """

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        nonfinite: str = "propagate",
        rounding: str = "nearest",
        seed: int = 0,
        master_weights: bool = True,
        state_bits: int = 32,
        min_8bit_size: int = 4096,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            nonfinite=nonfinite,
            rounding=rounding,
            seed=seed,
            master_weights=master_weights,
            state_bits=state_bits,
            min_8bit_size=min_8bit_size,
        )
