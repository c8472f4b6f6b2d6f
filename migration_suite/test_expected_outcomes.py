"""Every row ends where the factories that made it say: the exact value, or the exact reason.

The expectations come from the generator (the true values the factories chose before
writing them in legacy spellings), never from the migration's readers, so these checks
fail when a reader or a rule is wrong.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pytest_migration.checks.rowdiff import Key, compare_sorted
from pytest_migration.engine.context import MigrationContext

from .schema import TABLES
from .spelling import canonical_texts

SAMPLE = 5


def expected_rows(expected: sqlite3.Connection, table: sa.Table) -> Iterator[tuple[Key, str]]:
    """The generator's expected target rows, as canonical JSON, in key order."""
    keys = [column.name for column in table.primary_key.columns]
    # An `id` is its SQLite rowid: the sidecar's index gives those rows in key order unsorted.
    extracted = "source_rowid" if keys == ["id"] else ", ".join(f"json_extract(source_key, '$.{key}')" for key in keys)
    for row in expected.execute(
        f"SELECT {extracted}, row FROM expected WHERE source_table = ? AND reason IS NULL ORDER BY {extracted}",
        (table.name,),
    ):
        yield tuple(row[:-1]), row[-1]


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_migrated_rows_are_the_expected_values(
    table: sa.Table, target: sa.Connection, expected: sqlite3.Connection
) -> None:
    diff = compare_sorted(expected_rows(expected, table), canonical_texts(target, table))
    assert diff.ok, diff.summary(table.name)


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
    found: dict[int, str] = dict(
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
