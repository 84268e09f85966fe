"""Stateless optimizer updates: the layer other libraries embed.

Each function applies one step to lists of NumPy arrays **in place**, through a single call into
the C++ kernels, mirroring the keyword-only functions of ``torch.optim`` (``torch.optim.adam.adam``
and friends). The caller owns every array, state included: allocate state with
``numpy.zeros_like(param)`` (AdaGrad's ``state_sums`` filled with ``initial_accumulator_value``).

Every array must be a dense (C-contiguous, Fortran-ordered or any transpose of them), aligned
NumPy array of float32 or float64 in native byte order, gradients and state of the same dtype,
shape and strides as their param (``numpy.zeros_like`` keeps them), params and state
writeable, and no written array may share memory with another. Anything else raises
``TypeError`` (types, dtypes) or ``ValueError`` (counts, shapes, layout, flags, overlap,
hyperparameters) naming the argument, before anything is written. Arrays are never copied.
``step`` is the 1-based number of the step being taken, an integer up to ``MAX_STEPS`` (2**62).

Pass ``check_only=True`` to run every check without writing: a caller that needs several calls
for one logical step (several param groups, say) checks them all first to stay atomic (with
``skip_nonfinite=True`` too, the gradients are also scanned).

8-bit state: pass :class:`Quantized` state (codes, scales, code map; :func:`quantized_like`
makes it) in place of float arrays, for every state the options use and every param (float32
params, or 16-bit ones as below): each step reads it back, updates and quantizes it in the same
pass (see the 8-bit state docs).

Mixed precision: pass float32 master weights as ``params`` (with float32 state) and the
model's float16 / bfloat16 arrays as ``lowp_params``; ``grads`` are then float16/bfloat16 like
those params, or float32. In one pass the gradients are converted and divided by
``grad_scale`` (the loss scale), the masters and state are updated, and ``lowp_params`` are
rewritten from the masters by round-to-nearest-even or, with ``rounding="stochastic"``, by
stochastic rounding drawn from (``seed``, ``stream``, tensor, element): pass a ``stream`` that
changes every step (the step count) and results are reproducible on any machine. With
``params=None`` there are no masters: the 16-bit params themselves are updated (in float32
arithmetic) and rounded back, the memory-saving regime where stochastic rounding matters.

With ``skip_nonfinite=True`` the gradients are first scanned (a read-only pass in C++); if any
holds a NaN or an infinity nothing is written. Every function returns the index of the first
such gradient, or -1 when the update was applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core

Arrays = Sequence[np.ndarray]

ROUNDINGS = ("nearest", "stochastic")


def _lowp(
    params: Arrays | None,
    lowp_params: Arrays | None,
    grad_scale: float,
    rounding: str,
    seed: int,
    stream: int,
) -> tuple[Arrays | None, _core.MixedPrecision | None]:
    """The params and ``mixed`` argument of a _core step; ``params=None`` with 16-bit
    ``lowp_params`` means no float32 masters: the 16-bit params are updated directly."""
    if lowp_params is None:
        if grad_scale != 1.0:
            raise ValueError("grad_scale: applies to mixed precision (lowp_params) only")
        return params, None
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding: expected 'nearest' or 'stochastic', got {rounding!r}")
    mixed = _core.MixedPrecision(
        lowp_params, grad_scale, rounding == "stochastic", seed, stream, params is not None
    )
    return (lowp_params if params is None else params), mixed


_KERNELS = ("sgd", "adagrad", "rmsprop", "adam", "adamax", "radam", "adadelta", "rprop")
_KERNELS_NOT_IN_TORCH = ("lion", "lamb")
_FACTORED_KERNELS = ("adafactor",)  # state shapes other than the param's: no row steps
_SCALAR_STATE_KERNELS = ("nadam", "asgd")  # kernels keeping per-param 0-d state: no row steps
# SparseAdam: row updates only, no class
_ALL_KERNELS = (
    *_KERNELS,
    *_KERNELS_NOT_IN_TORCH,
    *_SCALAR_STATE_KERNELS,
    *_FACTORED_KERNELS,
    "sparse_adam",
)

#: Each kernel's state names (torch's), in the order its step takes them.
STATE_NAMES = {kernel: getattr(_core, f"{kernel}_state_names") for kernel in _ALL_KERNELS}
#: The names among them that are per-param 0-d arrays (torch's 0-d tensors), not param-shaped.
SCALAR_STATE_NAMES = {
    kernel: frozenset(getattr(_core, f"{kernel}_scalar_state_names")) for kernel in _ALL_KERNELS
}
#: Whether each kernel's state keeps torch's per-param "step".
COUNTS_STEPS = {kernel: getattr(_core, f"{kernel}_counts_steps") for kernel in _ALL_KERNELS}
#: The largest "step" a param's state may hold (2**62: stepping never gets there).
MAX_STEPS: int = _core.max_steps
#: For the optimizers whose state may be 8-bit: whether each state can be negative (its
#: dynamic code map is signed); None for the others.
STATE_SIGNED = {kernel: getattr(_core, f"{kernel}_state_signed") for kernel in _ALL_KERNELS}
#: Whether each kernel scales every tensor by its own norms (LAMB's trust ratio): splitting
#: or concatenating tensors then changes the update.
PER_TENSOR_NORMS = {kernel: getattr(_core, f"{kernel}_per_tensor_norms") for kernel in _ALL_KERNELS}
_STATE_SHAPE = {kernel: getattr(_core, f"{kernel}_state_shape") for kernel in _ALL_KERNELS}


def state_shape(kernel: str, name: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape of state `name` of a param of `shape`: the param's, () for a per-param
    scalar, torch's factored shapes for Adafactor's row_var and col_var; None if such a param
    keeps no such state."""
    if name in SCALAR_STATE_NAMES[kernel]:
        return ()
    found = _STATE_SHAPE[kernel](STATE_NAMES[kernel].index(name), tuple(shape))
    return None if found is None else tuple(found)


