"""The ``optikern`` console command: ``optikern demo`` trains a NumPy MLP with every optimizer,
``optikern bench`` times them against NumPy and torch, ``--cmake-dir`` and ``--include`` print
where the C++ package is installed.

A mistake on the command line ends in one line, ``optikern: error: ...`` (after the usage),
and exit code 2; options are checked before anything runs."""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import optikern

from ._console import Progress, format_table

PROG = "optikern"


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors, in the subcommands too, read ``optikern: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{PROG}: error: {message}\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: ...)`` to every option's help, except flags and options unset by
    default (their help says what happens without them)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


# -- argument types: each raises ArgumentTypeError, which argparse reports with the option name


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _items(text: str) -> list[str]:
    """Comma-separated items, stripped, empty ones dropped, duplicates removed (in order)."""
    items = [item.strip() for item in text.split(",")]
    unique = list(dict.fromkeys(item for item in items if item))
    if not unique:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return unique


def _physical_memory() -> int | None:
    """This machine's memory in bytes, where the OS says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None


def _sizes(text: str) -> list[int]:
    """Element counts such as ``1e3,1e5,1e7``."""
    sizes = []
    memory = _physical_memory()
    for item in _items(text):
        try:
            value = float(item)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 1 and value == int(value)):
            raise argparse.ArgumentTypeError(
                f"{item!r} is not a size: expected comma-separated element counts "
                "(positive integers such as 1000 or 1e3), e.g. 1e3,1e5,1e7"
            )
        if memory is not None and 4 * value > memory:
            raise argparse.ArgumentTypeError(
                f"{item!r} is too large: one float32 array of it would need "
                f"{4 * value / 2**30:.3g} GiB, more than this machine's {memory / 2**30:.0f} GiB"
            )
        sizes.append(int(value))
    return list(dict.fromkeys(sizes))


def _threads(text: str) -> list[int]:
    counts = []
    for item in _items(text):
        try:
            counts.append(_positive_int(item))
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not a thread count: expected comma-separated positive integers, "
                "e.g. 1,2"
            ) from None
    return list(dict.fromkeys(counts))


def _unknown(what: str, item: str, valid: Sequence[str], extra: str = "") -> str:
    """``unknown optimizer 'Adm' (did you mean 'Adam'?); choose from SGD, ..., Adam``."""
    by_lower = {name.lower(): name for name in valid}
    close = difflib.get_close_matches(item.lower(), list(by_lower), n=1)
    hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
    return f"unknown {what} {item!r}{hint}; choose from {', '.join(valid)}{extra}"


def _names(what: str, valid: Sequence[str]) -> Callable[[str], list[str]]:
    """A type: comma-separated names out of ``valid`` (any case), or ``all``."""

    def parse(text: str) -> list[str]:
        if text.strip().lower() == "all":
            return list(valid)
        by_lower = {name.lower(): name for name in valid}
        chosen = []
        for item in _items(text):
            if item.lower() not in by_lower:
                raise argparse.ArgumentTypeError(_unknown(what, item, valid, " (or all)"))
            chosen.append(by_lower[item.lower()])
        return list(dict.fromkeys(chosen))

    return parse


#: dtypes the bench measures: it checks and compares against careful NumPy, which computes
#: in the params' own dtype, so only float32 and float64 give a like-for-like comparison.
BENCH_DTYPES = ("float32", "float64")


def _bench_dtypes(text: str) -> list[str]:
    chosen = []
    for item in _items(text):
        name = item.lower()
        if name in ("float16", "bfloat16", "half"):
            raise argparse.ArgumentTypeError(
                f"{item} is not benchmarked: the bench checks and compares optikern against "
                "NumPy in float32 and float64 only (16-bit params keep float32 masters; "
                "try 'optikern demo --precision float16'); choose from float32, float64"
            )
        if name not in BENCH_DTYPES:
            raise argparse.ArgumentTypeError(_unknown("dtype", item, BENCH_DTYPES))
        chosen.append(name)
    return list(dict.fromkeys(chosen))


def _needs(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# -- optikern demo


class _DemoProgress:
    """The demo's progress callback: a line per trained optimizer on stderr, under a tqdm bar
    when tqdm is installed and stderr is a terminal."""

    def __init__(self) -> None:
        self.bar = Progress(total=None, desc="optikern demo", unit="optimizer")

    def __call__(self, done: int, total: int, row: dict[str, Any]) -> None:
        if "max_param_difference" in row:
            facts = (
                f"max |param diff| {row['max_param_difference']:.2e}, speedup {row['speedup']:.1f}x"
            )
        else:
            facts = f"loss {row['loss']:.4f}, test acc {row['accuracy']:.3f}"
        width = len(str(total))
        self.bar.set_total(total)
        self.bar.write(
            f"[{done:>{width}}/{total}] {row['optimizer']:<24} {facts} "
            f"({row.get('wall_time', 0.0):.2f} s)"
        )
        self.bar.update()


def _demo(args: argparse.Namespace) -> int:
    error = args.parser.error
    if not _needs("sklearn"):
        error("optikern demo needs scikit-learn: pip install 'optikern[demo]'")
    lowp = args.precision in ("float16", "bfloat16")
    if (args.precision == "bfloat16" or args.rounding_study) and not _needs("ml_dtypes"):
        error("bfloat16 params need ml_dtypes: pip install 'optikern[bfloat16]'")
    plot = None if args.plot is None else str(Path(args.plot).expanduser())
    if plot is not None:
        if args.compare_numpy:
            error("argument --plot: not available with --compare-numpy (it has no loss curves)")
        if not _needs("matplotlib"):
            error("argument --plot: needs matplotlib: pip install matplotlib (or 'optikern[demo]')")
    elif not (args.no_plot or args.compare_numpy) and _needs("matplotlib"):
        from ._bench import runner

        plot = str(runner.default_output_dir("demo") / "losses.png")
    if plot is not None:
        folder = Path(plot).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            error(f"argument --plot: cannot create {str(folder)!r}: {e.strerror}")

    from . import demo

    progress = _DemoProgress()
    with progress.bar:
        if args.rounding_study:
            progress.bar.write(
                f"Adam at a small lr, {args.epochs} epochs: float32 params, then bfloat16 params "
                "without float32 masters, rounded to nearest and stochastically"
            )
            rows = demo.rounding_study(
                epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, progress=progress
            )
        elif args.compare_numpy:
            nesterov = " (not SGD+Nesterov: the NumPy baseline has none)"
            progress.bar.write(
                f"each optimizer trained twice ({args.epochs} epochs): optikern and careful NumPy"
                + (nesterov if "SGD+Nesterov" in args.optimizers else "")
            )
            comparison = demo.numpy_comparison(
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                optimizers=args.optimizers,
                progress=progress,
            )
        else:
            storage = args.precision or args.dtype
            masters = ", float32 masters" if lowp and not args.no_master_weights else ""
            progress.bar.write(
                f"training a 64-64-10 MLP on scikit-learn's digits: {len(args.optimizers)} "
                f"optimizer(s), {args.epochs} epochs, batch {args.batch_size}, {storage} "
                f"params{masters}"
            )
            rows = demo.run_demo(
                epochs=args.epochs,
                batch_size=args.batch_size,
                dtype=args.dtype,
                optimizers=args.optimizers,
                seed=args.seed,
                precision=args.precision,
                rounding=args.rounding,
                master_weights=not args.no_master_weights,
                progress=progress,
            )
    if args.compare_numpy:
        print(demo.format_comparison(comparison))
        return 0
    print(demo.format_table(rows))
    if plot is not None:
        demo.plot_losses(rows, plot)
        print(f"loss curves: {plot}")
    return 0


def _add_demo(commands: argparse._SubParsersAction[_Parser]) -> None:
    from .demo import SETTINGS

    p = commands.add_parser(
        "demo",
        help="train a NumPy MLP on scikit-learn's digits with each optimizer",
        description="Train a 64-64-10 NumPy MLP on scikit-learn's digits with each optimizer; "
        "print a line per optimizer as it finishes, then the table (final loss, test accuracy, "
        "time in optimizer steps). Needs scikit-learn: pip install 'optikern[demo]'.",
        formatter_class=_Formatter,
    )
    p.add_argument("--epochs", type=_positive_int, default=30, metavar="N", help="epochs")
    p.add_argument(
        "--batch-size", type=_positive_int, default=64, metavar="N", help="minibatch size"
    )
    p.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32", help="params and compute"
    )
    p.add_argument(
        "--optimizers",
        type=_names("optimizer", list(SETTINGS)),
        default="all",
        metavar="LIST",
        help=f"comma-separated subset of {', '.join(SETTINGS)}, or all",
    )
    p.add_argument("--seed", type=_non_negative_int, default=0, help="data split and weights")
    p.add_argument(
        "--precision",
        choices=["float32", "float64", "float16", "bfloat16"],
        default=None,
        help="param storage, instead of --dtype; 16-bit params keep float32 masters in the "
        "optimizer (bfloat16 needs ml_dtypes) (default: --dtype)",
    )
    p.add_argument(
        "--rounding",
        choices=["nearest", "stochastic"],
        default="nearest",
        help="how 16-bit params are rounded",
    )
    p.add_argument(
        "--no-master-weights",
        action="store_true",
        help="16-bit params without float32 master copies (pure 16-bit training)",
    )
    plotting = p.add_mutually_exclusive_group()
    plotting.add_argument(
        "--plot",
        metavar="PNG",
        help="write the loss curves to this PNG file (needs matplotlib, which 'optikern[demo]' "
        "installs) (default: with matplotlib installed, losses.png in "
        "$XDG_CACHE_HOME/optikern/demo, else ~/.cache/optikern/demo)",
    )
    plotting.add_argument("--no-plot", action="store_true", help="do not write the loss curves")
    study = p.add_mutually_exclusive_group()
    study.add_argument(
        "--compare-numpy",
        action="store_true",
        help="train each optimizer with optikern and with careful NumPy: difference, speedup",
    )
    study.add_argument(
        "--rounding-study",
        action="store_true",
        help="Adam, small lr, bfloat16 params without masters: nearest vs stochastic rounding "
        "(needs ml_dtypes)",
    )
    p.set_defaults(run=_demo, parser=p)


# -- optikern bench


def _bench(args: argparse.Namespace) -> int:
    import time

    from ._bench import runner, workloads

    error = args.parser.error
    if args.bytes_per_param:
        return _bytes_per_param(args)
    names = list(workloads.workloads(args.sizes))
    if args.workloads is not None:
        for name in args.workloads:
            if name not in names:
                error(
                    "argument --workloads: "
                    + _unknown("workload", name, names, " (the '1 x N' ones follow --sizes)")
                )
    if args.json is not None:
        json_path = Path(args.json).expanduser()
    else:
        output = Path(args.output).expanduser() if args.output else runner.default_output_dir()
        json_path = output / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        option = "--json" if args.json is not None else "--output"
        error(f"argument {option}: cannot create {str(json_path.parent)!r}: {e.strerror}")

    meta = runner.metadata()  # before the run changes the thread counts
    rows = runner.run(
        sizes=args.sizes,
        optimizers=args.optimizers,
        dtypes=args.dtypes,
        threads=args.threads,
        shapes=args.workloads,
        budget=args.budget,
    )
    print(runner.format_rows(rows))
    settings = {
        "sizes": args.sizes,
        "optimizers": args.optimizers,
        "dtypes": args.dtypes,
        "threads": args.threads,
        "workloads": args.workloads or names,
        "budget": args.budget,
    }
    runner.save(rows, json_path, settings, meta)
    print(f"\nJSON: {json_path}")
    if not args.no_plot:
        png = json_path.with_suffix(".png")
        if not any(r["workload"].startswith("1 x") for r in rows):
            print("plot: skipped (it plots the single-tensor '1 x N' workloads; none ran)")
        elif runner.plot(rows, png):
            print(f"plot: {png}")
        else:
            print("plot: skipped (needs matplotlib: pip install matplotlib)")
    return 0


def _bytes_per_param(args: argparse.Namespace) -> int:
    from ._bench import formats

    print("AdamW state memory per model size (kept: the moments, and the master if any)\n")
    print(formats.memory_table())
    for size in args.sizes:
        for threads in args.threads:
            print(f"\nAdamW, {size:.0e} params, {threads} thread(s)")
            print(format_table(formats.TIME_HEADER, formats.time_rows(size, threads, args.budget)))
    return 0


def _add_bench(commands: argparse._SubParsersAction[_Parser]) -> None:
    from ._bench import runner
    from ._bench.workloads import CONFIGS

    labels = [c.label for c in CONFIGS]
    p = commands.add_parser(
        "bench",
        help="time every optimizer against NumPy and torch",
        description="Time each optimizer step (optikern, careful and naive NumPy, torch.optim "
        "when installed, the memory-bandwidth ceiling) on each workload, dtype and thread "
        "count; print a table and write a JSON file (every time with its spread, and the "
        "machine) and a PNG. See benchmarks/README.md for the columns.",
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default="1e3,1e5,1e7",
        metavar="LIST",
        help="element counts of the single-tensor workloads ('1 x N')",
    )
    p.add_argument(
        "--optimizers",
        type=_names("optimizer", labels),
        default="SGD+momentum,RMSprop,Adam",
        metavar="LIST",
        help=f"comma-separated subset of {', '.join(labels)}, or all",
    )
    p.add_argument(
        "--dtypes",
        type=_bench_dtypes,
        default="float32",
        metavar="LIST",
        help="comma-separated subset of float32, float64 (16-bit params are not benchmarked)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default="1,2",
        metavar="LIST",
        help="comma-separated thread counts",
    )
    p.add_argument(
        "--workloads",
        type=_items,
        metavar="LIST",
        help="comma-separated subset of the workloads: '1 x N' for each of --sizes, "
        "'1000 x 1e3', 'ResNet-50' (default: all of them)",
    )
    p.add_argument(
        "--budget",
        type=_positive_float,
        default=0.3,
        metavar="SECONDS",
        help="time spent on each measurement",
    )
    p.add_argument(
        "--output",
        metavar="DIR",
        help="folder for the results, <date>-<time>.json and .png (default: "
        f"$XDG_CACHE_HOME/optikern/bench, else ~/.cache/optikern/bench; here "
        f"{runner.default_output_dir()})",
    )
    p.add_argument(
        "--json", metavar="FILE", help="write the JSON to this file instead (the PNG beside it)"
    )
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument(
        "--bytes-per-param",
        action="store_true",
        help="instead: AdamW's memory and step time per param format (float32, bfloat16, "
        "float16) and state format (float32, 8-bit) at --sizes (try 1e8) and --threads, "
        "with each step's share of a stream of the same bytes",
    )
    p.set_defaults(run=_bench, parser=p)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="optikern's command line: 'optikern demo' trains a NumPy MLP with each "
        "optimizer, 'optikern bench' times them against NumPy and torch; "
        "'optikern COMMAND --help' shows a command's options.",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"{PROG} {optikern.__version__}")
    p.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory")
    p.add_argument("--include", action="store_true", help="print the C++ include directory")
    commands = p.add_subparsers(dest="command", title="commands", metavar="{demo,bench}")
    _add_demo(commands)
    _add_bench(commands)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.cmake_dir or args.include:
        print(optikern.get_cmake_dir() if args.cmake_dir else optikern.get_include())
        return 0
    if args.command is None:
        p.print_help()
        return 2
    try:
        return int(args.run(args))
    except MemoryError as e:  # a size that passed the check above but not with every array
        print(f"optikern: error: out of memory ({e or 'an allocation failed'})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
