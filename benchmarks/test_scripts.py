"""The benchmark scripts run end to end on tiny inputs (their numbers are not checked: a
script whose call into optikern went stale fails here instead of when someone measures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

RUNS = {
    "interleaved": ["bench_interleaved.py", "Lion", "--size", "1e3", "--rounds", "1"],
    "mixed": ["bench_mixed.py", "--sizes", "1e4", "--threads", "1", "--no-deepspeed"],
    "8bit": ["bench_8bit.py", "--sizes", "1e4", "--threads", "1", "--repeats", "1", "--no-bnb"],
    "8bit memory table": ["bench_8bit.py", "--memory-table"],
    "sparse": ["bench_sparse.py", "--rows", "2000", "--cols", "8"],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_script_runs(run: str) -> None:
    script, *args = RUNS[run]
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


def test_plot_refuses_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "plot.py"), str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "not a benchmark JSON file" in done.stderr
    assert "Traceback" not in done.stderr
