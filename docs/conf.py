"""Sphinx configuration: MyST pages, API pages from the NumPy-style docstrings."""

from __future__ import annotations

import optikern

project = "optikern"
author = "optikern developers"
release = optikern.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
myst_enable_extensions = ["dollarmath"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
autodoc_member_order = "bysource"
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
# The API pages of optikern.distributed build without an MPI installation.
autodoc_mock_imports = ["mpi4py"]
html_theme = "alabaster"
nitpicky = False
