#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds optikern with
# -Ccmake.define.OPTIKERN_SANITIZE=ON into a fresh virtual environment and runs the whole suite
# once with the ASan runtime preloaded into Python; its kernel tests run on every SIMD level the
# CPU has (tests/conftest.py's simd_level fixture). Any report fails the run (UBSan aborts on
# the first finding).
#
#   scripts/sanitize.sh [all|build|test]
# `build` only builds and installs into SANITIZE_VENV, `test` only runs the suite there: .ci/run
# builds while its Python stages run, since the build is most of this stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."

phase="${1:-all}"
case "$phase" in
  all | build | test) ;;
  *) echo "usage: scripts/sanitize.sh [all|build|test]" >&2; exit 2 ;;
esac
venv="${SANITIZE_VENV:-$(mktemp -d)/venv}"
if [ "$phase" != test ]; then
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
  fi
  build_dir="$(mktemp -d)/build"
  # At -O1, as the sanitizers' documentation advises: the same findings, half the -O3 build
  # time (every kernel on every level), which was the larger part of this stage.
  "$venv/bin/python" -m pip install --quiet -Ccmake.define.OPTIKERN_SANITIZE=ON \
    "-Ccmake.define.CMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" -Cbuild-dir="$build_dir" ".[test]"
fi
if [ "$phase" = build ]; then exit 0; fi

# Preloading libstdc++ too keeps C++ exceptions (every refused input) working under ASan.
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

"$venv/bin/python" -m pytest -q -p no:cacheprovider tests \
  --ignore=tests/test_cmake_package.py --ignore=tests/test_cpp_kernels.py --ignore=tests/test_large.py
echo "sanitizers: clean"
