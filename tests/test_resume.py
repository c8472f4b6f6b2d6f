"""A run killed with SIGKILL and started again ends with exactly the target of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.generate import generate
from migration_suite.schema import TABLES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ROWS = 6000
BATCH = "150"


def run_command(source: str, target: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest_migration.cli", "run", "--source-url", source, "--target-url", target,
            "--batch-size", BATCH, "-q", *extra]


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything a run leaves that matters: every table's rows, quarantine, sequences."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        state = {
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
    engine.dispose()
    return state


def killed_when(condition: str) -> Callable[[sa.Connection], bool]:
    return lambda connection: bool(connection.execute(sa.text(condition)).scalar())


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> str:
    dataset = generate(tmp_path_factory.mktemp("resume") / "legacy.db", ROWS)
    return f"sqlite:///{dataset.path}"


MID_TABLE = "SELECT bool_or(NOT loaded AND last_rowid IS NOT NULL) FROM migration.progress"


def load_beyond_checkpoint(url: str) -> None:
    """Leave what a kill between a frame's commit and its checkpoint's leaves: a loaded row beyond it,
    in the target table where rows load straight into it (keyed by the legacy rowid), else in the stage."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        name, last_rowid = connection.execute(sa.text(
            "SELECT table_name, last_rowid FROM migration.progress WHERE NOT loaded AND last_rowid IS NOT NULL LIMIT 1"
        )).one()
        if "id" in {table.name: table for table in TABLES}[name].columns:
            connection.execute(sa.text(f'INSERT INTO public."{name}" (id) VALUES (:id)'), {"id": last_rowid + 1})
        else:
            connection.execute(
                sa.text(f'INSERT INTO migration."stage_{name}" (_legacy_rowid) VALUES (:id)'), {"id": last_rowid + 1}
            )
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
                    if reached(connection):
                        os.kill(process.pid, signal.SIGKILL)
                        break
            except sa.exc.ProgrammingError:
                pass  # the migration schema does not exist yet
            time.sleep(0.02)
        process.wait(timeout=60)
    finally:
        engine.dispose()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    if frame_beyond_checkpoint:
        load_beyond_checkpoint(killed_url)

    resumed = subprocess.run(run_command(legacy, killed_url), cwd=ROOT, timeout=300)
    assert resumed.returncode == 0
    assert snapshot(killed_url) == snapshot(reference_url)
