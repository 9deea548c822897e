"""tests/prerequisites.py: tests left out for lack of PostgreSQL or Chromium,
and the coverage gate.

Each test runs pytest, with pytest-cov and a gate of 100%, on a small
project where PostgreSQL is missing (PG_BINDIR names a directory that has
no server binaries), in a process of its own: pytest-cov measures a whole
process.
"""

import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

GATE = ["--cov=covered", "--cov-report=term-missing", "--cov-fail-under=100"]


@pytest.fixture
def project(pytester, monkeypatch, tmp_path):
    """A project of two tests, one of them marked ``postgres``, each the only
    one to reach its half of ``covered.py``; PostgreSQL is missing."""
    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "no-postgresql-here"))
    monkeypatch.delenv("PUSHCOLLECTOR_REQUIRE_POSTGRES", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))
    # This suite's coverage would follow the process (setup.cfg's patch =
    # subprocess), and measure it along with the project's own.
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    monkeypatch.delenv("COVERAGE_PROCESS_START", raising=False)
    pytester.makeconftest('pytest_plugins = ["tests.prerequisites"]\n')
    pytester.makepyfile(covered=textwrap.dedent("""
        def on_postgresql():
            return "postgresql"

        def anywhere():
            return "anywhere"
    """))
    pytester.makepyfile(test_covered=textwrap.dedent("""
        import pytest

        import covered

        @pytest.mark.postgres
        def test_on_postgresql():
            assert covered.on_postgresql() == "postgresql"

        def test_anywhere():
            assert covered.anywhere() == "anywhere"
    """))
    return pytester


def run(pytester, *arguments):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *GATE, *arguments)


def test_a_test_skipped_for_lack_of_postgres_turns_the_gate_off(project):
    result = run(project, "-rs")

    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "covered.py *",
            "*= coverage gate off =*",
            "The coverage gate (--cov-fail-under=100) is off: 1 test was skipped"
            " for lack of PostgreSQL, and the code that only such tests reach"
            " would count as untested. It holds where every test runs*",
            "SKIPPED [[]1[]] *: PostgreSQL cannot run: *no-postgresql-here has no"
            " executable initdb, pg_ctl, postgres",
        ]
    )
    result.stdout.no_fnmatch_line("*Required test coverage*")


def test_where_postgres_is_required_its_test_fails_and_the_gate_holds(
    project, monkeypatch
):
    monkeypatch.setenv("PUSHCOLLECTOR_REQUIRE_POSTGRES", "1")

    result = run(project)

    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*PUSHCOLLECTOR_REQUIRE_POSTGRES=1, but PostgreSQL cannot run: *",
            "FAIL Required test coverage of 100% not reached. Total coverage: *",
        ]
    )
    result.stdout.no_fnmatch_line("*coverage gate off*")


def test_deselecting_the_tests_that_need_postgres_turns_the_gate_off(project):
    result = run(project, "-m", "not postgres")

    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "The coverage gate (--cov-fail-under=100) is off: 1 test needing"
            " PostgreSQL was deselected, and the code *"
        ]
    )


def test_the_gate_holds_when_other_tests_are_left_out(project):
    # Coverage falls short just as much, but for no missing prerequisite.
    project.makepyfile(test_covered=textwrap.dedent("""
        import covered

        def test_on_postgresql_but_not_marked():
            assert covered.on_postgresql() == "postgresql"

        def test_anywhere():
            assert covered.anywhere() == "anywhere"
    """))

    result = run(project, "-k", "anywhere")

    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["FAIL Required test coverage of 100% not reached. Total coverage: *"]
    )
    result.stdout.no_fnmatch_line("*coverage gate off*")


def test_the_gate_holds_when_nothing_is_left_out(project):
    project.makepyfile(test_covered=textwrap.dedent("""
        import covered

        def test_everything():
            assert (covered.on_postgresql(), covered.anywhere()) == (
                "postgresql",
                "anywhere",
            )
    """))

    result = run(project)

    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["Required test coverage of 100% reached. *"])
    result.stdout.no_fnmatch_line("*coverage gate off*")


def test_the_fixtures_mark_the_tests_that_use_them(project):
    project.makeconftest(
        'pytest_plugins = ["tests.prerequisites", "tests.server.conftest"]\n'
    )
    project.makepyfile(test_covered=textwrap.dedent("""
        import covered

        def test_server(postgres_server):
            pass

        def test_url(postgres_url):
            pass

        def test_any_database(database_url):
            pass

        def test_page(browser):
            pass

        def test_nothing():
            assert covered.anywhere() == "anywhere"
    """))

    needing_postgres = run(project, "--co", "-q", "-m", "postgres")
    needing_chromium = run(project, "--co", "-q", "-m", "browser")
    skipped = run(project, "-rs", "-m", "not browser")

    needing_postgres.stdout.fnmatch_lines(
        [
            "test_covered.py::test_server",
            "test_covered.py::test_url",
            "test_covered.py::test_any_database[[]postgresql[]]",
            "3/6 tests collected (3 deselected)*",
        ]
    )
    needing_chromium.stdout.fnmatch_lines(
        ["test_covered.py::test_page", "1/6 tests collected (5 deselected)*"]
    )
    skipped.assert_outcomes(passed=2, skipped=3, deselected=1)
    assert skipped.ret == 0
    skipped.stdout.fnmatch_lines(
        [
            "The coverage gate (--cov-fail-under=100) is off: 3 tests were skipped"
            " for lack of PostgreSQL, 1 test needing Chromium was deselected, and *"
        ]
    )
