# Type stubs for the compiled extension optikern._core (cpp/python/*.cpp).
# Lists hold C-contiguous float32/float64 NumPy arrays (uint16 views for 16-bit params);
# the step functions return -1, or the index of the first non-finite gradient when
# skip_nonfinite found one (nothing is written then).
from collections.abc import Sequence

import numpy as np

_Arrays = Sequence[np.ndarray]
_Lowp = tuple[_Arrays, str, str, float, bool, int, int] | None

compiler: str
openmp: bool
min_elements_per_thread: int

def sgd_step(
    params: _Arrays,
    grads: _Arrays,
    momentum_buffers: _Arrays | None,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
    decoupled_weight_decay: bool = False,
    lr_in_momentum: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp: _Lowp = None,
) -> int: ...
def adagrad_step(
    params: _Arrays,
    grads: _Arrays,
    state_sums: _Arrays,
    step: int,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    decoupled_weight_decay: bool = False,
    eps_inside_sqrt: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp: _Lowp = None,
) -> int: ...
def rmsprop_step(
    params: _Arrays,
    grads: _Arrays,
    square_avgs: _Arrays,
    grad_avgs: _Arrays | None,
    momentum_buffers: _Arrays | None,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
    decoupled_weight_decay: bool = False,
    lr_in_momentum: bool = False,
    eps_inside_sqrt: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp: _Lowp = None,
) -> int: ...
def adam_step(
    params: _Arrays,
    grads: _Arrays,
    exp_avgs: _Arrays,
    exp_avg_sqs: _Arrays,
    max_exp_avg_sqs: _Arrays | None,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    lowp: _Lowp = None,
) -> int: ...
def grad_norm(grads: _Arrays, norm_type: float) -> float: ...
def scale_(grads: _Arrays, factor: float) -> None: ...
def clamp_(grads: _Arrays, low: float, high: float) -> None: ...
def first_nonfinite(grads: _Arrays) -> int: ...
def stream_step(inplace: list[_Arrays], read: _Arrays) -> None: ...
def available_simd_levels() -> list[str]: ...
def detected_simd_level() -> str: ...
def active_simd_level() -> str: ...
def set_simd_level(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
