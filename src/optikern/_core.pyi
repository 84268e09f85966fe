# Type stubs for the compiled extension optikern._core (cpp/python/*.cpp).
# Lists hold C-contiguous float32/float64 NumPy arrays (uint16 views for 16-bit params);
# the step functions return -1, or the index of the first non-finite gradient when
# skip_nonfinite found one (nothing is written then).
from collections.abc import Sequence
from typing import Any

import numpy as np

_Arrays = Sequence[np.ndarray]
_States = Sequence[_Arrays | None]  # one list per state name, in <kernel>_state_names order
# torch's keys (a param group), or their values as a tuple in <kernel>_option_keys order
_Options = dict[str, Any] | tuple[Any, ...]

class MixedPrecision:
    def __init__(
        self,
        lowp_params: _Arrays,  # float16/bfloat16 arrays, or int16/uint16 views with `format`
        grad_scale: float = 1.0,
        stochastic: bool = False,
        seed: int = 0,
        stream: int = 0,
        master_weights: bool = True,
        format: str | None = None,
    ) -> None: ...

class StaleGroup(RuntimeError): ...

# One param group's C++ optimizer objects (cpp/python/group.hpp).
class _Group:
    def __init__(
        self,
        params: list[np.ndarray],
        states: list[dict[str, Any]],
        group: _Options,
        fresh: list[bool],
        first_index: int,
    ) -> None: ...
    def step(
        self,
        grads: _Arrays,
        start: int,
        group: _Options,
        scan: bool,
        check_only: bool,
        grad_scale: float,
        stochastic: bool,
        seed: int,
    ) -> int: ...
    def __len__(self) -> int: ...

class SGDGroup(_Group): ...
class AdagradGroup(_Group): ...
class RMSpropGroup(_Group): ...
class AdamGroup(_Group): ...
class AdamaxGroup(_Group): ...
class RAdamGroup(_Group): ...
class AdadeltaGroup(_Group): ...
class LionGroup(_Group): ...
class LAMBGroup(_Group): ...
class AdafactorGroup(_Group): ...
class NAdamGroup(_Group): ...
class RpropGroup(_Group): ...
class ASGDGroup(_Group): ...

compiler: str
openmp: bool
min_elements_per_thread: int
max_steps: int

# One pair of functions and one tuple per kernel (sgd, adagrad, rmsprop, adam), all made by the
# binding template in cpp/python/bind_optimizer.hpp.
def sgd_step(
    params: _Arrays | None,  # None raises TypeError
    grads: _Arrays,
    states: _States,
    options: _Options,
    step: int,
    fresh: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    mixed: MixedPrecision | None = None,
) -> int: ...
def sgd_check_options(options: _Options) -> None: ...

sgd_state_names: tuple[str, ...]
adagrad_step = sgd_step
adagrad_check_options = sgd_check_options
adagrad_state_names: tuple[str, ...]
rmsprop_step = sgd_step
rmsprop_check_options = sgd_check_options
rmsprop_state_names: tuple[str, ...]
adam_step = sgd_step
adam_check_options = sgd_check_options
adam_state_names: tuple[str, ...]
adamax_step = sgd_step
adamax_check_options = sgd_check_options
adamax_state_names: tuple[str, ...]
radam_step = sgd_step
radam_check_options = sgd_check_options
radam_state_names: tuple[str, ...]
adadelta_step = sgd_step
adadelta_check_options = sgd_check_options
adadelta_state_names: tuple[str, ...]
lion_step = sgd_step
lion_check_options = sgd_check_options
lion_state_names: tuple[str, ...]
lamb_step = sgd_step
lamb_check_options = sgd_check_options
lamb_state_names: tuple[str, ...]

def adafactor_step(
    params: _Arrays | None,  # None: 16-bit params without masters (mixed)
    grads: _Arrays,
    states: Sequence[Sequence[np.ndarray | None]],  # None where a param keeps no such state
    options: _Options,
    step: int,
    fresh: bool = False,
    check_only: bool = False,
    skip_nonfinite: bool = False,
    mixed: MixedPrecision | None = None,
) -> int: ...

adafactor_check_options = sgd_check_options
adafactor_state_names: tuple[str, ...]

def sgd_state_shape(k: int, shape: Sequence[int]) -> tuple[int, ...] | None: ...

adafactor_state_shape = sgd_state_shape
nadam_step = sgd_step
nadam_check_options = sgd_check_options
nadam_state_names: tuple[str, ...]
nadam_scalar_state_names: tuple[str, ...]
rprop_step = sgd_step
rprop_check_options = sgd_check_options
rprop_state_names: tuple[str, ...]
asgd_step = sgd_step
asgd_check_options = sgd_check_options
asgd_state_names: tuple[str, ...]
asgd_scalar_state_names: tuple[str, ...]
sparse_adam_step = sgd_step
sparse_adam_check_options = sgd_check_options
sparse_adam_state_names: tuple[str, ...]

def sgd_rows_step(
    param: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    states: Sequence[np.ndarray | None],  # one full state table per state name
    options: _Options,
    step: int,
) -> None: ...

adagrad_rows_step = sgd_rows_step
rmsprop_rows_step = sgd_rows_step
adam_rows_step = sgd_rows_step
sparse_adam_rows_step = sgd_rows_step

def grad_norm(grads: _Arrays, norm_type: float) -> float: ...
def scale_(grads: _Arrays, factor: float) -> None: ...
def clamp_(grads: _Arrays, low: float, high: float) -> None: ...
def first_nonfinite(grads: _Arrays) -> int: ...
def stream_step(inplace: list[_Arrays], read: _Arrays) -> None: ...

# Blockwise 8-bit state (cpp/python/bind_quantize.cpp).
QUANTIZATION_BLOCK: int

def dynamic_map(signed: bool) -> np.ndarray: ...
def quantize_blockwise(values: np.ndarray, qmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...
def dequantize_blockwise(codes: np.ndarray, absmax: np.ndarray, qmap: np.ndarray) -> np.ndarray: ...
def available_simd_levels() -> list[str]: ...
def detected_simd_level() -> str: ...
def active_simd_level() -> str: ...
def set_simd_level(name: str) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
