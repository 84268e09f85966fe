"""state_dict / load_state_dict: plain containers of NumPy arrays and numbers; a round trip
through numpy.savez or pickle restores every state array itself (bit for bit, same dtype, for
every case of the optimizer table and for 16-bit params with float32 masters) and resumes bit
for bit; bad states are refused, changing nothing."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from optim_db import CASES, MIXED, MIXED_NAMES, Case, OptimizerInfo

import optikern

pytestmark = pytest.mark.smoke  # the quick subset: python -m pytest -m smoke

ADAMW_CASE = next(case for case in CASES if case.optimizer == "AdamW")  # keeps exp_avg
SHAPES = [(4, 3), (7,), ()]
TRANSPORTS = ["savez", "pickle"]


def trained(case: Case, dtype: type, steps: int, seed: int = 0) -> tuple:
    """An optimizer over two groups after some steps. The gradients shrink after the first
    step, so that running maxima (amsgrad) part from the averages they bound."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    opt = case.make([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}])
    for step in range(steps):
        scale = 4.0 if step == 0 else 0.05
        opt.step([np.array(scale * rng.standard_normal(s), dtype=dtype) for s in SHAPES])
    return opt, params, rng


def savez_round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, state=np.array(state, dtype=object))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=True) as loaded:
        return loaded["state"].item()


def restored_copy(case: Case, opt: optikern.Optimizer, params: list, transport: str) -> tuple:
    """A new optimizer over copies of the params, loaded from opt's state dict sent through
    numpy.savez or pickle."""
    saved = opt.state_dict()
    saved = savez_round_trip(saved) if transport == "savez" else pickle.loads(pickle.dumps(saved))
    restored_params = [p.copy() for p in params]
    restored = case.make(
        [{"params": restored_params[:2]}, {"params": restored_params[2:], "lr": 0.5}]
    )
    restored.load_state_dict(saved)
    return restored, restored_params


def assert_same_state(
    opt: optikern.Optimizer, params: list, other: optikern.Optimizer, other_params: list
) -> None:
    """other keeps opt's per-param state itself: state for the same params, the same names,
    every array bitwise equal with the same dtype and shape, the same step count."""
    with_state = [i for i, p in enumerate(params) if p in opt.state]
    assert [i for i, p in enumerate(other_params) if p in other.state] == with_state
    for i in with_state:
        ours, theirs = opt.state[params[i]], other.state[other_params[i]]
        assert sorted(theirs) == sorted(ours), f"params[{i}]"
        for name, value in ours.items():
            got = theirs[name]
            where = f"params[{i}] {name!r}"
            if isinstance(value, np.ndarray):
                assert isinstance(got, np.ndarray), where
                assert (got.dtype, got.shape) == (value.dtype, value.shape), where
                assert got.tobytes() == value.tobytes(), where
            else:
                assert got == value, where


def assert_distinct_arrays(opt: optikern.Optimizer, params: list) -> None:
    """No two state arrays of a param are equal: a load that put one in the place of another
    would show."""
    for i, p in enumerate(params):
        arrays = {k: v.tobytes() for k, v in opt.state[p].items() if isinstance(v, np.ndarray)}
        assert len(set(arrays.values())) == len(arrays), f"params[{i}]: {sorted(arrays)}"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_round_trip_restores_the_state_itself(case: Case, dtype: type, transport: str) -> None:
    opt, params, _rng = trained(case, dtype, steps=3)
    assert_distinct_arrays(opt, params)
    restored, restored_params = restored_copy(case, opt, params, transport)
    assert_same_state(opt, params, restored, restored_params)  # before any further step


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_round_trip_resumes_bit_for_bit(case: Case, dtype: type, transport: str) -> None:
    opt, params, rng = trained(case, dtype, steps=3)
    restored, restored_params = restored_copy(case, opt, params, transport)
    assert restored.param_groups[1]["lr"] == 0.003
    for _ in range(4):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        opt.step(grads)
        restored.step([g.copy() for g in grads])
    for a, b in zip(params, restored_params):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert_same_state(opt, params, restored, restored_params)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("fmt", ["float16", "bfloat16"])
@pytest.mark.parametrize("info", MIXED, ids=MIXED_NAMES)
def test_16bit_round_trip_restores_masters_and_state(
    info: OptimizerInfo, fmt: str, transport: str
) -> None:
    """16-bit params keep a float32 master_param and float32 state: both come back as they
    were, and training resumes bit for bit (stochastic rounding included)."""
    dtype = np.float16 if fmt == "float16" else pytest.importorskip("ml_dtypes").bfloat16
    case = Case(info, {**info.representative, "rounding": "stochastic", "seed": 3})
    opt, params, rng = trained(case, dtype, steps=3)
    for p in params:
        assert opt.state[p]["master_param"].dtype == np.float32
        kept = {"master_param", "step", *info.state_names}
        if info.factored:  # row and column statistics or the full one, by the param's shape
            assert "master_param" in opt.state[p] and set(opt.state[p]) <= kept
        else:
            assert set(opt.state[p]) == kept
    assert_distinct_arrays(opt, params)
    restored, restored_params = restored_copy(case, opt, params, transport)
    assert_same_state(opt, params, restored, restored_params)  # before any further step
    for _ in range(2):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        opt.step(grads)
        restored.step([g.copy() for g in grads])
    for a, b in zip(params, restored_params):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert_same_state(opt, params, restored, restored_params)


