"""What the command line prints: one table formatter and one progress bar, shared by
``optikern demo``, ``optikern bench`` and the scripts in benchmarks/."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, final


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Rows of already formatted cells under ``header`` and a dashed rule; the first ``left``
    columns are aligned left (names), the others right (numbers), each as wide as needed."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            f"{cell:<{width}}" if i < left else f"{cell:>{width}}"
            for i, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    head = line(header)
    return "\n".join([head, "-" * len(head), *(line(row) for row in rows)])


@final
class Progress:
    """A progress bar on stderr: tqdm's when tqdm is installed and stderr is a terminal,
    nothing otherwise. ``write`` prints a line to stderr above the bar in both cases.

    >>> with Progress(total=3, desc="bench") as bar:  # doctest: +SKIP
    ...     for job in jobs:
    ...         bar.set_postfix_str(job.label)
    ...         run(job)
    ...         bar.update()
    """

    def __init__(self, total: int | None, desc: str, unit: str = "it") -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar: Any = None
        else:
            # disable=None: no bar when stderr is not a terminal (logs, pipes, tests).
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None)

    def set_total(self, total: int) -> None:
        """The number of steps, once known (a bar made with ``total=None`` counts up)."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix_str(self, text: str) -> None:
        """What runs now, shown after the bar."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
