"""The session's last lines tell the truth: skipped checks are counted with their reason,
a failed verdict makes pytest's own final line red, and the plugin runs without xdist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SUITE = '''
import sqlalchemy as sa

from pytest_migration.steps import StepRegistry
from pytest_migration.suite import MigrationSuite

registry = StepRegistry(phases=("load",))


@registry.step(phase="load")
def load(context):
    """Connect to the target."""
    with context.target.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


SUITE = MigrationSuite(name="few", metadata=sa.MetaData(), tables=lambda timezone: (), steps=registry)
'''

CHECKS = '''
def test_plain():
    pass


def test_loaded(load):
    pass


def test_writes(target_transaction):
    pass
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(few_suite=SUITE, test_few=CHECKS)
    (pytester.path / "legacy.db").write_bytes(b"")  # an empty SQLite file: this suite reads no table
    pytester.makeini("[pytest]\nmigration_suite = few_suite:SUITE\npythonpath = .\n"
                     "migration_source_url = sqlite:///legacy.db\n")
    return pytester


def test_checks_skipped_for_lack_of_writes_are_counted_with_their_reason(
    project: pytest.Pytester, empty_target_url: str, tmp_path: Path
) -> None:
    result = project.runpytest_subprocess("--migrate", "-p", "no:xdist", "--target-url", empty_target_url,
                                          f"--migration-report={tmp_path / 'report.json'}")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "*1 migration checks skipped: this check writes to the target, which was given by URL*--allow-writes*",
        "*--fail-on-skip makes skipped migration checks fail the session*",
    ])
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["checks"] == {"passed": 1, "skipped": 1, "failed": 0, "error": 0}  # test_plain is no check of the migration


def test_fail_on_skip_makes_the_last_line_red(project: pytest.Pytester, empty_target_url: str) -> None:
    result = project.runpytest_subprocess("--migrate", "--fail-on-skip", "--target-url", empty_target_url)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, skipped=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED pytest-migration::skipped - 1 migration checks were skipped*"])


def test_allow_writes_runs_the_writing_checks(project: pytest.Pytester, empty_target_url: str) -> None:
    result = project.runpytest_subprocess("--migrate", "--fail-on-skip", "--allow-writes",
                                          "--target-url", empty_target_url)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)

