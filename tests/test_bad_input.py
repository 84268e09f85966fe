"""Bad input, for every case of the optimizer table (optim_db): the error type, a message
naming the argument, and every caller array and all optimizer state unchanged afterwards."""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import numpy as np
import pytest
from optim_db import CASES, NAMES, OPTIM_DB, Case, OptimizerInfo

import optikern

pytestmark = pytest.mark.smoke  # the quick subset: python -m pytest -m smoke

SHAPES = [(3, 4), (5,)]


def setup(case: Case, dtype: type = np.float32, groups: int = 1) -> tuple:
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    spec: Any = params if groups == 1 else [{"params": [params[0]]}, {"params": [params[1]]}]
    opt = case.make(spec)
    opt.step([rng.standard_normal(s).astype(dtype) for s in SHAPES])  # state exists
    return opt, params, [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def snapshot(opt: optikern.Optimizer, arrays: list) -> tuple:
    return copy.deepcopy(opt.state_dict()), [
        a.copy() if isinstance(a, np.ndarray) else a for a in arrays
    ]


def assert_unchanged(opt: optikern.Optimizer, arrays: list, snap: tuple) -> None:
    state, copies = snap
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for index, entries in state["state"].items():
        for key, value in entries.items():
            assert np.array_equal(value, after["state"][index][key]), key
    for a, c in zip(arrays, copies):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, c, equal_nan=True)


def noncontiguous(shape: tuple, dtype: type) -> np.ndarray:
    return (
        np.ones(shape[::-1], dtype=dtype).T
        if len(shape) > 1
        else np.ones((shape[0] * 2,), dtype=dtype)[::2]
    )


BAD_GRADS: list[tuple[str, Callable[[list, type], list], type, str]] = [
    (
        "float64 for float32",
        lambda g, d: [g[0].astype(np.float64), g[1]],
        TypeError,
        r"grads\[0\]: expected dtype float32",
    ),
    ("int grad", lambda g, d: [g[0], g[1].astype(np.int32)], TypeError, r"grads\[1\]"),
    ("float16 grad", lambda g, d: [g[0].astype(np.float16), g[1]], TypeError, r"grads\[0\]"),
    (
        "big-endian",
        lambda g, d: [g[0].astype(g[0].dtype.newbyteorder(">")), g[1]],
        TypeError,
        r"grads\[0\]",
    ),
    (
        "non-contiguous",
        lambda g, d: [noncontiguous(g[0].shape, d), g[1]],
        ValueError,
        r"grads\[0\]: expected a C-contiguous",
    ),
    (
        "wrong shape",
        lambda g, d: [g[0].reshape(4, 3), g[1]],
        ValueError,
        r"grads\[0\]: expected shape",
    ),
    ("too few", lambda g, d: g[:1], ValueError, r"grads: expected 2 arrays"),
    ("too many", lambda g, d: g + g[:1], ValueError, r"grads: expected 2 arrays"),
    ("None entry", lambda g, d: [g[0], None], TypeError, r"grads\[1\]: expected a numpy"),
    ("list entry", lambda g, d: [g[0], g[1].tolist()], TypeError, r"grads\[1\]"),
    ("scalar entry", lambda g, d: [g[0], 1.0], TypeError, r"grads\[1\]"),
    ("ndarray not list", lambda g, d: g[1], TypeError, r"grads: expected a list"),
    ("None", lambda g, d: None, TypeError, r"grads: expected a list"),
    ("generator", lambda g, d: (x for x in g), TypeError, r"grads: expected a list"),
]


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize(
    ("label", "make", "error", "message"), BAD_GRADS, ids=[b[0] for b in BAD_GRADS]
)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_gradient(
    case: Case, label: str, make: Callable, error: type, message: str, groups: int
) -> None:
    opt, params, grads = setup(case, groups=groups)
    bad = make(grads, np.float32)
    snap = snapshot(opt, params + grads)
    with pytest.raises(error, match=message):
        opt.step(bad)
    assert_unchanged(opt, params + grads, snap)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_grad_aliasing_a_param_or_state(case: Case) -> None:
    opt, params, grads = setup(case)
    snap = snapshot(opt, params)
    with pytest.raises(ValueError, match=r"overlap"):
        opt.step([params[0], grads[1]])
    state_arrays = [v for v in opt.state[params[1]].values() if isinstance(v, np.ndarray)]
    if state_arrays:
        with pytest.raises(ValueError, match=r"overlap"):
            opt.step([grads[0], state_arrays[0]])
    assert_unchanged(opt, params, snap)


def test_grads_may_share_memory_with_each_other() -> None:
    a, b = np.zeros(4), np.zeros(4)
    g = np.ones(4)
    optikern.SGD([a, b], lr=0.5).step([g, g])
    assert np.array_equal(a, b) and a[0] == -0.5


BAD_PARAMS: list[tuple[str, Callable[[], list], type, str]] = [
    ("int64", lambda: [np.ones(3, dtype=np.int64)], TypeError, r"params\[0\]: expected a float32"),
    ("int32", lambda: [np.ones(3), np.ones(3, dtype=np.int32)], TypeError, r"params\[1\]"),
    ("complex", lambda: [np.ones(3, dtype=np.complex64)], TypeError, r"params\[0\]"),
    ("object", lambda: [np.array([1.0, None])], TypeError, r"params\[0\]"),
    ("big-endian", lambda: [np.ones(3, dtype=">f8")], TypeError, r"params\[0\]"),
    ("read-only", lambda: [_readonly()], ValueError, r"params\[0\]: expected a writeable"),
    ("non-contiguous", lambda: [np.ones(6)[::2]], ValueError, r"params\[0\]: expected a C-cont"),
    (
        "gapped 2-D",
        lambda: [np.asfortranarray(np.ones((6, 4)))[::2]],
        ValueError,
        r"params\[0\]: expected a C-contiguous or otherwise dense",
    ),
    ("list", lambda: [[1.0, 2.0]], TypeError, r"params\[0\]: expected a numpy"),
    ("None", lambda: [None], TypeError, r"params\[0\]"),
    ("twice", lambda: 2 * [np.ones(3)], ValueError, r"more than once"),
    ("views", lambda: _views(), ValueError, r"share memory"),
    ("empty", list, ValueError, r"empty parameter list"),
]


