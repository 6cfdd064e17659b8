"""Sphinx configuration for the Kettle documentation."""

from __future__ import annotations

import kettle

project = "Kettle"
author = "Kettle developers"
copyright = "Kettle developers"  # noqa: A001 - the name Sphinx reads
release = kettle.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]

# Cross references that cannot be resolved are not errors (no intersphinx: the
# build needs no network). Every other warning is, with `sphinx-build -W`.
nitpicky = False

# -- MyST --------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon --------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML ----------------------------------------------------------------------------
html_theme = "furo"
html_title = f"Kettle {release}"
html_static_path: list[str] = []
pygments_style = "friendly"
pygments_dark_style = "monokai"
