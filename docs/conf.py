"""Sphinx configuration for the pushcollector documentation."""

import os
import runpy
import sys

# Document the package from this checkout rather than any installed copy.
sys.path.insert(0, os.path.abspath(".."))

project = "pushcollector"
author = "pushcollector contributors"
copyright = "2026, pushcollector contributors"
# The package's version, from the one module that holds it, run on its own
# (as setup.py reads it) rather than imported with the package.
version = runpy.run_path(
    os.path.join(
        os.path.dirname(__file__), "..", "pushcollector", "_impl", "version.py"
    )
)["VERSION"]
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
