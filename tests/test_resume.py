"""A run killed with SIGKILL and started again ends with exactly the target of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.generate import generate
from migration_suite import SUITE
from migration_suite.schema import TABLES
from pytest_migration.config import resolve
from pytest_migration.session import MigrationSession

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ROWS = 6000
BATCH = "150"


def run_command(source: str, target: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest_migration.cli", "run", "--source-url", source, "--target-url", target,
            "--batch-size", BATCH, "-q", *extra]


def snapshot(url: str) -> dict[str, Sequence[object]]:
    """Everything a run leaves that matters: every table's rows, quarantine, sequences."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            state: dict[str, Sequence[object]] = {
                table.name: connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).all()
                for table in TABLES
            }
            state["quarantine"] = connection.execute(sa.text(
                "SELECT source_table, source_rowid, source_key, reason, payload FROM migration.quarantine"
                " ORDER BY source_table, source_rowid"
            )).all()
            state["sequences"] = connection.execute(sa.text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
            )).all()
    finally:
        engine.dispose()
    return state


def killed_when(condition: str) -> Callable[[sa.Connection], bool]:
    return lambda connection: bool(connection.execute(sa.text(condition)).scalar())


# No statement of the run is still at work in the server: each of its backends is idle or waits for
# the (stopped) client, so what the database shows can no longer change.
SETTLED = """SELECT NOT EXISTS (
    SELECT FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
      AND state = 'active' AND wait_event_type IS DISTINCT FROM 'Client')"""


def kill_if_still(process: subprocess.Popen[bytes], reached: Callable[[sa.Connection], bool],
                  connection: sa.Connection) -> bool:
    """Kill the run at the moment only if that moment still holds once the run is frozen.

    Checking and then killing a running process races with it: the moment may pass in between (a
    table's last batch commits). So the run is stopped, its statements in flight are let settle, and
    the moment checked again: killed if it holds, else let go on."""
    os.kill(process.pid, signal.SIGSTOP)
    settle_by = time.monotonic() + 30
    while not connection.execute(sa.text(SETTLED)).scalar() and time.monotonic() < settle_by:
        connection.rollback()  # PostgreSQL keeps a transaction's first view of pg_stat_activity
        time.sleep(0.01)
    if reached(connection):
        os.kill(process.pid, signal.SIGKILL)
        return True
    os.kill(process.pid, signal.SIGCONT)
    return False


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> str:
    dataset = generate(tmp_path_factory.mktemp("resume") / "legacy.db", ROWS)
    return f"sqlite:///{dataset.path}"


MID_TABLE = "SELECT bool_or(NOT loaded AND last_rowid IS NOT NULL) FROM migration.progress"


def load_beyond_checkpoint(url: str) -> None:
    """Leave what a kill between a frame's commit and its checkpoint's leaves: a loaded row beyond it,
    in the target table where rows load straight into it (keyed by the legacy rowid), else in the stage."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            name, last_rowid = connection.execute(sa.text(
                "SELECT table_name, last_rowid FROM migration.progress"
                " WHERE NOT loaded AND last_rowid IS NOT NULL LIMIT 1"
            )).one()
            if "id" in {table.name: table for table in TABLES}[name].columns:
                connection.execute(sa.text(f'INSERT INTO public."{name}" (id) VALUES (:id)'), {"id": last_rowid + 1})
            else:
                connection.execute(
                    sa.text(f'INSERT INTO migration."stage_{name}" (_legacy_rowid) VALUES (:id)'),
                    {"id": last_rowid + 1},
                )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("moment", "frame_beyond_checkpoint"),
    [
        # in the middle of staging a table, between two committed batches
        (MID_TABLE, False),
        # the same, just after a batch's frame was committed and before its checkpoint was
        (MID_TABLE, True),
        # after some tables were finished, before the others started
        ("SELECT count(*) >= 4 FROM migration.progress WHERE finished", False),
    ],
    ids=["mid-table", "mid-batch", "between-tables"],
)
def test_killed_run_resumes_to_the_same_target(
    legacy: str, moment: str, frame_beyond_checkpoint: bool, new_database: Callable[[], str]
) -> None:
    reference_url, killed_url = new_database(), new_database()
    subprocess.run(run_command(legacy, reference_url), cwd=ROOT, check=True, timeout=300)

    process = subprocess.Popen(run_command(legacy, killed_url), cwd=ROOT)
    engine = sa.create_engine(killed_url)
    reached = killed_when(moment)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with engine.connect() as connection:
                    if reached(connection) and kill_if_still(process, reached, connection):
                        break
            except sa.exc.ProgrammingError:
                pass  # the migration schema does not exist yet
            time.sleep(0.02)
        process.wait(timeout=60)
    finally:
        engine.dispose()
        if process.poll() is None:  # the test failed with the run stopped or still going
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    if frame_beyond_checkpoint:
        load_beyond_checkpoint(killed_url)

    resumed = subprocess.run(run_command(legacy, killed_url), cwd=ROOT, timeout=300)
    assert resumed.returncode == 0
    assert snapshot(killed_url) == snapshot(reference_url)


def staging_ahead(engine: sa.Engine) -> int:
    """How many tables have started staging."""
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM migration.progress")).scalar_one())


def test_a_session_closed_after_its_first_table_stops_the_tables_staged_ahead(
    legacy: str, new_database: Callable[[], str]
) -> None:
    """The tables after the first are staged in the background, one starting as soon as the one
    before it is read; closing the session stops them all, and the next run completes the target."""
    reference_url, closed_url = new_database(), new_database()
    subprocess.run(run_command(legacy, reference_url), cwd=ROOT, check=True, timeout=300)

    config = resolve({"source_url": legacy, "target_url": closed_url, "batch_size": int(BATCH)})
    session = MigrationSession(config, SUITE)
    engine = sa.create_engine(closed_url)
    try:
        assert session.run_step(f"migrate_{TABLES[0].name}").status == "passed"
        started = staging_ahead(engine)
        deadline = time.monotonic() + 60
        while started < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
            started = staging_ahead(engine)
    finally:
        session.close()
        engine.dispose()
    assert started >= 4, "the tables after the first were not staged one after another in the background"
    left = [thread.name for thread in threading.enumerate() if thread.name.startswith(("stage-", "convert-"))]
    assert not left, f"staging threads still running after close: {left}"

    subprocess.run(run_command(legacy, closed_url), cwd=ROOT, check=True, timeout=300)
    assert snapshot(closed_url) == snapshot(reference_url)
