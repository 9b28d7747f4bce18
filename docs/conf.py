"""Sphinx configuration of the immunoresponse documentation.

Theme: pydata-sphinx-theme (the scientific-Python ecosystem's: NumPy, pandas, scikit-learn's
look). Markdown pages through MyST; API pages from the numpydoc docstrings; an executed gallery
of examples (sphinx-gallery); the reference of every key generated from the code's tables.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "examples"))  # the examples' small helper, _show

os.environ.setdefault("MPLBACKEND", "Agg")

project = "immunoresponse"
author = "the immunoresponse developers"
copyright = "2026, the immunoresponse developers"  # noqa: A001 - Sphinx's name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",  # the command reference, from predictor.cli.parser.build_parser
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples/*.py", "examples/README.txt", "auto_examples/*.ipynb", "auto_examples/*.py"]
myst_heading_anchors = 3

html_theme = "pydata_sphinx_theme"
html_title = "immunoresponse"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

autodoc_default_options = {
    "members": True,
    # scikit-learn's generated methods (metadata routing, params) are documented by scikit-learn
    "exclude-members": "set_fit_request,set_predict_request,set_score_request,set_transform_request,"
    "get_metadata_routing,get_params,set_params,set_output",
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(__init__|_show)\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "run_stale_examples": True,
}


# The reference of every key, from the parsers' own tables (before Sphinx looks for sources).
from predictor.config.reference import write_reference  # noqa: E402

write_reference(DOCS / "reference" / "keys.rst")
