"""The C++ package: examples/cpp builds against the installed wheel and against
`cmake --install` from the source tree, and its Adam-trained linear model converges."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import optikern

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cpp"


def build_and_run(prefix: str, build_dir: Path) -> str:
    subprocess.run(
        [
            "cmake",
            "-S",
            str(EXAMPLE),
            "-B",
            str(build_dir),
            f"-DCMAKE_PREFIX_PATH={prefix}",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(["cmake", "--build", str(build_dir)], check=True, capture_output=True, text=True)
    exe = build_dir / "train_linear"
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_headers_and_config_are_installed() -> None:
    assert (Path(optikern.get_include()) / "optikern" / "optikern.hpp").is_file()
    assert (Path(optikern.get_include()) / "optikern" / "version.hpp").is_file()
    assert (Path(optikern.get_cmake_dir()) / "optikernConfig.cmake").is_file()


def test_example_builds_against_installed_package(tmp_path: Path) -> None:
    out = build_and_run(optikern.get_cmake_dir(), tmp_path / "build")
    assert f"optikern {optikern.__version__}" in out
    # The C++ program gets the same runtime dispatch as the Python module.
    assert f"simd level {optikern._core.detected_simd_level()}" in out


def test_example_builds_against_cmake_install(tmp_path: Path) -> None:
    env_free = {k: v for k, v in os.environ.items() if not k.startswith("SKBUILD")}
    subprocess.run(
        [
            "cmake",
            "-S",
            str(ROOT),
            "-B",
            str(tmp_path / "src-build"),
            f"-DCMAKE_INSTALL_PREFIX={tmp_path / 'prefix'}",
            "-DOPTIKERN_BUILD_PYTHON=OFF",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env_free,
    )
    subprocess.run(
        ["cmake", "--install", str(tmp_path / "src-build")],
        check=True,
        capture_output=True,
        text=True,
    )
    out = build_and_run(str(tmp_path / "prefix"), tmp_path / "build")
    assert "w = [3.0000, -2.0000]" in out
