"""The C++-only kernel tests (cpp/tests): built from the source tree with CMake and run, so the
header-only library is checked on every SIMD level and thread count without Python. Extra
CMake arguments come from ``CMAKE_ARGS``, as for the wheel build (CI sets
``-DOPTIKERN_WARNINGS_AS_ERRORS=ON``). Built at -O1: half the -O3 build's time (its one
translation unit instantiates every kernel on every level), and the same results, which
-ffp-contract=off and explicit fused multiply-adds keep independent of optimization; the
extension the rest of the suite runs is the optimized build."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cpp_kernel_suite(tmp_path: Path) -> None:
    build = tmp_path / "build"
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(build),
            "-DOPTIKERN_BUILD_TESTS=ON",
            "-DOPTIKERN_BUILD_PYTHON=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_CXX_FLAGS_RELEASE=-O1",
            *shlex.split(os.environ.get("CMAKE_ARGS", "")),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True, text=True)
    out = subprocess.run(
        ["ctest", "--test-dir", str(build), "--output-on-failure"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