#: The state arrays a param group's options use, with their initial values.
STATE_FILL = {kernel: getattr(_core, f"{kernel}_state_fill") for kernel in _ALL_KERNELS}
_STEPS = {kernel: getattr(_core, f"{kernel}_step") for kernel in _ALL_KERNELS}
_ROWS_STEPS = {
    kernel: getattr(_core, f"{kernel}_rows_step")
    for kernel in _ALL_KERNELS
    if kernel not in _SCALAR_STATE_KERNELS and kernel not in _FACTORED_KERNELS
}
#: The C++ group object serving one param group of an optimizer class.
GROUPS = {
    "sgd": _core.SGDGroup,
    "adagrad": _core.AdagradGroup,
    "rmsprop": _core.RMSpropGroup,
    "adam": _core.AdamGroup,
    "adamax": _core.AdamaxGroup,
    "radam": _core.RAdamGroup,
    "adadelta": _core.AdadeltaGroup,
    "lion": _core.LionGroup,
    "lamb": _core.LAMBGroup,
    "adafactor": _core.AdafactorGroup,
    "nadam": _core.NAdamGroup,
    "rprop": _core.RpropGroup,
    "asgd": _core.ASGDGroup,
}
#: Raised by a group step when the group's params or state arrays changed since it was built.
StaleGroup = _core.StaleGroup

#: Raise TypeError/ValueError with torch's messages unless a param group's options are valid.
CHECK_OPTIONS = {kernel: getattr(_core, f"{kernel}_check_options") for kernel in _ALL_KERNELS}


class Quantized(NamedTuple):
    """One state array of one param kept in 8 bits: ``codes`` (uint8, the param's shape and
    memory layout), ``absmax`` (float32, one scale per block of 256 elements in memory order)
    and ``qmap`` (256 sorted float32 codes, e.g. :func:`dynamic_map`); element ``i`` stands for
    ``qmap[codes[i]] * absmax[i // 256]``. Updated in place like a float state array."""

    codes: np.ndarray
    absmax: np.ndarray
    qmap: np.ndarray


