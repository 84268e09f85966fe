"""state_dict / load_state_dict: plain containers of NumPy arrays and numbers; a round trip
through numpy.savez or pickle resumes bit for bit; bad states are refused, changing nothing."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from optim_db import CASES, Case

import optikern

SHAPES = [(4, 3), (7,), ()]


def trained(case: Case, dtype: type, steps: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    opt = case.make([{"params": params[:2]}, {"params": params[2:], "lr": 0.003}])
    for _ in range(steps):
        opt.step([rng.standard_normal(s).astype(dtype) for s in SHAPES])
    return opt, params, rng


def savez_round_trip(state: dict) -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, state=np.array(state, dtype=object))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=True) as loaded:
        return loaded["state"].item()


@pytest.mark.parametrize("transport", ["savez", "pickle"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_round_trip_resumes_bit_for_bit(case: Case, dtype: type, transport: str) -> None:
    opt, params, rng = trained(case, dtype, steps=3)
    saved = opt.state_dict()
    saved = savez_round_trip(saved) if transport == "savez" else pickle.loads(pickle.dumps(saved))
    restored_params = [p.copy() for p in params]
    restored = case.make(
        [{"params": restored_params[:2]}, {"params": restored_params[2:], "lr": 0.5}]
    )
    restored.load_state_dict(saved)
    assert restored.param_groups[1]["lr"] == 0.003
    for _ in range(4):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        opt.step(grads)
        restored.step([g.copy() for g in grads])
    for a, b in zip(params, restored_params):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    for a, b in zip(params, restored_params):
        for key, value in opt.state[a].items():
            other = restored.state[b][key]
            if isinstance(value, np.ndarray):
                assert other.dtype == value.dtype and other.tobytes() == value.tobytes()
            else:
                assert other == value


def test_snapshot_is_plain_and_a_copy() -> None:
    opt, _params, rng = trained(CASES[-1], np.float32, steps=2)
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
    opt, params, _ = trained(CASES[-1], np.float64, steps=1)
    saved = opt.state_dict()
    target = [p.astype(np.float32) for p in params]
    other = optikern.AdamW([{"params": target[:2]}, {"params": target[2:]}])
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
    opt, _params, _ = trained(CASES[-1], np.float32, steps=2)
    before = opt.state_dict()
    with pytest.raises((ValueError, TypeError), match=message):
        opt.load_state_dict(corrupt(opt.state_dict()))
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entries in before["state"].items():
        for key, value in entries.items():
            assert np.array_equal(value, after["state"][index][key])


def test_pickling_the_optimizer_keeps_params_shared() -> None:
    opt, params, rng = trained(CASES[-1], np.float32, steps=2)
    params2, opt2 = pickle.loads(pickle.dumps((params, opt)))
    grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    opt.step(grads)
    opt2.step(grads)
    for a, b in zip(params, params2):
        assert a.tobytes() == b.tobytes()