def _readonly() -> np.ndarray:
    a = np.ones(3)
    a.flags.writeable = False
    return a


def _views() -> list:
    base = np.ones(10)
    return [base[:6], base[4:]]


@pytest.mark.parametrize(
    ("label", "make", "error", "message"), BAD_PARAMS, ids=[b[0] for b in BAD_PARAMS]
)
@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_bad_params(
    info: OptimizerInfo, label: str, make: Callable, error: type, message: str
) -> None:
    params = make()
    copies = [p.copy() if isinstance(p, np.ndarray) else p for p in params]
    with pytest.raises(error, match=message):
        info.make(params)
    for p, c in zip(params, copies):
        if isinstance(p, np.ndarray) and p.dtype != object:
            assert np.array_equal(p, c)


def test_param_in_two_groups_and_single_array() -> None:
    p = np.ones(3)
    with pytest.raises(ValueError, match="more than once"):
        optikern.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(TypeError, match=r"single numpy\.ndarray"):
        optikern.Adam(p)


@pytest.mark.parametrize("value", [float("nan"), -0.1, float("-inf")])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_lr_at_construction_and_later(case: Case, value: float) -> None:
    message = "Invalid learning rate|Learning rate should be >= 0"  # torch's two wordings
    with pytest.raises(ValueError, match=message):
        case.info.make([np.ones(3)], **{**case.kwargs, "lr": value})
    opt, params, grads = setup(case, groups=2)
    opt.param_groups[1]["lr"] = value
    snap = snapshot(opt, params + grads)
    with pytest.raises(ValueError, match=message):
        opt.step(grads)
    opt.param_groups[1]["lr"] = snap[0]["param_groups"][1]["lr"]
    assert_unchanged(opt, params + grads, snap)


def test_non_number_lr() -> None:
    with pytest.raises(TypeError, match="lr"):
        optikern.Adam([np.ones(3)], lr="0.1")


INVALID_OPTIONS = [(info, *row) for info in OPTIM_DB for row in info.invalid]


@pytest.mark.parametrize(
    ("info", "options", "error", "message"),
    INVALID_OPTIONS,
    ids=[f"{info.name}-{','.join(options)}" for info, options, _, _ in INVALID_OPTIONS],
)
def test_invalid_hyperparameters(
    info: OptimizerInfo, options: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        info.make([np.ones(3)], **options)


@pytest.mark.parametrize("info", OPTIM_DB, ids=NAMES)
def test_functional_refuses_copies(info: OptimizerInfo) -> None:
    # every state list the function requires (it allocates none), the optional ones None
    p = np.ones(8)
    signature = inspect.signature(info.functional).parameters
    positional = [q for q in signature.values() if q.kind is q.POSITIONAL_OR_KEYWORD][2:]
    states = [None if q.default is None else [np.zeros(8)] for q in positional]
    kwargs: dict = {"step": 1} if "step" in signature else {}
    with pytest.raises(TypeError, match=r"grads\[0\]: expected dtype float64"):
        info.functional([p], [np.ones(8, np.float32)], *states, **kwargs)
    assert np.all(p == 1)


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        (1.0, TypeError, "step: expected an integer, got float"),
        (2**62 + 1, ValueError, "at most 2"),  # fits the int64 counters, past the limit
        (2**64, ValueError, "at most 2"),
    ],
)
def test_functional_step_must_be_an_integer_up_to_2_62(step, error: type, message: str) -> None:
    p = np.ones(8)
    with pytest.raises(error, match=message):
        optikern.functional.adam([p], [np.ones(8)], [np.zeros(8)], [np.zeros(8)], step=step)
    assert np.all(p == 1)


BAD_SCALAR_STATE: list[tuple[str, Callable[[list], np.ndarray], type, str]] = [
    ("param-shaped", lambda p: np.ones_like(p[0]), TypeError, "expected a 0-d float32 or float64"),
    ("integer", lambda p: np.array(1), TypeError, "expected a 0-d float32 or float64"),
    (
        "read-only",
        lambda p: np.frombuffer(bytes(4), np.float32).reshape(()),
        ValueError,
        "writeable",
    ),
    ("inside a param", lambda p: p[1].reshape(-1)[:1].reshape(()), ValueError, "overlap"),
]


@pytest.mark.parametrize(
    ("label", "bad", "error", "message"), BAD_SCALAR_STATE, ids=[b[0] for b in BAD_SCALAR_STATE]
)
@pytest.mark.parametrize(
    "info",
    [i for i in OPTIM_DB if i.scalar_state],
    ids=[i.name for i in OPTIM_DB if i.scalar_state],
)
def test_bad_scalar_state(info: OptimizerInfo, label: str, bad, error: type, message: str) -> None:
    """A per-param 0-d state entry (torch's 0-d tensors) replaced by something the kernel cannot
    update in place is refused, naming it, before anything is written."""
    opt, params, grads = setup(info.cases[0])
    for name in sorted(info.scalar_state):
        opt.state[params[0]][name] = bad(params)
        snap = snapshot(opt, params + grads)
        with pytest.raises(error, match=message):
            opt.step(grads)
        assert_unchanged(opt, params + grads, snap)
