"""``python -m pushcollector``: the ``pushcollector`` command."""

import sys

from ._impl.cli import main

sys.exit(main())
