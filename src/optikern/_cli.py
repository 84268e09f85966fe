"""The ``optikern`` console command: ``optikern demo``, ``optikern --cmake-dir``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.rounding_study:
        print(demo.format_table(demo.rounding_study(epochs=args.epochs, seed=args.seed)))
        return 0
    rows = demo.run_demo(
        epochs=args.epochs,
        batch_size=args.batch_size,
        dtype=args.dtype,
        optimizers=args.optimizers.split(",") if args.optimizers else None,
        seed=args.seed,
        precision=args.precision,
        rounding=args.rounding,
        master_weights=not args.no_master_weights,
    )
    print(demo.format_table(rows))
    return 0


def _add_demo(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demo", help="train a NumPy MLP on scikit-learn's digits")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--optimizers", help="comma-separated subset, e.g. Adam,SGD")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--precision",
        choices=["float32", "float64", "float16", "bfloat16"],
        default=None,
        help="param storage; 16-bit params keep float32 masters in the optimizer",
    )
    p.add_argument("--rounding", choices=["nearest", "stochastic"], default="nearest")
    p.add_argument(
        "--no-master-weights",
        action="store_true",
        help="16-bit params without float32 master copies (pure 16-bit training)",
    )
    p.add_argument(
        "--rounding-study",
        action="store_true",
        help="Adam, small lr, bfloat16 params without masters: nearest vs stochastic rounding",
    )
    p.set_defaults(run=_demo)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optikern", description=__doc__)
    p.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory")
    p.add_argument("--include", action="store_true", help="print the C++ include directory")
    commands = p.add_subparsers(dest="command")
    _add_demo(commands)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.cmake_dir or args.include:
        import optikern

        print(optikern.get_cmake_dir() if args.cmake_dir else optikern.get_include())
        return 0
    if args.command is None:
        parser().print_help()
        return 2
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
