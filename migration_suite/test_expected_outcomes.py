"""Every row ends where the factories that made it say: the exact value, or the exact reason.

The expectations come from the generator (the true values the factories chose before
writing them in legacy spellings), never from the migration's readers, so these checks
fail when a reader or a rule is wrong.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_migration.engine.context import MigrationContext

from .schema import TABLES

SAMPLE = 5


def canonical(value: Any) -> Any:
    """Encode a target value the way the generator encodes its expectations."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def _key(table: sa.Table, row: dict[str, Any]) -> str:
    columns = [c.name for c in table.primary_key.columns]
    return json.dumps({c: row[c] for c in columns}, sort_keys=True, separators=(",", ":"))


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_migrated_rows_are_the_expected_values(
    table: sa.Table, target: sa.Connection, expected: sqlite3.Connection
) -> None:
    wanted = {
        key: json.loads(row)
        for key, row in expected.execute(
            "SELECT source_key, row FROM expected WHERE source_table = ? AND reason IS NULL", (table.name,)
        )
    }
    found = {}
    for row in target.execute(sa.select(table)).mappings():
        values = {column: canonical(value) for column, value in row.items()}
        found[_key(table, values)] = values
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    different = sorted(key for key in set(wanted) & set(found) if wanted[key] != found[key])
    assert not missing, f"{table.name}: {len(missing)} expected rows are missing, e.g. {missing[:SAMPLE]}"
    assert not extra, f"{table.name}: {len(extra)} rows should not be there, e.g. {extra[:SAMPLE]}"
    details = [
        f"{key}: " + ", ".join(
            f"{column} expected {wanted[key][column]!r}, found {found[key].get(column)!r}"
            for column in wanted[key]
            if wanted[key][column] != found[key].get(column)
        )
        for key in different[:SAMPLE]
    ]
    assert not different, f"{table.name}: {len(different)} rows differ:\n" + "\n".join(details)


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_quarantined_rows_have_the_expected_reason(
    table: sa.Table, migrated: MigrationContext, target: sa.Connection, expected: sqlite3.Connection
) -> None:
    wanted = dict(
        expected.execute(
            "SELECT source_rowid, reason FROM expected WHERE source_table = ? AND reason IS NOT NULL", (table.name,)
        ).fetchall()
    )
    found = dict(
        target.execute(
            sa.text(
                "SELECT source_rowid, reason FROM migration.quarantine WHERE run_id = :run AND source_table = :table"
            ),
            {"run": migrated.run_id, "table": table.name},
        ).all()
    )
    wrong = {
        rowid: (wanted.get(rowid), found.get(rowid))
        for rowid in sorted(set(wanted) | set(found))
        if wanted.get(rowid) != found.get(rowid)
    }
    sample = ", ".join(
        f"rowid {rowid}: expected {want or 'migrated'}, found {got or 'migrated'}"
        for rowid, (want, got) in list(wrong.items())[:SAMPLE]
    )
    assert not wrong, f"{table.name}: {len(wrong)} rows quarantined wrongly: {sample}"
