"""The ``optikern`` console command: ``optikern demo``, ``optikern bench``,
``optikern --cmake-dir``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.rounding_study:
        print(demo.format_table(demo.rounding_study(epochs=args.epochs, seed=args.seed)))
        return 0
    if args.compare_numpy:
        print(
            f"{'optimizer':<14} {'max |param diff|':>17} {'acc':>6} {'NumPy acc':>9} {'speedup':>8}"
        )
        for r in demo.numpy_comparison(epochs=args.epochs, seed=args.seed):
            print(
                f"{r['optimizer']:<14} {r['max_param_difference']:>17.2e} "
                f"{r['accuracy']:>6.3f} {r['numpy_accuracy']:>9.3f} {r['speedup']:>7.1f}x"
            )
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
    if args.plot:
        saved = demo.plot_losses(rows, args.plot)
        print(f"loss curves: {args.plot}" if saved else "loss curves: needs matplotlib")
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
    p.add_argument("--plot", metavar="PNG", help="write the loss curves to this PNG file")
    p.add_argument(
        "--compare-numpy",
        action="store_true",
        help="train each optimizer with optikern and with careful NumPy: difference, speedup",
    )
    p.add_argument(
        "--rounding-study",
        action="store_true",
        help="Adam, small lr, bfloat16 params without masters: nearest vs stochastic rounding",
    )
    p.set_defaults(run=_demo)


def _bench(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ._bench import runner

    rows = runner.run(
        sizes=[int(float(s)) for s in args.sizes.split(",")],
        optimizers=None if args.optimizers == "all" else args.optimizers.split(","),
        dtypes=args.dtypes.split(","),
        threads=[int(t) for t in args.threads.split(",")],
        shapes=args.workloads.split(",") if args.workloads else None,
        budget=args.budget,
    )
    print(runner.format_rows(rows))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = Path(args.json or f"benchmarks/results/{stamp}.json")
    runner.save(rows, json_path)
    print(f"\nJSON: {json_path}")
    if not args.no_plot:
        png = json_path.with_suffix(".png")
        print(f"plot: {png}" if runner.plot(rows, png) else "plot: skipped (no matplotlib)")
    return 0


def _add_bench(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("bench", help="time every optimizer against NumPy and torch")
    p.add_argument("--sizes", default="1e3,1e5,1e7", help="single-tensor sizes")
    p.add_argument(
        "--optimizers",
        default="SGD+momentum,RMSprop,Adam",
        help="of SGD,SGD+momentum,Adagrad,RMSprop,Adam,AdamW, or 'all'",
    )
    p.add_argument("--dtypes", default="float32", help="float32,float64")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--workloads", help="subset of workload names, e.g. '1000 x 1e3,ResNet-50'")
    p.add_argument("--budget", type=float, default=0.3, help="seconds per measurement")
    p.add_argument("--json", help="output path (default benchmarks/results/<time>.json)")
    p.add_argument("--no-plot", action="store_true")
    p.set_defaults(run=_bench)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optikern", description=__doc__)
    p.add_argument("--cmake-dir", action="store_true", help="print the CMake package directory")
    p.add_argument("--include", action="store_true", help="print the C++ include directory")
    commands = p.add_subparsers(dest="command")
    _add_demo(commands)
    _add_bench(commands)
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
