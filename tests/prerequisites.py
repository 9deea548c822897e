"""What some tests need beyond Python, and the coverage gate without it.

Some tests need a PostgreSQL server's binaries (Debian's ``postgresql``),
others Chromium (Debian's ``chromium``). They are marked ``postgres`` and
``browser``: by hand, or by the fixtures they use (``postgres_server`` and
the fixtures built on it, the ``postgresql`` parameter of ``database_url``
and ``service``, ``browser``), so that ``-m "not postgres and not browser"``
selects the tests that need neither.

Where one is missing, its tests are skipped, with the reason in pytest's
summary; where its variable is 1 (``PUSHCOLLECTOR_REQUIRE_POSTGRES``,
``PUSHCOLLECTOR_REQUIRE_BROWSER``, as ``.ci/run`` sets them) they fail
instead.

The coverage gate (``--cov-fail-under`` in setup.cfg) is only right when
every test ran: the code that only those tests reach would count as
untested. When tests are skipped or deselected for lack of a prerequisite,
the gate is turned off, and the summary says so and why. Loaded by
tests/conftest.py.
"""

import collections
import os
from typing import Callable, NamedTuple, Optional, Tuple

import pytest

from .server.browser import find_chromium
from .server.postgres import unavailable_reason


class Prerequisite(NamedTuple):
    """Something a test may need that the machine may not have."""

    #: The marker of the tests that need it.
    marker: str
    #: What it is called in messages.
    name: str
    #: Fixtures that mark the tests using them (directly or through other
    #: fixtures) with ``marker``.
    fixtures: Tuple[str, ...]
    #: Where set to 1, its tests fail rather than skip if it is missing.
    required_by: str
    #: Returns why it cannot be used here, or None if it can.
    missing: Callable[[], Optional[str]]

    def is_required(self) -> bool:
        """Whether its tests must fail, rather than skip, where it is missing."""
        return os.environ.get(self.required_by) == "1"

    def require(self) -> None:
        """Skip the test if it is missing, or fail it if it is required."""
        why = self.missing()
        if why is not None:
            self.leave_out(why)

    def leave_out(self, why: str) -> None:
        """Skip the test because it is missing, or fail it if it is required."""
        if self.is_required():
            pytest.fail("%s=1, but %s" % (self.required_by, why), pytrace=False)
        pytest.skip(why)


def _postgres_missing():
    reason = unavailable_reason()
    return None if reason is None else "PostgreSQL cannot run: %s" % reason


def _chromium_missing():
    if find_chromium() is None:
        return "Chromium is missing: apt-get install chromium"
    return None


POSTGRES = Prerequisite(
    marker="postgres",
    name="PostgreSQL",
    fixtures=("postgres_server",),
    required_by="PUSHCOLLECTOR_REQUIRE_POSTGRES",
    missing=_postgres_missing,
)

BROWSER = Prerequisite(
    marker="browser",
    name="Chromium",
    fixtures=("browser",),
    required_by="PUSHCOLLECTOR_REQUIRE_BROWSER",
    missing=_chromium_missing,
)

PREREQUISITES = (POSTGRES, BROWSER)


class CoverageGate:
    """Turns pytest-cov's fail-under gate off once a test is left out for
    lack of a prerequisite, and says why at the end."""

    def __init__(self, config):
        self.config = config
        # Prerequisite name -> how many tests were left out for lack of it.
        self.skipped = collections.Counter()
        self.deselected = collections.Counter()
        # The gate (fail-under) before it was turned off; None while it is
        # on, or if there was none.
        self.fail_under_before = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items):
        # First, so that -m deselects by these markers too.
        for item in items:
            fixtures = getattr(item, "fixturenames", ())
            for prerequisite in PREREQUISITES:
                if any(name in fixtures for name in prerequisite.fixtures):
                    item.add_marker(prerequisite.marker)

    def pytest_deselected(self, items):
        for item in items:
            for prerequisite in PREREQUISITES:
                if item.get_closest_marker(prerequisite.marker):
                    self.deselected[prerequisite.name] += 1
                    self.turn_off()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        # Before the fixtures: a test marked by hand has no fixture to
        # skip it, and a skip here is one this gate knows about.
        for prerequisite in PREREQUISITES:
            if not item.get_closest_marker(prerequisite.marker):
                continue
            why = prerequisite.missing()
            if why is None:
                continue
            if not prerequisite.is_required():
                self.skipped[prerequisite.name] += 1
                self.turn_off()
            prerequisite.leave_out(why)

    def turn_off(self):
        """Turn the fail-under gate off, if it is on."""
        # pytest-cov registers its plugin as "_cov" (its own cov fixture
        # finds it so) and reads options.cov_fail_under once the tests have
        # run: None there means no gate.
        coverage = self.config.pluginmanager.getplugin("_cov")
        if coverage is None or self.config.getoption("no_cov"):
            return
        if coverage.options.cov_fail_under:
            self.fail_under_before = coverage.options.cov_fail_under
            coverage.options.cov_fail_under = None

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter):
        # After pytest-cov's report, which this explains.
        if self.fail_under_before is None:
            return
        left_out = [
            "%s skipped for lack of %s" % (_tests_were(count), name)
            for name, count in self.skipped.items()
        ] + [
            "%s needing %s %s deselected"
            % (_tests(count), name, "was" if count == 1 else "were")
            for name, count in self.deselected.items()
        ]
        terminalreporter.write_sep("=", "coverage gate off")
        terminalreporter.write_line(
            "The coverage gate (--cov-fail-under=%g) is off: %s, and the code"
            " that only such tests reach would count as untested. It holds where"
            ' every test runs (README.rst, "Running the tests").'
            % (self.fail_under_before, ", ".join(left_out))
        )


def _tests(count):
    return "1 test" if count == 1 else "%d tests" % count


def _tests_were(count):
    return "1 test was" if count == 1 else "%d tests were" % count


def pytest_configure(config):
    for prerequisite in PREREQUISITES:
        config.addinivalue_line(
            "markers",
            "%s: needs %s; skipped where it is missing, unless %s=1"
            % (prerequisite.marker, prerequisite.name, prerequisite.required_by),
        )
    config.pluginmanager.register(CoverageGate(config), "pushcollector-coverage-gate")
