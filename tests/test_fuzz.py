"""Fuzzing every public entry point with random dtypes, shapes, strides, flags, overlapping
views, Python objects and hyperparameters. The only outcomes allowed: a correct update, or
TypeError/ValueError with every caller array and all optimizer state unchanged. (A crash would
kill the test process, which is also a failure.)"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
import pytest
from optim_db import OPTIM_DB, OptimizerInfo

import optikern
from optikern import _core, functional

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile(
    "fuzz",
    deadline=None,
    max_examples=150,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DTYPES = [
    np.float32,
    np.float64,
    np.float16,
    np.int32,
    np.int64,
    np.uint16,
    np.bool_,
    np.complex64,
    object,
    ">f4",
    ">f8",
]


@st.composite
def arrays(draw: st.DrawFn, shape: tuple[int, ...] | None = None) -> Any:
    """An ndarray with random dtype, layout and flags, or a non-array object."""
    kind = draw(st.sampled_from(["array"] * 8 + ["object"]))
    if kind == "object":
        return draw(st.sampled_from([None, 1.0, "x", [1.0, 2.0], (1.0,), {"a": 1}, b"ab"]))
    dtype = np.dtype(draw(st.sampled_from(DTYPES[:2] * 6 + DTYPES)))
    if shape is None:
        shape = tuple(draw(st.lists(st.integers(0, 6), max_size=3)))
    layout = draw(st.sampled_from(["c"] * 6 + ["fortran", "strided", "reversed", "readonly"]))
    size = int(np.prod(shape)) if shape else 1
    base = np.arange(size * 2 + 2, dtype=np.float64) / 7 - 1
    if dtype == object:
        a = np.array(base[:size], dtype=object).reshape(shape)
    else:
        a = base[:size].astype(dtype).reshape(shape)
    if layout == "fortran" and a.ndim > 1:
        a = np.asfortranarray(a)
    elif layout == "strided" and dtype != object:
        a = base[: 2 * size].astype(dtype)[::2].reshape(shape) if size else a
    elif layout == "reversed" and a.ndim == 1:
        a = a[::-1]
    elif layout == "readonly":
        a.flags.writeable = False
    return a


def snapshot(objs: list) -> list:
    return [
        o.copy() if isinstance(o, np.ndarray) and o.dtype != object else copy.copy(o) for o in objs
    ]


def unchanged(objs: list, snaps: list) -> bool:
    return all(
        o.tobytes() == s.tobytes()
        for o, s in zip(objs, snaps)
        if isinstance(o, np.ndarray) and o.dtype != object
    )


HYPER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3),
    st.sampled_from([None, "0.1", True]),
)


@settings(settings.get_profile("fuzz"))
@given(data=st.data())
def test_classes(data: st.DataObject) -> None:
    info = data.draw(st.sampled_from(OPTIM_DB))
    params = data.draw(st.lists(arrays(), min_size=1, max_size=3))
    options = data.draw(
        st.dictionaries(
            st.sampled_from(["lr", "eps", "weight_decay", "momentum", "alpha"]), HYPER, max_size=2
        )
    )
    options = {k: v for k, v in options.items() if k in info.options}
    snaps = snapshot(params)
    try:
        opt = info.make(params, **options)
    except (TypeError, ValueError):
        assert unchanged(params, snaps)
        return
    shapes = [p.shape for p in params]
    grads = [data.draw(arrays(shape)) for shape in shapes]
    if data.draw(st.booleans()):  # aliasing: a grad that is a param or a view of one
        i = data.draw(st.integers(0, len(params) - 1))
        grads[i] = params[i]
    grad_snaps = snapshot(grads)
    try:
        opt.step(grads)
    except (TypeError, ValueError):
        assert unchanged(params, snaps) and unchanged(grads, grad_snaps)
        return
    # The step went through: it must equal the reference.
    for p, s, g in zip(params, snaps, grads):
        values = s.astype(np.float64).ravel().tolist()
        try:
            info.reference_on(p.shape)(values, g.astype(np.float64).ravel().tolist(), {}, **options)
        except ZeroDivisionError:  # eps=0 and a zero gradient: IEEE NaN in the kernel (as torch)
            continue
        tol = {2: 2e-3, 4: 1e-5}.get(p.dtype.itemsize, 1e-12)  # float16: one rounding, 2**-11
        np.testing.assert_allclose(p.astype(np.float64).ravel(), values, rtol=tol, atol=tol)


ADAM_OPTIONS = {
    "lr": 0.1,
    "betas": (0.9, 0.999),
    "eps": 1e-8,
    "weight_decay": 0.0,
    "amsgrad": False,
    "maximize": False,
    "decoupled_weight_decay": False,
}


def call_functional(info: OptimizerInfo, objs: list, step: int, data: st.DataObject) -> int:
    """The optimizer's functional step on fuzzed arrays: param p, grad g, its state lists from
    m and v (None past those), its step count, random flags and one fuzzed hyperparameter."""
    p, g, *states = objs
    signature = inspect.signature(info.functional).parameters
    slots = [q for q in signature.values() if q.kind is q.POSITIONAL_OR_KEYWORD][2:]
    lists = [[s] for s in states[: len(slots)]] + [None] * (len(slots) - len(states))
    kinds = {k: v for k, v in info.options.items() if k in signature}
    kwargs: dict = {k: data.draw(st.booleans()) for k, kind in kinds.items() if kind == "flag"}
    kwargs["lr"] = 0.1
    numbers = sorted(k for k, kind in kinds.items() if kind in ("positive", "unit", "small"))
    kwargs[data.draw(st.sampled_from(numbers))] = data.draw(HYPER)
    if "step" in signature:
        kwargs["step"] = step
    return info.functional([p], [g], *lists, **kwargs)


@settings(settings.get_profile("fuzz"))
@given(data=st.data())
def test_functional_and_core(data: st.DataObject) -> None:
    shape = tuple(data.draw(st.lists(st.integers(0, 5), max_size=2)))
    objs = [data.draw(arrays(shape)) for _ in range(4)]
    if data.draw(st.booleans()):  # overlapping views of one buffer
        base = np.zeros(30)
        objs[data.draw(st.integers(0, 3))] = (
            base[2 : 2 + int(np.prod(shape))].reshape(shape) if shape else base[2:3].reshape(())
        )
        objs[data.draw(st.integers(0, 3))] = (
            base[: int(np.prod(shape))].reshape(shape) if shape else base[:1].reshape(())
        )
    p, g, m, v = objs
    snaps = snapshot(objs)
    step = data.draw(st.integers(-1, 3))
    calls = [
        *(lambda info=info: call_functional(info, objs, step, data) for info in OPTIM_DB),
        lambda: _core.adam_step([p], [g], [[m], [v], None], ADAM_OPTIONS, step),
        lambda: functional.grad_norm([g, p], data.draw(HYPER)),
        lambda: functional.clamp_([p], -1.0, 1.0),
        lambda: functional.scale_([p, m], 0.5),
        lambda: functional.first_nonfinite([g, p]),
        lambda: optikern.clip_grad_norm_([p], data.draw(HYPER)),
        lambda: optikern.flatten([p, g]),
    ]
    call = data.draw(st.sampled_from(calls))
    try:
        call()
    except (TypeError, ValueError):
        assert unchanged(objs, snaps)
