"""Plot a saved benchmark: ``python benchmarks/plot.py results/<run>.json [out.png]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optikern._bench import runner

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="JSON file written by optikern bench --json")
    parser.add_argument("target", type=Path, nargs="?", help="PNG to write (default: beside it)")
    args = parser.parse_args()
    try:
        rows = json.loads(args.source.read_text())["rows"]
    except (OSError, ValueError, KeyError) as error:
        parser.error(f"{args.source}: not a benchmark JSON file ({error})")
    sys.exit(0 if runner.plot(rows, args.target or args.source.with_suffix(".png")) else 1)
