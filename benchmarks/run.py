"""Run the benchmark suite: ``python benchmarks/run.py [options]`` = ``optikern bench``, except
that from a checkout the results go to ``benchmarks/results/`` beside this file unless
``--output`` or ``--json`` says otherwise.

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import sys
from pathlib import Path

from optikern._cli import main

if __name__ == "__main__":
    results = Path(__file__).resolve().parent / "results"
    # Given first, so an --output on the command line (later) wins.
    sys.exit(main(["bench", "--output", str(results), *sys.argv[1:]]))
