"""The pure-Python definition of every optimizer update (``math`` and ``struct`` only, never
NumPy).

This module is the readable specification the C++ kernels are tested against: one function
per optimizer, a loop over the elements of a ``list[float]`` param updated in place, and a
``state`` dict filled on first use with torch's state names. The arithmetic follows
``torch.optim``'s single-tensor ("for-loop") code operation by operation (e.g. Adam's moving
average is torch's ``lerp``, its step ``p + (-step_size * m) / denom``), which is the pseudo-code
of each ``torch.optim`` documentation page written out, with torch's roundings: a multiply-add
that torch's vectorised kernels fuse (``add`` with ``alpha``, ``addcmul``, ``lerp``) is one
exactly rounded :func:`_fma` here too.

The blog post optikern grew from simplified some of these formulas; its variants are reached by
options: its Adam ``eps=1e-7`` is ``adam_step(..., eps=1e-7)``, its momentum ``v = rho*v + g``
is ``sgd_step(..., momentum=rho)`` (the buffer starts at the first gradient, as in torch),
its AdaGrad (which forgot the accumulation) is ``adagrad_step`` with ``eps=1e-7``.

Options beyond torch follow Keras and optax: ``decoupled_weight_decay`` (``p *= 1 - lr*wd``
first), ``lr_in_momentum`` (the buffer accumulates ``lr*g``) and ``eps_inside_sqrt``.
"""

from __future__ import annotations

import bisect
import math
import struct
from fractions import Fraction
from typing import Any

State = dict[str, Any]


def _fma(a: float, b: float, c: float) -> float:
    """a * b + c rounded once (``math.fma`` of Python 3.13): the product split exactly into
    ``a * b`` and its rounding error (Dekker), summed with c by the correctly rounded ``fsum``;
    exact rational arithmetic where the split could overflow or lose bits."""
    product = a * b
    if not (math.isfinite(product) and math.isfinite(c)) or a == 0.0 or b == 0.0:
        return product + c  # exact product: one rounding already
    if not 2.0**-900 < abs(product) < 2.0**900 or max(abs(a), abs(b)) > 2.0**900:
        return float(Fraction(a) * Fraction(b) + Fraction(c))
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    return math.fsum((product, error, c))


def _split(x: float) -> tuple[float, float]:
    """x as high + low, each with at most 26 significant bits (Veltkamp)."""
    scaled = x * 134217729.0  # 2**27 + 1
    high = scaled - (scaled - x)
    return high, x - high


def _lerp(a: float, b: float, weight: float) -> float:
    """torch's lerp: two forms, equal in exact arithmetic, chosen by the weight, each one
    multiply-add."""
    if abs(weight) < 0.5:
        return _fma(weight, b - a, a)
    return _fma(weight - 1.0, b - a, b)


