"""Runtime configuration: SIMD level choice, OPTIKERN_SIMD, threads, show_config."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import optikern


def active_level_in_subprocess(value: str) -> str:
    env = dict(os.environ, OPTIKERN_SIMD=value)
    code = "import optikern._core as c; print(c.active_simd_level())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_levels_lowest_first_and_best_is_default() -> None:
    levels = optikern.available_simd_levels()
    assert levels[0] == "baseline"
    assert set(levels) <= {"baseline", "avx2", "avx512"}
    assert levels.index(optikern._core.detected_simd_level()) == len(levels) - 1


@pytest.mark.parametrize("level", optikern.available_simd_levels())
def test_environment_forces_a_level(level: str) -> None:
    assert active_level_in_subprocess(level) == level


def test_environment_cannot_raise_or_break_the_level() -> None:
    best = optikern._core.detected_simd_level()
    assert active_level_in_subprocess("no-such-level") == best
    if best != "avx512":
        assert active_level_in_subprocess("avx512") == best


def test_simd_level_context_restores() -> None:
    before = optikern._core.active_simd_level()
    with optikern.simd_level("baseline"):
        assert optikern._core.active_simd_level() == "baseline"
    assert optikern._core.active_simd_level() == before


def test_unknown_simd_level_is_refused() -> None:
    with pytest.raises(ValueError, match="simd level"), optikern.simd_level("sse9"):
        pass


def test_threads_set_get_and_reset() -> None:
    default = optikern.get_num_threads()
    assert default >= 1
    optikern.set_num_threads(3)
    try:
        assert optikern.get_num_threads() == 3
    finally:
        optikern.set_num_threads(0)
    assert optikern.get_num_threads() == default
    with pytest.raises(ValueError, match="thread count"):
        optikern.set_num_threads(-1)


def test_omp_num_threads_is_honoured() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = "import optikern; print(optikern.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "1", out.stderr


def test_show_config_names_level_threads_compiler(capsys: pytest.CaptureFixture[str]) -> None:
    optikern.show_config()
    out = capsys.readouterr().out
    assert optikern._core.active_simd_level() in out
    assert "threads" in out
    assert optikern._core.compiler in out
