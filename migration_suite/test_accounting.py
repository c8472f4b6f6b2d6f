"""Nothing lost: every source row is migrated or quarantined, exactly once."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from pytest_migration.engine.context import MigrationContext

from .schema import TABLES

TABLE_NAMES = [table.name for table in TABLES]


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLE_NAMES)
def test_source_rows_are_migrated_or_quarantined(
    table: str, migrated: MigrationContext, source: sqlite3.Connection, target: sa.Connection
) -> None:
    (source_rows,) = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    migrated_rows = target.execute(sa.text(f'SELECT count(*) FROM public."{table}"')).scalar_one()
    quarantined = target.execute(
        sa.text(
            "SELECT count(*), count(DISTINCT source_rowid) FROM migration.quarantine"
            " WHERE run_id = :run AND source_table = :table"
        ),
        {"run": migrated.run_id, "table": table},
    ).one()
    assert quarantined[0] == quarantined[1], f"{table}: a source row was quarantined twice"
    assert source_rows == migrated_rows + quarantined[0], (
        f"{table}: {source_rows} source rows, but {migrated_rows} migrated + {quarantined[0]} quarantined"
    )


@pytest.mark.integrity
def test_the_run_used_the_application_time_zone(migrated: MigrationContext, target: sa.Connection) -> None:
    recorded = target.execute(
        sa.text("SELECT settings ->> 'timezone' FROM migration.runs WHERE id = :run"), {"run": migrated.run_id}
    ).scalar_one()
    assert recorded == migrated.config.timezone, (
        f"run {migrated.run_id} read wall-clock times in {recorded}, but the application's time zone is "
        f"{migrated.config.timezone} (ini migration_timezone): every check of values would disagree"
    )