def _float32(x: float) -> float:
    """x rounded to float32: torch keeps some per-param scalars (NAdam's ``mu_product``) as
    0-d float32 tensors, its default scalar dtype."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _decayed(
    p: float, g: float, lr: float, weight_decay: float, decoupled: bool
) -> tuple[float, float]:
    """Weight decay: the param scaled (decoupled) or an L2 term added to the gradient."""
    if weight_decay != 0:
        if decoupled:
            p = p * (1.0 - lr * weight_decay)
        else:
            g = _fma(p, weight_decay, g)
    return p, g


def sgd_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    lr_in_momentum: bool = False,
) -> None:
    r"""SGD (https://pytorch.org/docs/stable/generated/torch.optim.SGD.html).

    .. math::
        g_t = \pm\nabla_t + \lambda p_{t-1}, \quad
        b_t = \mu b_{t-1} + (1 - \tau) g_t \;(b_1 = g_1), \quad
        p_t = p_{t-1} - \gamma\,(g_t + \mu b_t \text{ if nesterov else } b_t)
    """
    first = "momentum_buffer" not in state
    buf: list[float] = []  # read only with momentum
    if momentum != 0:
        if first:
            state["momentum_buffer"] = [0.0] * len(param)
        stored = state["momentum_buffer"]
        if stored is None:
            raise ValueError(
                "sgd_step: state['momentum_buffer'] is None; with momentum it must be a list "
                "of floats, or absent before the first step"
            )
        buf = stored
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        if lr_in_momentum:
            g = lr * g
        if momentum != 0:
            b = g if first else _fma(g, 1.0 - dampening, buf[i] * momentum)
            buf[i] = b
            g = _fma(b, momentum, g) if nesterov else b
        param[i] = _fma(g, -1.0 if lr_in_momentum else -lr, p)


def adagrad_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    eps_inside_sqrt: bool = False,
) -> None:
    r"""AdaGrad, Duchi, Hazan & Singer 2011
    (https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html).

    .. math::
        s_t = s_{t-1} + g_t^2, \quad
        p_t = p_{t-1} - \frac{\gamma}{1 + (t - 1)\eta}\,\frac{g_t}{\sqrt{s_t} + \epsilon}
    """
    if "sum" not in state:
        state["step"] = 0
        state["sum"] = [float(initial_accumulator_value)] * len(param)
    state["step"] += 1
    clr = lr / (1 + (state["step"] - 1) * lr_decay)
    total = state["sum"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        total[i] = _fma(g, g, total[i])
        std = math.sqrt(total[i] + eps) if eps_inside_sqrt else math.sqrt(total[i]) + eps
        param[i] = p + ((-clr) * g) / std


def rmsprop_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    lr_in_momentum: bool = False,
    eps_inside_sqrt: bool = False,
) -> None:
    r"""RMSProp, Hinton's lecture 6e
    (https://pytorch.org/docs/stable/generated/torch.optim.RMSprop.html).

    .. math::
        v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2, \quad
        \bar g_t = \alpha \bar g_{t-1} + (1 - \alpha) g_t, \quad
        a_t = \sqrt{v_t - \bar g_t^2} + \epsilon, \\
        b_t = \mu b_{t-1} + g_t / a_t, \quad p_t = p_{t-1} - \gamma b_t
    """
    if "square_avg" not in state:
        state["step"] = 0
        state["square_avg"] = [0.0] * len(param)
        if momentum > 0:
            state["momentum_buffer"] = [0.0] * len(param)
        if centered:
            state["grad_avg"] = [0.0] * len(param)
    state["step"] += 1
    square_avg = state["square_avg"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        square_avg[i] = _fma((1.0 - alpha) * g, g, square_avg[i] * alpha)
        variance = square_avg[i]
        if centered:
            grad_avg = state["grad_avg"]
            grad_avg[i] = _lerp(grad_avg[i], g, 1.0 - alpha)
            variance = _fma(-grad_avg[i], grad_avg[i], square_avg[i])
        avg = math.sqrt(variance + eps) if eps_inside_sqrt else math.sqrt(variance) + eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            step = lr * g if lr_in_momentum else g
            buf[i] = buf[i] * momentum + step / avg
            param[i] = p - buf[i] if lr_in_momentum else _fma(buf[i], -lr, p)
        else:
            param[i] = p + ((-lr) * g) / avg


def adam_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> None:
    r"""Adam, Kingma & Ba 2015 (https://pytorch.org/docs/stable/generated/torch.optim.Adam.html).

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`\hat v_t = \max(\hat v_{t-1}, v_t)` under amsgrad (Reddi et al. 2018).
    ``eps`` is added outside the square root, after bias correction.
    """
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_avg_sq"] = [0.0] * len(param)
        if amsgrad:
            state["max_exp_avg_sq"] = [0.0] * len(param)
    state["step"] += 1
    step = state["step"]
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        exp_avg[i] = _lerp(exp_avg[i], g, 1.0 - beta1)
        exp_avg_sq[i] = _fma((1.0 - beta2) * g, g, exp_avg_sq[i] * beta2)
        v_hat = exp_avg_sq[i]
        if amsgrad:
            max_sq = state["max_exp_avg_sq"]
            max_sq[i] = max(exp_avg_sq[i], max_sq[i])
            v_hat = max_sq[i]
        denom = math.sqrt(v_hat) / bias_correction2_sqrt + eps
        param[i] = p + ((-step_size) * exp_avg[i]) / denom


def adamax_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""Adamax, https://pytorch.org/docs/stable/generated/torch.optim.Adamax.html:

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \quad
        p_t = p_{t-1} - \frac{\gamma}{1 - \beta_1^t}\,\frac{m_t}{u_t}
    """
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_inf"] = [0.0] * len(param)
    state["step"] += 1
    neg_clr = -(lr / (1 - beta1 ** state["step"]))
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = _fma(param[i], weight_decay, g)
        exp_avg[i] = _lerp(exp_avg[i], g, 1.0 - beta1)
        # a NaN gradient makes exp_inf NaN, as torch's amax does (Python's max keeps its
        # first argument when the other is NaN)
        exp_inf[i] = max(abs(g) + eps, exp_inf[i] * beta2)
        param[i] = param[i] + (neg_clr * exp_avg[i]) / exp_inf[i]


def radam_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r"""RAdam, https://pytorch.org/docs/stable/generated/torch.optim.RAdam.html: Adam's moments,
    the update rectified once the SMA length :math:`\rho_t` exceeds 5 (see
    :class:`optikern.RAdam` for the formula)."""
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_avg_sq"] = [0.0] * len(param)
    state["step"] += 1
    t = state["step"]
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    rectified = rho_t > 5.0
    rect = (
        math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        if rectified
        else 1.0
    )
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        exp_avg[i] = _lerp(exp_avg[i], g, 1.0 - beta1)
        exp_avg_sq[i] = _fma((1.0 - beta2) * g, g, exp_avg_sq[i] * beta2)
        update = exp_avg[i] / bias_correction1 * lr
        if rectified:
            update = (
                # torch's float / tensor is tensor.reciprocal() * float
                update
                * ((1.0 / (math.sqrt(exp_avg_sq[i]) + eps)) * math.sqrt(bias_correction2))
                * rect
            )
        param[i] = p - update


def adadelta_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""Adadelta, https://pytorch.org/docs/stable/generated/torch.optim.Adadelta.html:

    .. math::
        v_t = \rho v_{t-1} + (1 - \rho) g_t^2, \quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t, \quad
        u_t = \rho u_{t-1} + (1 - \rho)\Delta_t^2, \quad p_t = p_{t-1} - \gamma \Delta_t
    """
    if "square_avg" not in state:
        state["step"] = 0
        state["square_avg"] = [0.0] * len(param)
        state["acc_delta"] = [0.0] * len(param)
    state["step"] += 1
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = _fma(param[i], weight_decay, g)
        square_avg[i] = _fma((1 - rho) * g, g, square_avg[i] * rho)
        delta = math.sqrt(acc_delta[i] + eps) / math.sqrt(square_avg[i] + eps) * g
        acc_delta[i] = _fma((1 - rho) * delta, delta, acc_delta[i] * rho)
        param[i] = _fma(delta, -lr, param[i])


def nadam_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
) -> None:
    r"""NAdam, Dozat 2016 (https://pytorch.org/docs/stable/generated/torch.optim.NAdam.html).

    .. math::
        \mu_t = \beta_1 (1 - \tfrac12 0.96^{t\psi}), \quad \Pi_t = \Pi_{t-1}\mu_t, \quad
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1} - \gamma \frac{1 - \mu_t}{1 - \Pi_t} \frac{g_t}{d_t}
              - \gamma \frac{\mu_{t+1}}{1 - \Pi_t\mu_{t+1}} \frac{m_t}{d_t}, \quad
        d_t = \sqrt{v_t / (1 - \beta_2^t)} + \epsilon

    :math:`\Pi_t` (``mu_product``) is a float32 value, as torch's 0-d tensor is.
    """
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_avg_sq"] = [0.0] * len(param)
        state["mu_product"] = 1.0
    state["step"] += 1
    step = state["step"]
    bias_correction2 = 1 - beta2**step
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    state["mu_product"] = _float32(state["mu_product"] * _float32(mu))
    mu_product = state["mu_product"]
    grad_coefficient = -lr * (1.0 - mu) / (1.0 - mu_product)
    exp_avg_coefficient = (-lr * mu_next) / (1.0 - mu_product * mu_next)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p, g = _decayed(param[i], g, lr, weight_decay, decoupled_weight_decay)
        exp_avg[i] = _lerp(exp_avg[i], g, 1.0 - beta1)
        exp_avg_sq[i] = _fma((1.0 - beta2) * g, g, exp_avg_sq[i] * beta2)
        denom = math.sqrt(exp_avg_sq[i] / bias_correction2) + eps
        p = p + (grad_coefficient * g) / denom
        param[i] = p + (exp_avg_coefficient * exp_avg[i]) / denom


def rprop_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50.0),
    maximize: bool = False,
) -> None:
    r"""Rprop, Riedmiller & Braun 1993
    (https://pytorch.org/docs/stable/generated/torch.optim.Rprop.html).

    .. math::
        \eta_t = \mathrm{clamp}(\eta_{t-1} f_t, \Gamma_{min}, \Gamma_{max}), \quad
        f_t = \eta^+, \eta^-, 1 \text{ for } g_t g_{t-1} > 0, < 0, = 0, \\
        g_t \leftarrow 0 \text{ where } g_t g_{t-1} < 0, \quad
        p_t = p_{t-1} - \eta_t\, \mathrm{sign}(g_t)

    with :math:`\eta_0 = \gamma` (``step_size``) and :math:`g_{t-1}` the remembered ``prev``.
    """
    etaminus, etaplus = etas
    step_size_min, step_size_max = step_sizes
    if "prev" not in state:
        state["step"] = 0
        state["prev"] = [0.0] * len(param)
        state["step_size"] = [lr] * len(param)
    state["step"] += 1
    prev, step_size = state["prev"], state["step_size"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        product = g * prev[i]
        if product > 0:
            factor = etaplus
        elif product < 0:
            factor = etaminus
        elif product == 0:
            factor = 1.0
        else:
            factor = product  # NaN, as torch's sign
        size = step_size[i] * factor
        if not math.isnan(size):
            size = min(max(size, step_size_min), step_size_max)
        step_size[i] = size
        if product < 0:
            g = 0.0
        sign = 1.0 if g > 0 else -1.0 if g < 0 else g  # NaN stays NaN
        param[i] = param[i] + (-sign) * size
        prev[i] = g


def asgd_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""ASGD, averaged SGD, Polyak & Juditsky 1992
    (https://pytorch.org/docs/stable/generated/torch.optim.ASGD.html).

    .. math::
        p_t = p_{t-1}(1 - \lambda\eta_t) - \eta_t g_t, \quad
        a_t = a_{t-1} + \mu_t (p_t - a_{t-1}), \\
        \eta_{t+1} = \frac{\gamma}{(1 + \lambda\gamma t)^\alpha}, \quad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    with :math:`\eta_1 = \gamma`, :math:`\mu_1 = 1` and :math:`a_t = p_t` while
    :math:`\mu_t = 1`. ``eta`` and ``mu`` are float32 values, as torch's 0-d tensors are.
    """
    if "ax" not in state:
        state["step"] = 0
        state["eta"] = _float32(lr)
        state["mu"] = 1.0
        state["ax"] = [0.0] * len(param)
    state["step"] += 1
    step = state["step"]
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = _fma(param[i], weight_decay, g)
        p = param[i] * (1 - lambd * eta)
        p = _fma(g, -eta, p)
        ax[i] = ax[i] + (p - ax[i]) * mu if mu != 1 else p
        param[i] = p
    state["eta"] = _float32(lr / ((1 + lambd * lr * step) ** alpha))
    state["mu"] = _float32(1 / max(1, step - t0))


def lion_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.99),
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> None:
    r"""Lion (Chen et al. 2023), in the order of lion-pytorch's ``update_fn``:

    .. math::
        p_t = p_{t-1}(1 - \gamma\lambda)
            - \gamma \operatorname{sign}(\beta_1 m_{t-1} + (1 - \beta_1) g_t), \quad
        m_t = \beta_2 m_{t-1} + (1 - \beta_2) g_t

    with :math:`\operatorname{sign}(0) = 0` (NaN too, as ``torch.sign``). No step count.
    """
    if "exp_avg" not in state:
        state["exp_avg"] = [0.0] * len(param)
    beta1, beta2 = betas
    exp_avg = state["exp_avg"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        p = param[i]
        if weight_decay != 0:
            p = p * (1.0 - lr * weight_decay)
        c = exp_avg[i] * beta1 + g * (1.0 - beta1)
        sign = (c > 0) - (c < 0)
        param[i] = p + (-lr) * sign
        exp_avg[i] = exp_avg[i] * beta2 + g * (1.0 - beta2)


def lamb_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    min_coeff: float | None = None,
    max_coeff: float | None = None,
    maximize: bool = False,
) -> None:
    r"""LAMB (You et al. 2020) as optax's ``lamb``, one param being one tensor:

    .. math::
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \quad
        u_t = \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}
            + \lambda p_{t-1}, \quad
        p_t = p_{t-1} - \gamma \frac{\lVert p_{t-1} \rVert}{\lVert u_t \rVert} u_t

    The trust ratio is 1 when either norm is 0, else bounded by DeepSpeed's ``max_coeff``
    then ``min_coeff`` when given.
    """
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_avg_sq"] = [0.0] * len(param)
    state["step"] += 1
    t = state["step"]
    beta1, beta2 = betas
    inv_bias_correction1 = 1.0 / (1.0 - beta1**t)
    inv_bias_correction2 = 1.0 / (1.0 - beta2**t)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    update = []
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        exp_avg[i] = exp_avg[i] * beta1 + g * (1.0 - beta1)
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + (g * g) * (1.0 - beta2)
        denom = math.sqrt(exp_avg_sq[i] * inv_bias_correction2) + eps
        u = (exp_avg[i] * inv_bias_correction1) / denom
        if weight_decay != 0:
            u = u + weight_decay * param[i]
        update.append(u)
    param_norm = math.sqrt(sum(p * p for p in param))
    update_norm = math.sqrt(sum(u * u for u in update))
    trust = 1.0
    if param_norm != 0 and update_norm != 0:
        trust = param_norm / update_norm
        if max_coeff is not None:
            trust = min(trust, max_coeff)
        if min_coeff is not None:
            trust = max(trust, min_coeff)
    for i in range(len(param)):
        param[i] = param[i] + (-(lr * trust)) * update[i]


def adafactor_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
    shape: tuple[int, ...] | None = None,
) -> None:
    r"""Adafactor as ``torch.optim.Adafactor``'s single-tensor code, the param (in C order) of
    ``shape`` (default: a vector):

    .. math::
        \rho = \min(\gamma, t^{-1/2}), \quad
        \alpha = \max(\epsilon_2, \lVert p \rVert / \sqrt{n})\,\rho, \quad
        p \leftarrow p (1 - \gamma\lambda), \\
        R = \mathrm{lerp}(R, \mathrm{mean}_j g^2, t^\tau), \quad
        C = \mathrm{lerp}(C, \mathrm{mean}_i g^2, t^\tau), \quad
        \hat v = R C / \max(\mathrm{mean}(R), \epsilon_1), \\
        u = g \cdot \mathrm{rsqrt}(\max(\hat v, \epsilon_1^2)), \quad
        p \leftarrow p - \frac{\alpha}{\max(1, \lVert u \rVert / (\sqrt{n} d))} u

    per matrix of the last two dimensions of a param of two or more (``row_var``,
    ``col_var``, flat in C order); a vector keeps ``variance`` = lerp(variance, g^2, t^tau)
    as :math:`\hat v`. ``eps[0]`` None is float64's epsilon (torch: the param dtype's).
    """
    shape = (len(param),) if shape is None else tuple(shape)
    factored = len(shape) >= 2
    n = len(param)
    rows, cols = (shape[-2], shape[-1]) if factored else (1, n)
    batches = math.prod(shape[:-2]) if factored else 1
    if "step" not in state:
        state["step"] = 0
        if factored:
            state["row_var"] = [0.0] * (batches * rows)
            state["col_var"] = [0.0] * (batches * cols)
        else:
            state["variance"] = [0.0] * n
    state["step"] += 1
    if n == 0:
        return
    t = float(state["step"])
    eps1 = eps[0] if eps[0] is not None else 2.0**-52
    eps2 = eps[1]
    weight = t**beta2_decay
    rho = min(lr, 1 / t**0.5)
    alpha = max(eps2, math.sqrt(sum(p * p for p in param)) / n**0.5) * rho
    if weight_decay != 0:
        for i in range(n):
            param[i] = param[i] * (1 - lr * weight_decay)
    g = [-x if maximize else x for x in grad]
    if factored:
        row_var, col_var = state["row_var"], state["col_var"]
        estimate = []
        for b in range(batches):
            first = b * rows * cols
            for r in range(rows):
                mean = sum(x * x for x in g[first + r * cols : first + (r + 1) * cols]) / cols
                row_var[b * rows + r] = _lerp(row_var[b * rows + r], mean, weight)
            for c in range(cols):
                mean = sum(g[first + r * cols + c] ** 2 for r in range(rows)) / rows
                col_var[b * cols + c] = _lerp(col_var[b * cols + c], mean, weight)
            clamped_mean = max(sum(row_var[b * rows : (b + 1) * rows]) / rows, eps1)
            for r in range(rows):
                for c in range(cols):
                    estimate.append(row_var[b * rows + r] * col_var[b * cols + c] / clamped_mean)
    else:
        variance = state["variance"]
        for i in range(n):
            variance[i] = _lerp(variance[i], g[i] * g[i], weight)
        estimate = list(variance)
    update = [(1 / math.sqrt(max(v, eps1 * eps1))) * g[i] for i, v in enumerate(estimate)]
    denom = max(1.0, math.sqrt(sum(u * u for u in update)) / (n**0.5 * d))
    for i in range(n):
        param[i] = param[i] + (-alpha / denom) * update[i]


def sparse_adam_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
) -> None:
    r"""torch.optim.SparseAdam on the elements a sparse gradient touches (``param`` and
    ``grad``: those elements; ``state`` their ``exp_avg``/``exp_avg_sq`` and the table's
    ``step``), https://pytorch.org/docs/stable/generated/torch.optim.SparseAdam.html:

    .. math::
        m \leftarrow m + (g - m)(1 - \beta_1), \quad v \leftarrow v + (g^2 - v)(1 - \beta_2),
        \quad p \leftarrow p - \gamma\frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
        \frac{m}{\sqrt{v} + \epsilon}
    """
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["step"] = 0
        state["exp_avg"] = [0.0] * len(param)
        state["exp_avg_sq"] = [0.0] * len(param)
    state["step"] += 1
    t = state["step"]
    step_size = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    for i in range(len(param)):
        g = -grad[i] if maximize else grad[i]
        m[i] = m[i] + (g - m[i]) * (1 - beta1)
        v[i] = v[i] + (g * g - v[i]) * (1 - beta2)
        param[i] = param[i] + (-step_size) * (m[i] / (math.sqrt(v[i]) + eps))


def adamw_step(
    param: list[float],
    grad: list[float],
    state: State,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
) -> None:
    r"""AdamW, Loshchilov & Hutter 2019
    (https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html): :func:`adam_step` with
    decoupled weight decay, :math:`p \leftarrow p\,(1 - \gamma\lambda)` before the update."""
    adam_step(
        param,
        grad,
        state,
        lr=lr,
        betas=betas,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
    )


# -- 8-bit state (blockwise dynamic quantization) -------------------------------------------

#: Elements per quantization block, each with one float32 scale.
QUANTIZATION_BLOCK = 256


def dynamic_map(signed: bool) -> list[float]:
    """bitsandbytes' ``create_dynamic_map(signed)`` (Dettmers et al. 2022): 7 decades
    10^-6 .. 1, each split linearly (``torch.linspace(0.1, 1)`` in float32, whose values are
    fused multiply-adds) into 2^i codes of both signs (signed) or 2^(i+1) codes (unsigned) at the
    midpoints, plus 0 and 1; 256 sorted float32 values."""
    codes = [0.0, 1.0]
    for decade in range(7):
        points = (1 << decade if signed else 2 << decade) + 1
        step = _float32(_float32(1.0 - _float32(0.1)) / (points - 1))
        edges = [
            _float32(step * j + _float32(0.1))
            if j < points // 2
            else _float32(1.0 - step * (points - 1 - j))
            for j in range(points)
        ]
        scale = _float32(10.0 ** (decade - 6))
        for low, high in zip(edges, edges[1:]):
            code = _float32(scale * _float32(_float32(low + high) / 2.0))
            codes += [code, -code] if signed else [code]
    return sorted(codes)


def quantize_block(values: list[float], qmap: list[float]) -> tuple[list[int], float]:
    """One block of float32 values as codes and a scale: ``absmax`` the largest magnitude
    (NaN, with every code that of 0, when a value is NaN or infinite), each code the index of
    the entry of ``qmap`` nearest to ``value / absmax`` in float32 (ties to the lower one)."""
    if not all(math.isfinite(v) for v in values):
        return [qmap.index(0.0)] * len(values), math.nan
    absmax = max((abs(v) for v in values), default=0.0)
    divisor = absmax if absmax > 0 else 1.0
    codes = []
    for v in values:
        x = min(max(_float32(v / divisor), qmap[0]), qmap[-1])
        low = max(bisect.bisect_right(qmap, x) - 1, 0)
        if low + 1 < len(qmap) and _float32(abs(qmap[low + 1] - x)) < _float32(abs(x - qmap[low])):
            low += 1
        codes.append(low)
    return codes, absmax


def dequantize_block(codes: list[int], absmax: float, qmap: list[float]) -> list[float]:
    """The float32 values ``qmap[code] * absmax`` a block stands for."""
    return [_float32(qmap[c] * absmax) for c in codes]
