"""The ``optikern`` command: every mistake ends in one ``optikern: error: ...`` line and exit
code 2 before anything runs, ``--version`` and the defaults in ``--help``, a tiny bench run
writing strict JSON with the spread and the machine, the table without torch, the demo's
progress lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import optikern
from optikern import _cli, demo
from optikern._bench import runner, workloads

TINY_BENCH = [
    "bench",
    "--sizes",
    "1e3",
    "--workloads",
    "1 x 1e3",
    "--optimizers",
    "RMSprop",
    "--threads",
    "1",
    "--budget",
    "0.01",
    "--no-plot",
]


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Runs the command, which must stop with exit code 2; returns its one error line."""
    with pytest.raises(SystemExit) as stopped:
        _cli.main(argv)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1, err
    assert err.splitlines()[-1] == errors[0]
    assert errors[0].startswith("optikern: error: ")
    return errors[0]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["demo", "--epochs", "0"], ["--epochs", "positive integer", "'0'"]),
        (["demo", "--epochs", "ten"], ["--epochs", "positive integer"]),
        (["demo", "--batch-size", "0"], ["--batch-size", "positive integer"]),
        (["demo", "--seed", "-1"], ["--seed"]),
        (["demo", "--optimizers", "Lion"], ["--optimizers", "'Lion'", "SGD+Nesterov, Adagrad"]),
        (["demo", "--compare-numpy", "--plot", "x.png"], ["--plot", "--compare-numpy"]),
        (["demo", "--plot", "x.png", "--no-plot"], ["--no-plot", "--plot"]),
        (["bench", "--optimizers", "Adm"], ["--optimizers", "did you mean 'Adam'", "AdamW"]),
        (["bench", "--optimizers", ","], ["--optimizers"]),
        (["bench", "--workloads", "1 x 1e8"], ["--workloads", "1 x 1e7, 1000 x 1e3, ResNet-50"]),
        (["bench", "--dtypes", "float16"], ["--dtypes", "float16", "float32, float64"]),
        (["bench", "--dtypes", "bfloat16"], ["--dtypes", "bfloat16", "float32, float64"]),
        (["bench", "--dtypes", "int8"], ["--dtypes", "float32, float64"]),
        (["bench", "--sizes", "abc"], ["--sizes", "'abc'", "1e3"]),
        (["bench", "--sizes", "1e3,0"], ["--sizes", "'0'"]),
        (["bench", "--sizes", "1.5"], ["--sizes", "'1.5'"]),
        (["bench", "--sizes", "1e3,1e30"], ["--sizes", "'1e30' is too large", "GiB"]),
        (["bench", "--threads", "0"], ["--threads", "'0'", "positive"]),
        (["bench", "--threads", "1,two"], ["--threads", "'two'"]),
        (["bench", "--budget", "-1"], ["--budget"]),
        (["bench", "--budget", "nan"], ["--budget"]),
        (["frobnicate"], ["invalid choice", "demo", "bench"]),
    ],
)
def test_mistakes_end_in_one_error_line(
    argv: list[str], expected: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if argv[0] == "bench":
        argv = [*argv, "--output", str(tmp_path / "out")]
    line = usage_error(argv, capsys)
    for text in expected:
        assert text in line
    assert not (tmp_path / "out").exists()  # refused before anything ran or was written


def test_running_out_of_memory_is_one_error_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def allocation_fails(**_: Any) -> list:
        raise MemoryError("Unable to allocate 37.3 GiB")

    monkeypatch.setattr(runner, "run", allocation_fails)
    assert _cli.main([*TINY_BENCH, "--output", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err == "optikern: error: out of memory (Unable to allocate 37.3 GiB)\n"


def test_a_mistake_in_a_real_process_prints_no_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "optikern", "bench", "--dtypes", "float16"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("optikern: error: argument --dtypes: float16")
    assert done.stdout == ""


def test_missing_optional_packages_are_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    line = usage_error(["demo", "--plot", str(tmp_path / "loss.png")], capsys)
    assert "--plot" in line and "matplotlib" in line
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert "scikit-learn" in usage_error(["demo"], capsys)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        _cli.main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"optikern {optikern.__version__}\n"


@pytest.mark.parametrize(
    "argv, defaults",
    [
        (["demo"], ["(default: 30)", "(default: 64)", "(default: all)", "matplotlib"]),
        (["bench"], ["(default: 1e3,1e5,1e7)", "(default: 1,2)", "(default: 0.3)", "cache"]),
    ],
)
def test_help_shows_defaults(
    argv: list[str], defaults: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _cli.main([*argv, "--help"])
    assert stopped.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    for default in defaults:
        assert default in text


def read_strict_json(path: Path) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_tiny_bench_writes_strict_json_with_spread_and_machine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _cli.main([*TINY_BENCH, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (path,) = tmp_path.glob("*.json")
    assert f"JSON: {path}" in out
    assert not list(tmp_path.glob("*.png"))  # --no-plot
    document = read_strict_json(path)
    meta = document["meta"]
    for key in ("optikern", "simd_level", "max_threads", "cpu_count", "python", "numpy"):
        assert meta[key] is not None
    assert meta["optikern"] == optikern.__version__
    assert "torch" in meta and "platform" in meta
    assert document["settings"]["threads"] == [1]
    (row,) = document["rows"]
    assert (row["workload"], row["optimizer"], row["threads"]) == ("1 x 1e3", "RMSprop", 1)
    timing = row["results"]["optikern"]
    assert timing["seconds_min"] <= timing["seconds_q1"] <= timing["seconds"]
    assert timing["seconds"] <= timing["seconds_q3"] <= timing["seconds_max"]
    assert timing["repeats"] >= 3
    assert row["optikern_vs_torch_fused"] is None  # torch has no fused RMSprop, or no torch
    json.dumps(document, allow_nan=False)


def test_bench_table_without_torch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    assert _cli.main([*TINY_BENCH, "--json", str(tmp_path / "run.json")]) == 0
    out = capsys.readouterr().out
    header, _, *body, note = out.split("\n\nJSON:")[0].splitlines()
    assert "xtorch" not in header and "xfused" not in header and "torch best" not in header
    assert "nan" not in "".join(body)
    assert note.startswith("torch is not installed")
    document = read_strict_json(tmp_path / "run.json")
    assert document["meta"]["torch"] is None
    assert document["rows"][0]["optikern_vs_torch_best"] is None


def test_default_output_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert runner.default_output_dir() == tmp_path / "optikern" / "bench"
    home_cache = Path.home() / ".cache" / "optikern" / "bench"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored, as XDG says
    assert runner.default_output_dir() == home_cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert runner.default_output_dir() == home_cache


def test_json_is_strict() -> None:
    value = {"a": float("nan"), "b": [float("inf"), 1.5], "c": None}
    assert json.dumps(runner.strict(value), allow_nan=False) == (
        '{"a": null, "b": [null, 1.5], "c": null}'
    )


def test_runner_refuses_unknown_names_before_running() -> None:
    with pytest.raises(ValueError, match="optimizers"):
        runner.run(sizes=[1000], optimizers=["Adm"])
    with pytest.raises(ValueError, match="dtypes"):
        runner.run(sizes=[1000], dtypes=["float16"])


def test_workload_names_are_distinct() -> None:
    assert list(workloads.workloads([1000, 1200, 500_000]))[:3] == [
        "1 x 1e3",
        "1 x 1200",
        "1 x 5e5",
    ]


def test_demo_prints_a_line_per_optimizer_and_plots_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cli.main(["demo", "--epochs", "1", "--optimizers", "adam,SGD"]) == 0
    out, err = capsys.readouterr()
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) == 2
    assert progress[0].startswith("[1/2] Adam") and "test acc" in progress[0]
    assert progress[1].startswith("[2/2] SGD")
    assert "test acc" in out and "Adam" in out  # the table, on stdout
    png = tmp_path / "optikern" / "demo" / "losses.png"
    assert f"loss curves: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_matplotlib_skips_the_default_plot(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert _cli.main(["demo", "--epochs", "1", "--optimizers", "SGD"]) == 0
    assert "loss curves" not in capsys.readouterr().out
    assert not list(tmp_path.rglob("*.png"))


def test_demo_refuses_nonpositive_counts() -> None:
    with pytest.raises(ValueError, match="epochs"):
        demo.run_demo(epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        demo.run_demo(epochs=1, batch_size=0)


def test_bench_bytes_per_param(capsys: pytest.CaptureFixture[str]) -> None:
    """The memory table per model size and, per size and thread count, a timed row for every
    param and state format, with bytes kept and moved as the 8-bit state docs derive them."""
    argv = ["bench", "--bytes-per-param", "--sizes", "5000", "--threads", "1", "--budget", "0.01"]
    assert _cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "| float32 params, 8-bit state | 2.03 | 16.06 | 0.19 GiB | 1.89 GiB |" in out
    assert "| bfloat16 params + fp32 master, float32 state | 12.00 | 30.00 |" in out
    timed = out.split("AdamW, 5e+03 params, 1 thread(s)")[1].splitlines()[3:]
    assert len(timed) == 6
    kept_moved = {tuple(row.split()[-6:-4]) for row in timed}
    assert kept_moved == {
        ("8.00", "28.00"),
        ("2.03", "16.06"),
        ("12.00", "30.00"),
        ("6.03", "18.06"),
    }
    assert all(row.rstrip().endswith("%") for row in timed)
