"""The version of pushcollector, written here and nowhere else.

``setup.py`` and ``docs/conf.py`` run this file on its own (``runpy``) to
read it, without importing the package, whose dependencies may not be
installed yet; ``pushcollector --version`` and ``pushcollector.__version__``
import it. So it imports nothing. ``tests/test_version.py`` holds the
version the README names, the docs' and the installed metadata to it.
"""

VERSION = "1.6.0"
