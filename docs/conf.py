"""Sphinx configuration for the pushcollector documentation."""

import os
import sys

# Document the package from this checkout rather than any installed copy.
sys.path.insert(0, os.path.abspath(".."))

project = "pushcollector"
author = "pushcollector contributors"
copyright = "2026, pushcollector contributors"
version = "1.5.0"
release = version

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# Docstrings are written in Google style.
napoleon_google_docstring = True
napoleon_numpy_docstring = False

autodoc_member_order = "bysource"

master_doc = "index"
exclude_patterns = ["_build"]

html_theme = "alabaster"
