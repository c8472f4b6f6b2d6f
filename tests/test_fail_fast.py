"""A bad input fails the session at once, with one message that names it and the fix.

Each case runs `pytest --migrate migration_suite` in the project, as a user would, with its
temporary folder pointed at an empty one: a session that generated a dataset or started a
server before finding the problem would leave it there.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from migration_suite import SUITE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LEGACY_SCHEMA = ROOT / "migration_suite" / "legacy_schema.sql"
FIRST_TABLE = SUITE.tables("Europe/Paris")[0]


def run_suite(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    temp = tmp_path / "temp"
    temp.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "migration_suite", *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_MIGRATION_")}, "TMPDIR": str(temp)},
    )


def assert_failed_once(result: subprocess.CompletedProcess[str], message: str, tmp_path: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert output.count(message) == 1, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert not any((tmp_path / "temp").iterdir()), "something was generated or started before the input was checked"


def legacy_file(path: Path, drop_column: tuple[str, str] | None = None, drop_table: str | None = None) -> Path:
    connection = sqlite3.connect(path)
    connection.executescript(LEGACY_SCHEMA.read_text())
    if drop_column:
        connection.execute(f'ALTER TABLE "{drop_column[0]}" DROP COLUMN "{drop_column[1]}"')
    if drop_table:
        connection.execute(f'DROP TABLE "{drop_table}"')
    connection.commit()
    connection.close()
    return path


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    source = tmp_path / "legacy.csv"
    source.write_text("id,name\n1,a\n" * 100)
    result = run_suite(tmp_path, "--migrate", "--source-url", f"sqlite:///{source}")
    assert_failed_once(result, f"{source} is not a readable SQLite database", tmp_path)


def test_a_missing_table_is_named(tmp_path: Path) -> None:
    source = legacy_file(tmp_path / "legacy.db", drop_table=FIRST_TABLE.name)
    result = run_suite(tmp_path, "--migrate", "--source-url", f"sqlite:///{source}")
    assert_failed_once(result, f"{source} has no table {FIRST_TABLE.name!r}", tmp_path)


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    column = FIRST_TABLE.source_columns[-1]
    source = legacy_file(tmp_path / "legacy.db", drop_column=(FIRST_TABLE.name, column))
    result = run_suite(tmp_path, "--migrate", "--source-url", f"sqlite:///{source}")
    assert_failed_once(result, f"table {FIRST_TABLE.name!r} of {source} has no column {column!r}", tmp_path)


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_closed_port_is_said_once(tmp_path: Path, xdist: tuple[str, ...]) -> None:
    result = run_suite(tmp_path, "--migrate", "--target-url", "postgresql://app@127.0.0.1:1/db", *xdist)
    assert_failed_once(result, "Connection refused", tmp_path)


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_docker_without_an_engine_is_said_once(tmp_path: Path, xdist: tuple[str, ...]) -> None:
    result = run_suite(tmp_path, "--migrate", "--db-backend", "docker", *xdist)
    assert_failed_once(result, "--db-backend docker: no Docker engine answered", tmp_path)


def test_a_report_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--migrate", f"--migration-report={tmp_path}")
    assert_failed_once(result, "is a folder: give the report's file name", tmp_path)


@pytest.mark.parametrize("option", ["--migration-report", "--pg-bin-dir"])
def test_an_existing_path_given_after_a_space_names_the_equals_form(tmp_path: Path, option: str) -> None:
    existing = tmp_path / "elsewhere"
    existing.mkdir()
    if option == "--migration-report":
        existing = existing / "report.json"
        existing.write_text("{}")
    result = run_suite(tmp_path, "--migrate", option, str(existing))
    assert_failed_once(result, f"write {option}={existing}", tmp_path)
