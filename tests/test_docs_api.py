"""Every public name (each module's ``__all__``) has a place on the API pages in docs/: an
``autoclass``/``autofunction`` naming it, or an ``automodule`` whose ``:members:`` lists it
(or lists everything)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "optikern"
MODULES = {
    "optikern": "__init__.py",
    "optikern.functional": "functional.py",
    "optikern.lr_scheduler": "lr_scheduler.py",
    "optikern.torch": "torch.py",
    "optikern.distributed": "distributed.py",
}
AUTOMODULE = re.compile(r"\.\. automodule:: (\S+)\n\s+:members:(.*)")


def public_names(source: Path) -> list[str]:
    """``__all__`` read from the source, so optional dependencies (torch, mpi4py) are not
    imported."""
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{source} has no __all__")


def documented(module: str, name: str, docs: str) -> bool:
    if re.search(rf"\.\. auto\w+:: {re.escape(module)}\.{re.escape(name)}\b", docs):
        return True
    for match in AUTOMODULE.finditer(docs):
        members = [m.strip() for m in match.group(2).split(",") if m.strip()]
        if match.group(1) == module and (not members or name in members):
            return True
    return False


@pytest.mark.parametrize("module", list(MODULES))
def test_every_public_name_is_on_an_api_page(module: str) -> None:
    docs = "\n".join(page.read_text() for page in (ROOT / "docs").glob("*.md"))
    missing = [
        name
        for name in public_names(PACKAGE / MODULES[module])
        if not documented(module, name, docs)
    ]
    assert not missing, f"{module}: not on any API page in docs/: {missing}"
