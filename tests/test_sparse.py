"""Sparse gradients: the row kernels (``functional.sparse_sgd``, ``sparse_adagrad``,
``sparse_adam``) against the pure-Python reference on the touched rows, untouched rows and
state left exactly as they were, bad input refused before anything is written; and the torch
drop-in's ``SGD``, ``Adagrad`` and ``SparseAdam`` on ``nn.Embedding(sparse=True)`` against
torch.optim, through the row kernels."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from optikern import functional, reference

ROWS, COLS = 37, 5  # odd sizes: vector bodies and scalar tails in every row


def table(dtype: type, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    param = rng.standard_normal((ROWS, COLS)).astype(dtype)
    indices = np.sort(rng.choice(ROWS, size=11, replace=False)).astype(np.int64)
    values = rng.standard_normal((indices.size, COLS)).astype(dtype)
    return param, indices, values


def tolerance(dtype: type) -> dict:
    return {"rtol": 1e-12, "atol": 0} if dtype == np.float64 else {"rtol": 2e-6, "atol": 1e-7}


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "adagrad", "adam"])
def test_rows_match_the_reference(name: str, dtype: type, maximize: bool, simd_level) -> None:
    param, indices, values = table(dtype)
    before = param.copy()
    states = {
        "sgd": [],
        "adagrad": [np.full_like(param, 0.1)],
        "adam": [np.zeros_like(param), np.full_like(param, 0.01)],
    }[name]
    saved = [s.copy() for s in states]
    expected = param.astype(np.float64)
    for step in (1, 2, 3):
        if name == "sgd":
            functional.sparse_sgd(param, indices, values, lr=0.1, maximize=maximize)
        elif name == "adagrad":
            functional.sparse_adagrad(
                param, indices, values, *states, step=step, lr=0.1, lr_decay=0.1, maximize=maximize
            )
        else:
            functional.sparse_adam(
                param, indices, values, *states, step=step, lr=0.1, eps=1e-6, maximize=maximize
            )
    touched = np.zeros(ROWS, bool)
    touched[indices] = True
    for row, i in zip(indices, range(indices.size)):
        p = [float(x) for x in expected[row]]
        g = [float(x) for x in values[i]]
        state: dict = {}
        if name == "adagrad":
            state = {"step": 0, "sum": [float(x) for x in saved[0][row]]}
        elif name == "adam":
            state = {
                "step": 0,
                "exp_avg": [float(x) for x in saved[0][row]],
                "exp_avg_sq": [float(x) for x in saved[1][row]],
            }
        for _ in range(3):
            if name == "sgd":
                reference.sgd_step(p, g, state, lr=0.1, maximize=maximize)
            elif name == "adagrad":
                reference.adagrad_step(p, g, state, lr=0.1, lr_decay=0.1, maximize=maximize)
            else:
                reference.sparse_adam_step(p, g, state, lr=0.1, eps=1e-6, maximize=maximize)
        np.testing.assert_allclose(param[row], p, **tolerance(dtype))
    assert np.array_equal(param[~touched], before[~touched])
    for s, s0 in zip(states, saved):
        assert np.array_equal(s[~touched], s0[~touched])


BAD = [
    ("unsorted", lambda i, v: (i[::-1].copy(), v), ValueError, "strictly increasing"),
    ("duplicate", lambda i, v: (np.repeat(i[:1], 2), v[:2]), ValueError, "strictly increasing"),
    ("out of range", lambda i, v: (i + ROWS, v), ValueError, r"in \[0, 37\)"),
    ("negative", lambda i, v: (i - 100, v), ValueError, "strictly increasing"),
    ("int32", lambda i, v: (i.astype(np.int32), v), TypeError, "int64"),
    ("values shape", lambda i, v: (i, v[:, :2].copy()), ValueError, "values: expected"),
    ("values count", lambda i, v: (i[:3], v), ValueError, "values: expected"),
    ("values dtype", lambda i, v: (i, v.astype(np.float32)), TypeError, "values: expected dtype"),
]


@pytest.mark.parametrize(("label", "make", "error", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_rows_are_refused_and_nothing_changes(label, make, error, message) -> None:
    param, indices, values = table(np.float64)
    state = np.full_like(param, 0.1)
    before, state_before = param.copy(), state.copy()
    bad_indices, bad_values = make(indices, values)
    with pytest.raises(error, match=message):
        functional.sparse_adagrad(param, bad_indices, bad_values, state, step=1)
    assert np.array_equal(param, before) and np.array_equal(state, state_before)
    with pytest.raises(ValueError, match="overlap"):
        functional.sparse_adagrad(param, indices, values, param, step=1)


def embedding_run(cls: type, steps: int = 6, **kwargs) -> tuple:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    emb = torch.nn.Embedding(60, 7, sparse=True)
    opt = cls(emb.parameters(), **kwargs)
    for s in range(steps):
        idx = torch.randint(0, 60, (25,), generator=torch.Generator().manual_seed(s))
        opt.zero_grad()
        emb(idx).square().sum().backward()
        opt.step()
    return emb.weight.detach().clone(), opt


# torch's own sparse Adagrad warns about sparse invariant checks, whoever calls it.
@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")
@pytest.mark.parametrize(
    ("name", "kwargs", "kernel"),
    [
        ("SGD", {"lr": 0.1}, "sgd"),
        ("SGD", {"lr": 0.1, "maximize": True}, "sgd"),
        ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, "adagrad"),
        ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1}, "adagrad"),
        ("SparseAdam", {"lr": 0.05}, "sparse_adam"),
        ("SparseAdam", {"lr": 0.05, "betas": (0.5, 0.9), "maximize": True}, "sparse_adam"),
    ],
)
def test_embedding_training_matches_torch_through_the_row_kernels(
    name: str, kwargs: dict, kernel: str
) -> None:
    torch = pytest.importorskip("torch")
    import optikern.torch as okt

    with mock.patch.object(functional, "_rows_step", wraps=functional._rows_step) as rows:
        ours, ours_opt = embedding_run(getattr(okt, name), **kwargs)
    assert rows.call_count == 6
    assert all(call.args[0] == kernel for call in rows.call_args_list)
    theirs, theirs_opt = embedding_run(getattr(torch.optim, name), **kwargs)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    a, b = ours_opt.state_dict(), theirs_opt.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for index, entries in b["state"].items():
        assert a["state"][index].keys() == entries.keys()
        for key, value in entries.items():
            other = a["state"][index][key]
            if isinstance(value, torch.Tensor):
                assert other.dtype == value.dtype
                torch.testing.assert_close(other, value, rtol=1e-5, atol=1e-6)
            else:
                assert other == value


def test_sparse_options_torch_refuses_still_refused() -> None:
    torch = pytest.importorskip("torch")
    import optikern.torch as okt

    for cls in (okt.Adagrad, torch.optim.Adagrad):
        with pytest.raises(RuntimeError, match="weight_decay option is not compatible"):
            embedding_run(cls, steps=1, lr=0.1, weight_decay=0.1)
