"""The command line's one table formatter and its progress bar (tqdm when installed and on a
terminal, plain lines otherwise)."""

from __future__ import annotations

import sys

import pytest

from optikern._console import Progress, format_table


def test_table_aligns_names_left_and_numbers_right() -> None:
    text = format_table(["name", "kind", "time"], [["Adam", "a", "1.5 us"], ["SGD", "bb", "12 ms"]])
    assert text.splitlines() == [
        "name  kind    time",
        "------------------",
        "Adam     a  1.5 us",
        "SGD     bb   12 ms",
    ]
    assert format_table(["name", "kind"], [["SGD", "x"]], left=2).splitlines()[2] == "SGD   x"


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_writes_its_lines_without_a_terminal(
    with_tqdm: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if with_tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    with Progress(total=None, desc="demo") as bar:
        bar.set_total(2)
        for label in ("first", "second"):
            bar.set_postfix_str(label)
            bar.write(f"{label} done")
            bar.update()
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "first done\nsecond done\n"  # no bar: stderr is not a terminal
