"""Plot a saved benchmark: ``python benchmarks/plot.py results/<run>.json [out.png]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from optikern._bench import runner

if __name__ == "__main__":
    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix(".png")
    rows = json.loads(source.read_text())["rows"]
    sys.exit(0 if runner.plot(rows, target) else 1)
