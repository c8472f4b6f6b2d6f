"""The plugin as a plugin: options, markers, skips, failing steps, xdist, reports, teardown.

The example project holds a two-step suite of its own, so these tests also prove that
the plugin knows nothing of the field-service migration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from pytest_migration.redact import password_of

MINI_SUITE = '''
import os
import sqlite3

import sqlalchemy as sa

from pytest_migration.steps import StepRegistry
from pytest_migration.suite import MigrationSuite

registry = StepRegistry(phases=("prepare", "load"))


def log(name):
    if os.environ.get("MINI_LOG"):
        with open(os.environ["MINI_LOG"], "a") as file:
            file.write(name + "\\n")


@registry.step(phase="prepare")
def connect(context):
    """Connect to the target."""
    log("connect")
    with context.target.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


@registry.step(phase="load", requires=["connect"])
def load(context):
    """Pretend to load."""
    log("load")
    if os.environ.get("MINI_FAIL") == "load":
        raise RuntimeError("load broke on purpose")


def make_source(directory, rows, timezone):
    path = directory / "mini.db"
    sqlite3.connect(path).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return f"sqlite:///{path}"


SUITE = MigrationSuite(
    name="mini", metadata=sa.MetaData(), tables=lambda timezone: (), steps=registry, make_source=make_source
)
'''

MINI_TESTS = '''
import os

import pytest


def test_plain():
    pass


@pytest.mark.relationship
@pytest.mark.parametrize("n", range(4))
def test_loaded(load, n):
    assert load.status == "passed"


def test_connected(connect, migration_plugin):
    provider = migration_plugin.session.provider
    if provider is not None and os.environ.get("MINI_SERVER"):
        with open(os.environ["MINI_SERVER"], "w") as file:
            file.write(f"{provider.pid} {provider.data_dir}")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(mini_suite=MINI_SUITE, test_mini=MINI_TESTS)
    pytester.makeini("[pytest]\nmigration_suite = mini_suite:SUITE\npythonpath = .\naddopts = --strict-markers\n")
    return pytester


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([
        "*database migration (pytest-migration):*",
        "*--migrate*provision databases, run the migration steps in order*",
        "*--verify-only*",
        "*--source-url=URL*",
        "*--target-url=URL*",
        "*--db-backend={auto,docker,local}*",
        "*--dataset-rows=N*",
        "*--migration-report=PATH*",
        "*--keep-databases*",
        "*--allow-writes*",
        "*--fresh*",
        "*migration_timezone*",
    ])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    for marker in ("migration", "preparation", "integrity", "relationship", "functional", "constraint",
                   "performance", "stress", "rollback", "integration"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{marker}:*"])


def test_without_migrate_database_tests_are_skipped_naming_migrate(project: pytest.Pytester) -> None:
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=5)
    result.stdout.fnmatch_lines(["*SKIPPED*needs a migrated database: run with --migrate*"])


def test_migration_marker_is_added_to_tests_that_need_a_database(project: pytest.Pytester) -> None:
    result = project.runpytest("-m", "migration", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*5/6 tests collected (1 deselected)*"])


def test_bad_option_values_fail_before_any_database_starts(project: pytest.Pytester) -> None:
    result = project.runpytest("--migrate", "--dataset-rows", "lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dataset-rows*'lots' is not a whole number*"])


def test_a_failing_step_errors_every_test_that_needs_it_naming_it(
    project: pytest.Pytester, empty_target_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINI_FAIL", "load")
    result = project.runpytest("--migrate", "--target-url", empty_target_url)
    result.assert_outcomes(passed=2, errors=4)
    result.stdout.fnmatch_lines(["*migration step 'load' failed: RuntimeError: load broke on purpose*"])


@pytest.mark.parametrize(("failing", "outcomes"), [("", {"passed": 6}), ("load", {"passed": 2, "errors": 4})],
                         ids=["after-success", "after-a-failed-step"])
def test_provisioned_server_is_gone_after_the_session(project: pytest.Pytester, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch, failing: str,
                                                      outcomes: dict[str, int]) -> None:
    record = tmp_path / "server.txt"
    monkeypatch.setenv("MINI_SERVER", str(record))
    monkeypatch.setenv("MINI_FAIL", failing)
    result = project.runpytest_subprocess("--migrate", "--db-backend", "auto")
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines(["*migration databases: local (embedded PostgreSQL*no Docker engine*"])
    pid, data_dir = record.read_text().split()
    assert not Path(f"/proc/{pid}").exists(), f"postmaster {pid} is still running"
    assert not Path(data_dir).exists(), f"data directory {data_dir} was left behind"


def test_under_xdist_steps_run_once_in_the_controller(project: pytest.Pytester, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "steps.log"
    monkeypatch.setenv("MINI_LOG", str(log))
    result = project.runpytest_subprocess("--migrate", "-n", "2")
    result.assert_outcomes(passed=6)
    assert log.read_text().splitlines() == ["connect", "load"]


def test_report_has_the_documented_shape_and_no_password(
    project: pytest.Pytester, empty_target_url: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    source = tmp_path / "given.db"
    sqlite3.connect(source).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    result = project.runpytest_subprocess(
        "--migrate", "--source-url", f"sqlite:///{source}", "--target-url", empty_target_url,
        "--migration-report", str(report_path), "-v",
    )
    result.assert_outcomes(passed=6)
    report = json.loads(report_path.read_text())
    assert set(report) >= {"version", "source", "target", "tables", "steps", "checks"}
    assert report["version"] == 1
    assert report["source"] == f"sqlite:///{source}"
    assert ":***@" in report["target"]
    assert [step["name"] for step in report["steps"]] == ["connect", "load"]
    assert report["checks"]["passed"] == 5  # test_plain needs no database: no check of the migration
    password = password_of(empty_target_url)
    assert password
    everything = "\n".join([*result.outlines, *result.errlines, report_path.read_text()])
    assert password not in everything


def test_kept_databases_stay_up_and_say_how_to_connect(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--migrate", "--keep-databases")
    result.assert_outcomes(passed=6)
    hint = next(line for line in result.outlines if line.startswith("connect without the password: psql -h "))
    socket_dir = Path(hint.split(" -h ")[1].split()[0])
    postmaster = socket_dir.parent / "data" / "postmaster.pid"
    pid = int(postmaster.read_text().split()[0])
    try:
        assert Path(f"/proc/{pid}").exists(), "the kept server is not running"
        assert not any(":***@" not in line and "postgresql+psycopg://" in line for line in result.outlines)
    finally:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 60  # a bound, not a hang, should the server linger as a zombie
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(socket_dir.parent)