def quantized_like(param: np.ndarray, value: float = 0.0, *, signed: bool = True) -> Quantized:
    """8-bit state for ``param`` (float32) holding ``value`` everywhere, with the signed
    dynamic map (moments that can be negative, ``exp_avg``) or the unsigned one."""
    qmap = dynamic_map(signed)
    codes, absmax = _quantized(np.full(param.shape, value, dtype=np.float32), qmap, like=param)
    return Quantized(codes, absmax, qmap)


def _in_memory_order(a: np.ndarray) -> np.ndarray:
    """A 1-D view of a dense array's elements in memory order (quantization blocks and the
    kernels follow memory order)."""
    flat = a.ravel(order="K")
    if not np.shares_memory(flat, a):  # pragma: no cover - dense arrays always have one
        raise ValueError("8-bit state needs params laid out densely in memory")
    return flat


def _quantized(
    values: np.ndarray, qmap: np.ndarray, like: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """8-bit codes of values, laid out in memory like the param `like`, and their scales."""
    ordered = np.empty_like(like, dtype=np.float32)
    ordered[...] = values
    codes = np.empty_like(like, dtype=np.uint8)
    flat_codes, absmax = quantize_blockwise(_in_memory_order(ordered), qmap)
    _in_memory_order(codes)[...] = flat_codes
    return codes, absmax


def _dispatch(
    kernel: str,
    params: Arrays | None,
    grads: Arrays,
    states: list[Any],
    options: tuple[Any, ...] | dict[str, Any],
    step: int,
    fresh: bool,
    check_only: bool,
    skip_nonfinite: bool,
    mixed: object,
) -> int:
    """The kernel's step for float state, or its 8-bit step for :class:`Quantized` state."""
    if not any(s and type(s[0]) is Quantized for s in states if s is not None):
        return int(
            _STEPS[kernel](
                params, grads, states, options, step, fresh, check_only, skip_nonfinite, mixed
            )
        )
    arrays = len(STATE_NAMES[kernel]) - len(SCALAR_STATE_NAMES[kernel])
    parts: list[list[list[np.ndarray] | None]] = [[], [], []]
    for k, state in enumerate(states[:arrays]):
        for part in parts:
            part.append(None if state is None else [])
        for i, entry in enumerate(state or ()):
            if type(entry) is not Quantized:
                raise TypeError(
                    f"{STATE_NAMES[kernel][k]} of params[{i}]: expected functional.Quantized "
                    f"like the others (8-bit state is all or nothing), got {type(entry).__name__}"
                )
            for part, array in zip(parts, entry):
                part[k].append(array)  # type: ignore[union-attr]
    if skip_nonfinite:
        bad = _core.first_nonfinite(grads)
        if bad >= 0:
            return int(bad)
    getattr(_core, f"{kernel}_step_8bit")(
        params, grads, *parts, options, step, fresh, check_only, mixed, states[arrays:] or None
    )
    return -1


def dynamic_map(signed: bool) -> np.ndarray:
    """bitsandbytes' dynamic code map (``create_dynamic_map(signed)``): 256 sorted float32
    codes in [-1, 1], dense near 0 (7 decades down to 1e-7), for 8-bit optimizer state."""
    return _core.dynamic_map(signed)


def quantize_blockwise(values: np.ndarray, qmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blockwise 8-bit quantization of a C-contiguous float32 array: ``(codes, absmax)``, per
    block of 256 elements the index of the code nearest to ``value / absmax`` (ties to the
    lower code) and the block's largest magnitude (NaN if it holds NaN or infinity)."""
    codes, absmax = _core.quantize_blockwise(values, qmap)
    return codes, absmax


def dequantize_blockwise(codes: np.ndarray, absmax: np.ndarray, qmap: np.ndarray) -> np.ndarray:
    """The float32 values ``qmap[codes] * absmax`` (per block of 256) that 8-bit state holds."""
    return _core.dequantize_blockwise(codes, absmax, qmap)


def _step(
    kernel: str,
    params: Arrays | None,
    grads: Arrays,
    states: Sequence[Sequence[np.ndarray | None] | None],
    options: dict[str, Any],
    step: int,
    fresh: bool,
    lowp_params: Arrays | None = None,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    """One step of any kernel with its options as a param group (torch's keys) and one list of
    arrays per ``STATE_NAMES[kernel]``: the path of optikern.torch, whose groups are torch's."""
    mixed = None
    if lowp_params is not None:
        params, mixed = _lowp(params, lowp_params, 1.0, rounding, seed, stream)
    return int(_STEPS[kernel](params, grads, states, options, step, fresh, False, False, mixed))


def _step_8bit(
    kernel: str,
    params: Arrays | None,
    grads: Arrays,
    codes: list[Any],
    absmax: list[Any],
    qmaps: list[Any],
    options: dict[str, Any],
    step: int,
    fresh: bool,
    lowp_params: Arrays | None = None,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
    scalars: list[Any] | None = None,
) -> None:
    """One step of params whose state is all 8-bit (optikern.torch's 8-bit path): per state
    array name a list of codes, of scales and of code maps (None where unused), per 0-d state
    name (``SCALAR_STATE_NAMES``) a list of float arrays in ``scalars``; 16-bit params as
    :func:`_step` takes them."""
    mixed = None
    if lowp_params is not None:
        params, mixed = _lowp(params, lowp_params, 1.0, rounding, seed, stream)
    getattr(_core, f"{kernel}_step_8bit")(
        params, grads, codes, absmax, qmaps, options, step, fresh, False, mixed, scalars
    )


def _rows_step(
    kernel: str,
    param: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    states: Sequence[np.ndarray | None],
    options: dict[str, Any] | tuple[Any, ...],
    step: int,
) -> None:
    """The row update of any kernel, options as a param group or a tuple of the kernel's
    option keys (see the sparse_* functions)."""
    _ROWS_STEPS[kernel](param, indices, values, states, options, step)


__all__ = [
    "Quantized",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "asgd",
    "clamp_",
    "dequantize_blockwise",
    "dynamic_map",
    "first_nonfinite",
    "grad_norm",
    "lamb",
    "lion",
    "nadam",
    "quantize_blockwise",
    "quantized_like",
    "radam",
    "rmsprop",
    "rprop",
    "scale_",
    "sgd",
    "sparse_adagrad",
    "sparse_adam",
    "sparse_sgd",
]


def sgd(
    params: Arrays | None,
    grads: Arrays,
    momentum_buffers: Arrays | None = None,
    *,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    first_step: bool = False,
    decoupled_weight_decay: bool = False,
    lr_in_momentum: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""SGD with optional momentum, in place.

    .. math::
        g \leftarrow \pm\nabla + \lambda p, \quad
        b \leftarrow \mu b + (1 - \tau) g \;(b \leftarrow g \text{ on the first step}), \quad
        p \leftarrow p - \gamma\,(g + \mu b \text{ if nesterov else } b)

    ``first_step=True`` starts each momentum buffer as a copy of the gradient (torch's rule for a
    missing buffer); ``momentum_buffers`` may be ``None`` when ``momentum == 0``.
    ``lr_in_momentum`` accumulates :math:`\gamma g` in the buffer and steps by the buffer (Keras'
    form); ``decoupled_weight_decay`` scales :math:`p` by :math:`1 - \gamma\lambda` instead of
    adding :math:`\lambda p` to the gradient (Keras' ``weight_decay``).
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        decoupled_weight_decay,
        lr_in_momentum,
    )
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "sgd",
        params,
        grads,
        [momentum_buffers],
        options,
        0,
        first_step,
        check_only,
        skip_nonfinite,
        mixed,
    )


def adagrad(
    params: Arrays | None,
    grads: Arrays,
    state_sums: Arrays,
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    eps_inside_sqrt: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""AdaGrad (Duchi et al. 2011), in place; ``step`` is the 1-based number of this step.

    .. math::
        g \leftarrow \pm\nabla + \lambda p, \quad
        s \leftarrow s + g^2, \quad
        p \leftarrow p - \frac{\gamma}{1 + (t - 1)\eta}\,\frac{g}{\sqrt{s} + \epsilon}

    ``eps_inside_sqrt`` uses :math:`\sqrt{s + \epsilon}` (Keras, optax);
    ``decoupled_weight_decay`` scales :math:`p` by :math:`1 - \gamma\lambda` instead of the L2 term.
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (
        lr,
        lr_decay,
        weight_decay,
        0.0,  # initial_accumulator_value: the caller fills state_sums
        eps,
        maximize,
        decoupled_weight_decay,
        eps_inside_sqrt,
    )
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _core.adagrad_step(
        params, grads, [state_sums], options, step, False, check_only, skip_nonfinite, mixed
    )


def rmsprop(
    params: Arrays | None,
    grads: Arrays,
    square_avgs: Arrays,
    grad_avgs: Arrays | None = None,
    momentum_buffers: Arrays | None = None,
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
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""RMSProp (Hinton, lecture 6e), in place.

    .. math::
        v \leftarrow \alpha v + (1 - \alpha) g^2, \quad
        \bar g \leftarrow \alpha \bar g + (1 - \alpha) g \text{ (centered)}, \quad
        a = \sqrt{v - \bar g^2} + \epsilon, \quad
        b \leftarrow \mu b + g / a, \quad p \leftarrow p - \gamma b

    Without momentum the last two become :math:`p \leftarrow p - \gamma g / a`; without
    ``centered`` :math:`\bar g = 0`. ``grad_avgs`` is needed only when ``centered``,
    ``momentum_buffers`` only when ``momentum > 0``. Keras' conventions: ``eps_inside_sqrt``
    (:math:`a = \sqrt{v - \bar g^2 + \epsilon}`), ``lr_in_momentum``
    (:math:`b \leftarrow \mu b + \gamma g / a`, :math:`p \leftarrow p - b`),
    ``decoupled_weight_decay`` (:math:`p \leftarrow p (1 - \gamma\lambda)` first).
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
        decoupled_weight_decay,
        lr_in_momentum,
        eps_inside_sqrt,
    )
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "rmsprop",
        params,
        grads,
        [square_avgs, momentum_buffers, grad_avgs],
        options,
        1,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def adam(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    max_exp_avg_sqs: Arrays | None = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Adam (Kingma & Ba 2015), in place; ``step`` is the 1-based number of this step.

    .. math::
        m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
        p \leftarrow p - \frac{\gamma}{1 - \beta_1^t}\,
            \frac{m}{\sqrt{\hat v} / \sqrt{1 - \beta_2^t} + \epsilon}

    with :math:`\hat v = \max(\hat v, v)` under ``amsgrad`` (``max_exp_avg_sqs`` needed only
    then), else :math:`\hat v = v`. ``weight_decay`` adds :math:`\lambda p` to the gradient, or
    with ``decoupled_weight_decay`` (AdamW) scales :math:`p` by :math:`1 - \gamma\lambda` first.
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, (beta1, beta2), eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "adam",
        params,
        grads,
        [exp_avgs, exp_avg_sqs, max_exp_avg_sqs],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def adamw(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    max_exp_avg_sqs: Arrays | None = None,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""AdamW (Loshchilov & Hutter 2019): :func:`adam` with decoupled weight decay.

    .. math:: p \leftarrow p\,(1 - \gamma\lambda) \text{ before the Adam update.}
    """
    return adam(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        step=step,
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
        check_only=check_only,
        skip_nonfinite=skip_nonfinite,
        lowp_params=lowp_params,
        grad_scale=grad_scale,
        rounding=rounding,
        seed=seed,
        stream=stream,
    )


# Sparse gradients: an embedding table's rows updated without densifying. `indices` (int64,
# strictly increasing, i.e. coalesced) name the rows of `param` (rows x ...) a gradient
# touches and `values` (len(indices) x ...) their gradients; the state tables change only in
# those rows (lazy state, as torch's sparse paths keep).


def sparse_sgd(
    param: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    *,
    lr: float = 1e-3,
    maximize: bool = False,
) -> None:
    r"""Plain SGD on the touched rows, in place: :math:`p_r \leftarrow p_r - \gamma g_r`
    (torch.optim.SGD's sparse path: no momentum, no weight decay)."""
    options = (lr, 0.0, 0.0, 0.0, False, maximize, False, False)
    _rows_step("sgd", param, indices, values, [None], options, 1)


def sparse_adagrad(
    param: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    state_sum: np.ndarray,
    *,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> None:
    r"""AdaGrad on the touched rows, in place (torch.optim.Adagrad's sparse path):

    .. math::
        s_r \leftarrow s_r + g_r^2, \quad
        p_r \leftarrow p_r - \frac{\gamma}{1 + (t - 1)\eta}\,\frac{g_r}{\sqrt{s_r} + \epsilon}
    """
    options = (lr, lr_decay, 0.0, 0.0, eps, maximize, False, False)
    _rows_step("adagrad", param, indices, values, [state_sum], options, step)


def sparse_adam(
    param: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    maximize: bool = False,
) -> None:
    r"""torch.optim.SparseAdam on the touched rows, in place; ``step`` counts the table's
    steps:

    .. math::
        m_r \leftarrow m_r + (g_r - m_r)(1 - \beta_1), \quad
        v_r \leftarrow v_r + (g_r^2 - v_r)(1 - \beta_2), \quad
        p_r \leftarrow p_r - \gamma \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
            \frac{m_r}{\sqrt{v_r} + \epsilon}
    """
    options = (lr, (beta1, beta2), eps, maximize)
    _rows_step("sparse_adam", param, indices, values, [exp_avg, exp_avg_sq], options, step)


def adamax(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_infs: Arrays,
    *,
    step: int,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Adamax (Kingma & Ba 2015, section 7.1), in place; ``step`` is the 1-based number of this
    step.

    .. math::
        m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad
        u \leftarrow \max(\beta_2 u, |g| + \epsilon), \quad
        p \leftarrow p - \frac{\gamma}{1 - \beta_1^t}\,\frac{m}{u}
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, (beta1, beta2), eps, weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "adamax",
        params,
        grads,
        [exp_avgs, exp_infs],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def radam(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""RAdam (Liu et al. 2020), in place; ``step`` is the 1-based number of this step. Adam's
    moments; the update :math:`\gamma \hat m \sqrt{1 - \beta_2^t} / (\sqrt{v} + \epsilon)`
    is scaled by the rectification :math:`r_t` once :math:`\rho_t > 5`, and is
    :math:`\gamma \hat m` before (see :class:`~optikern.RAdam`)."""
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, (beta1, beta2), eps, weight_decay, decoupled_weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "radam",
        params,
        grads,
        [exp_avgs, exp_avg_sqs],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def adadelta(
    params: Arrays | None,
    grads: Arrays,
    square_avgs: Arrays,
    acc_deltas: Arrays,
    *,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Adadelta (Zeiler 2012), in place.

    .. math::
        v \leftarrow \rho v + (1 - \rho) g^2, \quad
        \Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{v + \epsilon}} g, \quad
        u \leftarrow \rho u + (1 - \rho) \Delta^2, \quad
        p \leftarrow p - \gamma \Delta
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, rho, eps, weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "adadelta",
        params,
        grads,
        [square_avgs, acc_deltas],
        options,
        1,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def lion(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    *,
    lr: float = 1e-4,
    beta1: float = 0.9,
    beta2: float = 0.99,
    weight_decay: float = 0.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Lion (Chen et al. 2023), in place.

    .. math::
        p \leftarrow p (1 - \gamma\lambda)
            - \gamma \operatorname{sign}(\beta_1 m + (1 - \beta_1) g), \quad
        m \leftarrow \beta_2 m + (1 - \beta_2) g
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, (beta1, beta2), weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "lion", params, grads, [exp_avgs], options, 0, False, check_only, skip_nonfinite, mixed
    )


def lamb(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    *,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    min_coeff: float | None = None,
    max_coeff: float | None = None,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""LAMB (You et al. 2020), in place, each array one tensor of the trust ratio; ``step``
    is the 1-based number of this step.

    .. math::
        u = \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon} + \lambda p,
        \quad p \leftarrow p - \gamma \frac{\lVert p \rVert}{\lVert u \rVert} u

    after Adam's moment updates; one C++ call of two passes (moments and norms, then the
    update). With ``lowp_params`` the norms are those of the float32 masters, which take the
    float32 update whole (the gradients widened into a float32 copy first), and the 16-bit
    params are rounded from them afterwards.
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, (beta1, beta2), eps, weight_decay, min_coeff, max_coeff, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "lamb",
        params,
        grads,
        [exp_avgs, exp_avg_sqs],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def adafactor(
    params: Arrays | None,
    grads: Arrays,
    row_vars: Sequence[np.ndarray | None],
    col_vars: Sequence[np.ndarray | None],
    variances: Sequence[np.ndarray | None],
    *,
    step: int,
    lr: float = 1e-2,
    beta2_decay: float = -0.8,
    eps1: float | None = None,
    eps2: float = 1e-3,
    d: float = 1.0,
    weight_decay: float = 0.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Adafactor (Shazeer & Stern 2018) as ``torch.optim.Adafactor``, in place; ``step`` is
    the 1-based number of this step.

    .. math::
        \rho = \min(\gamma, 1/\sqrt{t}), \quad
        \alpha = \max(\epsilon_2, \lVert p \rVert / \sqrt{n})\,\rho, \quad
        u = g / \sqrt{\max(\hat v, \epsilon_1^2)}, \quad
        p \leftarrow p (1 - \gamma\lambda) - \frac{\alpha}{\max(1, \lVert u \rVert / (\sqrt{n} d))} u

    A param of two or more dimensions (a batch of matrices, its last two) keeps row and column
    factors (``row_vars[i]`` of shape ``shape[:-1] + (1,)``, ``col_vars[i]`` of shape
    ``shape[:-2] + (1, shape[-1])``, None in ``variances``) with
    :math:`\hat v_{ij} = R_i C_j / \max(\mathrm{mean}(R), \epsilon_1)`; another keeps
    ``variances[i]`` (None in the others). Both move towards the means of :math:`g^2` by the
    weight :math:`t^{\tau}` (``beta2_decay``). ``eps1=None`` is the dtype's epsilon. One C++ call
    of four passes; factored params must be C-contiguous. With ``lowp_params`` the float32
    masters take the float32 step whole (the gradients widened into a float32 copy first) and
    the 16-bit params are rounded from them afterwards; ``eps1=None`` is then float32's.
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, beta2_decay, (eps1, eps2), d, weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _core.adafactor_step(
        params,
        grads,
        [row_vars, col_vars, variances],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def nadam(
    params: Arrays | None,
    grads: Arrays,
    exp_avgs: Arrays,
    exp_avg_sqs: Arrays,
    mu_products: Arrays,
    *,
    step: int,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""NAdam (Dozat 2016), in place; ``step`` is the 1-based number of this step and
    ``mu_products`` one 0-d float32 (or float64) array per param, starting at 1, advanced in
    place (torch's ``state["mu_product"]``).

    .. math::
        \mu_t = \beta_1 (1 - \tfrac12 0.96^{t\psi}), \quad
        \Pi_t = \Pi_{t-1}\mu_t, \quad
        m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \\
        p \leftarrow p - \gamma \left(\frac{1 - \mu_t}{1 - \Pi_t}\, g
            + \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}}\, m\right)
            \Big/ \left(\sqrt{v / (1 - \beta_2^t)} + \epsilon\right)
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (
        lr,
        (beta1, beta2),
        eps,
        weight_decay,
        momentum_decay,
        decoupled_weight_decay,
        maximize,
    )
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _dispatch(
        "nadam",
        params,
        grads,
        [exp_avgs, exp_avg_sqs, mu_products],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def rprop(
    params: Arrays | None,
    grads: Arrays,
    prevs: Arrays,
    step_sizes: Arrays,
    *,
    etaminus: float = 0.5,
    etaplus: float = 1.2,
    step_size_min: float = 1e-6,
    step_size_max: float = 50.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""Rprop (Riedmiller & Braun 1993), in place. ``prevs`` start at 0 and ``step_sizes`` at
    the learning rate (``numpy.full_like(param, lr)``), as torch's state does.

    .. math::
        f = \eta^+, \eta^-, 1 \text{ where } g\,g_{prev} > 0, < 0, = 0, \quad
        s \leftarrow \mathrm{clamp}(s f, s_{min}, s_{max}), \\
        g \leftarrow 0 \text{ where } g\,g_{prev} < 0, \quad
        p \leftarrow p - s\,\mathrm{sign}(g), \quad g_{prev} \leftarrow g
    """
    # the values of _core.<kernel>_option_keys, in that order (lr only initialises step_sizes)
    options = (0.0, (etaminus, etaplus), (step_size_min, step_size_max), maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _core.rprop_step(
        params,
        grads,
        [prevs, step_sizes],
        options,
        1,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def asgd(
    params: Arrays | None,
    grads: Arrays,
    axs: Arrays,
    mus: Arrays,
    etas: Arrays,
    *,
    step: int,
    lr: float = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    maximize: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp_params: Arrays | None = None,
    grad_scale: float = 1.0,
    rounding: str = "nearest",
    seed: int = 0,
    stream: int = 0,
) -> int:
    r"""ASGD, averaged SGD (Polyak & Juditsky 1992), in place; ``step`` is the 1-based number
    of this step. ``etas`` and ``mus`` hold one 0-d float32 (or float64) array per param,
    starting at ``lr`` and 1: the step uses them and leaves the next step's values
    (torch's ``state["eta"]``, ``state["mu"]``).

    .. math::
        p \leftarrow p (1 - \lambda\eta) - \eta g, \quad
        a \leftarrow a + \mu (p - a) \ (a = p \text{ while } \mu = 1), \\
        \eta \leftarrow \gamma / (1 + \lambda\gamma t)^\alpha, \quad
        \mu \leftarrow 1 / \max(1, t - t_0)
    """
    # the values of _core.<kernel>_option_keys, in that order
    options = (lr, lambd, alpha, t0, weight_decay, maximize)
    mixed = None
    if lowp_params is not None or grad_scale != 1.0:
        params, mixed = _lowp(params, lowp_params, grad_scale, rounding, seed, stream)
    return _core.asgd_step(
        params,
        grads,
        [axs, etas, mus],
        options,
        step,
        False,
        check_only,
        skip_nonfinite,
        mixed,
    )


def grad_norm(grads: Arrays, norm_type: float = 2.0) -> float:
    """The ``norm_type``-norm of all elements of ``grads`` together (``inf``: max ``|x|``).

    One read-only pass in C++, accumulated in double in an order fixed by the data alone, so
    the result is the same on every SIMD level and thread count.
    """
    return float(_core.grad_norm(grads, float(norm_type)))


def scale_(arrays: Arrays, factor: float) -> None:
    """Multiply every array in place by ``factor``."""
    _core.scale_(arrays, float(factor))


def clamp_(arrays: Arrays, low: float, high: float) -> None:
    """Clamp every array in place to ``[low, high]``; NaN stays NaN."""
    _core.clamp_(arrays, float(low), float(high))


def first_nonfinite(arrays: Arrays) -> int:
    """Index of the first array holding NaN or infinity, or -1 (a read-only pass in C++)."""
    return int(_core.first_nonfinite(arrays))
