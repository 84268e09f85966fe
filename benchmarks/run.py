"""Run the benchmark suite: ``python benchmarks/run.py [options]`` = ``optikern bench``.

See benchmarks/README.md for what each number means.
"""

from __future__ import annotations

import sys

from optikern._cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
