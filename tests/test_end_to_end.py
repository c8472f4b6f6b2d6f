"""The field-service migration end to end, as CI and a cut-over team run it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.generate import generate
from migration_suite.schema import TABLES
from pytest_migration.redact import password_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_migrate_into_a_given_database_under_xdist(empty_target_url: str, tmp_path: Path) -> None:
    dataset = generate(tmp_path / "legacy.db", 3000)
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--migrate", "-n", "2", "-p", "no:cacheprovider",
         "--source-url", f"sqlite:///{dataset.path}", "--target-url", empty_target_url,
         "--migration-report", str(report_path), "migration_suite"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert sorted(report["tables"]) == sorted(table.name for table in TABLES)
    for name, account in report["tables"].items():
        assert account["source_rows"] == dataset.rows_per_table[name]
        assert account["source_rows"] == account["migrated_rows"] + account["quarantined_rows"], name
    assert all(step["status"] == "passed" for step in report["steps"])
    assert report["checks"]["failed"] == report["checks"]["error"] == 0
    assert report["checks"]["passed"] > 0
    password = password_of(empty_target_url)
    assert password and password not in result.stdout + result.stderr + report_path.read_text()


def test_a_non_empty_target_without_a_run_is_refused(empty_target_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(empty_target_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE public.invoices (id int)"))
        connection.execute(sa.text("INSERT INTO public.invoices VALUES (1)"))
    dataset = generate(tmp_path / "legacy.db", 200)
    result = subprocess.run(
        [sys.executable, "-m", "pytest_migration.cli", "run", "--source-url", f"sqlite:///{dataset.path}",
         "--target-url", empty_target_url, "--fresh"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "not empty (public.invoices)" in result.stderr
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM public.invoices")).scalar() == 1
    engine.dispose()


def test_interrupted_session_leaves_no_server(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Ctrl-C in the middle of a step still stops the provisioned server."""
    marker = tmp_path / "port"
    pytester.makepyfile(slow_suite=f'''
import time
import sqlalchemy as sa
from pytest_migration.steps import StepRegistry
from pytest_migration.suite import MigrationSuite

registry = StepRegistry(phases=("load",))

@registry.step(phase="load")
def slow(context):
    """Take long enough to be interrupted."""
    open({str(marker)!r}, "w").write(str(sa.engine.make_url(context.target_url).port))
    time.sleep(60)

def make_source(directory, rows, timezone):
    import sqlite3
    sqlite3.connect(directory / "s.db").execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    return f"sqlite:///{{directory / 's.db'}}"

SUITE = MigrationSuite(name="slow", metadata=sa.MetaData(), tables=lambda tz: (), steps=registry,
                       make_source=make_source)
''', test_slow="def test_slow(slow):\n    pass\n")
    pytester.makeini("[pytest]\nmigration_suite = slow_suite:SUITE\npythonpath = .\n")
    process = subprocess.Popen([sys.executable, "-m", "pytest", "--migrate", "-p", "no:cacheprovider"],
                               cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    port = marker.read_text()
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert "KeyboardInterrupt" in output
    servers = [
        pid for pid in os.listdir("/proc") if pid.isdigit()
        and f"-p\x00{port}\x00" in _cmdline(pid)
    ]
    assert not servers, f"a server on port {port} is still running: pids {servers}"


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_quarantine_fails_the_run_only_with_fail_on_quarantine(new_database: Callable[[], str], tmp_path: Path) -> None:
    dataset = generate(tmp_path / "legacy.db", 2000)
    source = f"sqlite:///{dataset.path}"

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_migration.cli", "run", "-q", "--source-url", source,
             "--target-url", new_database(), *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )

    assert run().returncode == 0
    strict = run("--fail-on-quarantine")
    assert strict.returncode == 1
    session = subprocess.run(
        [sys.executable, "-m", "pytest", "--migrate", "--source-url", source, "--fail-on-quarantine",
         "-p", "no:cacheprovider", "-k", "accounting", "migration_suite"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert session.returncode == 1
    lines = session.stdout.splitlines()
    # The verdict is a failed check of its own, so pytest's own last line is red, not green.
    assert any(line.startswith("FAILED pytest-migration::quarantine - rows were quarantined (") for line in lines)
    assert " passed" in lines[-1] and "1 failed" in lines[-1]


def test_a_value_sqlite_reads_as_infinity_is_quarantined_whole(empty_target_url: str, tmp_path: Path) -> None:
    dataset = generate(tmp_path / "legacy.db", 200, dirty_share=0)
    legacy = sqlite3.connect(dataset.path)
    # An over-long number in an INTEGER column is stored as REAL infinity.
    legacy.execute("UPDATE tasks SET position = '1' || printf('%.*c', 400, '0') WHERE id = (SELECT min(id) FROM tasks)")
    legacy.commit()
    (kind,) = legacy.execute("SELECT typeof(position) FROM tasks ORDER BY id LIMIT 1").fetchone()
    assert kind == "real"
    result = subprocess.run(
        [sys.executable, "-m", "pytest_migration.cli", "run", "-q", "--source-url", f"sqlite:///{dataset.path}",
         "--target-url", empty_target_url],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    engine = sa.create_engine(empty_target_url)
    with engine.connect() as connection:
        reason, position = connection.execute(sa.text(
            "SELECT reason, payload -> 'position' FROM migration.quarantine WHERE source_table = 'tasks'"
        )).one()
    engine.dispose()
    assert (reason, position) == ("invalid_integer:position", {"$real": "inf"})