def test_snapshot_is_plain_and_a_copy() -> None:
    opt, _params, rng = trained(ADAMW_CASE, np.float32, steps=2)
    saved = opt.state_dict()
    assert set(saved) == {"state", "param_groups"}
    assert saved["param_groups"][0]["params"] == [0, 1] and saved["param_groups"][1]["params"] == [
        2
    ]
    assert all(isinstance(k, int) for k in saved["state"])
    exp_avg = saved["state"][0]["exp_avg"].copy()
    opt.step([rng.standard_normal(s).astype(np.float32) for s in SHAPES])
    assert np.array_equal(saved["state"][0]["exp_avg"], exp_avg)


def test_load_casts_to_param_dtype() -> None:
    opt, params, _ = trained(ADAMW_CASE, np.float64, steps=1)
    saved = opt.state_dict()
    target = [p.astype(np.float32) for p in params]
    other = ADAMW_CASE.info.make([{"params": target[:2]}, {"params": target[2:]}])
    other.load_state_dict(saved)
    assert other.state[target[0]]["exp_avg"].dtype == np.float32


BAD_STATES = [
    ("not a dict", lambda s: [s], "state_dict"),
    ("missing key", lambda s: {"state": s["state"]}, "state_dict"),
    (
        "group count",
        lambda s: {**s, "param_groups": s["param_groups"][:1]},
        "number of parameter groups",
    ),
    (
        "group size",
        lambda s: {
            **s,
            "param_groups": [{**s["param_groups"][0], "params": [0]}, s["param_groups"][1]],
        },
        "size",
    ),
    (
        "shape",
        lambda s: {**s, "state": {**s["state"], 0: {**s["state"][0], "exp_avg": np.zeros(5)}}},
        "shape",
    ),
    ("unknown index", lambda s: {**s, "state": {**s["state"], 9: {}}}, "unknown param"),
    (
        "other optimizer",
        lambda s: {**s, "state": {**s["state"], 0: {"momentum_buffer": np.zeros((4, 3))}}},
        "another optimizer",
    ),
    (
        "bad step",
        lambda s: {**s, "state": {**s["state"], 0: {**s["state"][0], "step": -1}}},
        "step",
    ),
    (
        "step past 2**62",  # beyond what the kernels' 64-bit counters take
        lambda s: {**s, "state": {**s["state"], 0: {**s["state"][0], "step": 2**70}}},
        "step",
    ),
    (
        "bad option",
        lambda s: {
            **s,
            "param_groups": [{**s["param_groups"][0], "lr": -1.0}, s["param_groups"][1]],
        },
        "learning rate",
    ),
]


@pytest.mark.parametrize(
    ("label", "corrupt", "message"), BAD_STATES, ids=[b[0] for b in BAD_STATES]
)
def test_bad_state_is_refused_and_changes_nothing(label, corrupt, message) -> None:
    opt, _params, _ = trained(ADAMW_CASE, np.float32, steps=2)
    before = opt.state_dict()
    with pytest.raises((ValueError, TypeError), match=message):
        opt.load_state_dict(corrupt(opt.state_dict()))
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entries in before["state"].items():
        for key, value in entries.items():
            assert np.array_equal(value, after["state"][index][key])


def test_pickling_the_optimizer_keeps_params_shared() -> None:
    opt, params, rng = trained(ADAMW_CASE, np.float32, steps=2)
    params2, opt2 = pickle.loads(pickle.dumps((params, opt)))
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    opt.step(grads)
    opt2.step(grads)
    for a, b in zip(params, params2):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("step", [2**62 + 1, 2**70], ids=["int64", "past int64"])
def test_step_count_edited_past_2_62_is_refused_naming_it(step: int) -> None:
    opt, params, rng = trained(ADAMW_CASE, np.float32, steps=2)
    before = [p.copy() for p in params]
    opt.state[params[0]]["step"] = step
    with pytest.raises(ValueError, match=r"state\['step'\]: expected at most 2\*\*62"):
        opt.step([rng.standard_normal(s).astype(np.float32) for s in SHAPES])
    assert all(a.tobytes() == b.tobytes() for a, b in zip(params, before))
    opt.state[params[0]]["step"] = 2**62  # the largest taken
    opt.step([rng.standard_normal(s).astype(np.float32) for s in SHAPES])
