"""The demo: the hand-written backward is right, training works in place, the CLI prints the
table, and the bfloat16 rounding study shows what stochastic rounding buys."""

from __future__ import annotations

import numpy as np
import pytest

import optikern
from optikern import _cli, demo


def test_backward_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    model = demo.MLP(hidden=5, dtype=np.dtype(np.float64), seed=0)
    x = rng.standard_normal((7, 64))
    y = rng.integers(0, 10, 7)
    model.backward(x, y)
    for param, grad in zip(model.params, model.grads):
        for index in list(np.ndindex(param.shape))[:12]:
            saved = param[index]
            param[index] = saved + 1e-6
            up = model.loss(x, y)
            param[index] = saved - 1e-6
            down = model.loss(x, y)
            param[index] = saved
            assert grad[index] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


def test_reduced_demo_trains_every_optimizer() -> None:
    rows = demo.run_demo(epochs=4, optimizers=["SGD+momentum", "RMSprop", "Adam"])
    by_name = {r["optimizer"]: r for r in rows}
    assert set(by_name) == {"SGD+momentum", "RMSprop", "Adam"}
    assert by_name["Adam"]["accuracy"] > 0.93
    for r in rows:
        assert np.isfinite(r["losses"]).all()
        assert r["losses"][-1] < r["losses"][0]
        assert r["steps"] == 4 * 23 and r["step_time"] > 0


def test_cli_prints_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cli.main(["demo", "--epochs", "1", "--optimizers", "Adam,SGD", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "Adam" in out and "SGD" in out and "test acc" in out
    assert "loss curves" not in out and not list(tmp_path.rglob("*.png"))


def test_cli_cmake_dir(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--cmake-dir"]) == 0
    assert capsys.readouterr().out.strip() == optikern.get_cmake_dir()


def test_unknown_optimizer_is_refused() -> None:
    with pytest.raises(ValueError, match="optimizers"):
        demo.run_demo(epochs=1, optimizers=["Lion"])


def test_bfloat16_stochastic_rounding_reaches_float32_accuracy() -> None:
    pytest.importorskip("ml_dtypes")
    float32, nearest, stochastic = demo.rounding_study(epochs=12)
    # Stated margin: within 1 point of float32 accuracy; nearest rounding stalls far below.
    assert stochastic["accuracy"] >= float32["accuracy"] - 0.01
    assert nearest["accuracy"] < float32["accuracy"] - 0.05
    assert stochastic["loss"] < nearest["loss"]


def test_numpy_comparison_same_result() -> None:
    rows = demo.numpy_comparison(epochs=1, optimizers=["SGD+momentum", "Adam"])
    assert [r["optimizer"] for r in rows] == ["SGD+momentum", "Adam"]
    for r in rows:
        assert r["max_param_difference"] < 1e-5  # float32, same formula, different rounding
        assert r["speedup"] > 0


def test_loss_curves_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    rows = demo.run_demo(epochs=2, optimizers=["Adam", "SGD"])
    path = tmp_path / "losses.png"
    assert demo.plot_losses(rows, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
