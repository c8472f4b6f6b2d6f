"""Every row ends where the factories that made it say: the exact value, or the exact reason.

The expectations come from the generator (the true values the factories chose before
writing them in legacy spellings), never from the migration's readers, so these checks
fail when a reader or a rule is wrong. Migrated rows are compared by segment digests
(`pytest_migration.checks.segments`): the generator digested the expected rows, PostgreSQL
digests the target's, and only differing segments are read row by row.
"""

from __future__ import annotations

import sqlite3
from itertools import chain

import pytest
import sqlalchemy as sa

from fixtures.storage import migrated_rows
from pytest_migration.checks import segments
from pytest_migration.checks.rowdiff import compare_sorted
from pytest_migration.engine.context import MigrationContext

from .schema import TABLES
from .spelling import canonical_texts, segment_digests

SAMPLE = 5


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_migrated_rows_are_the_expected_values(
    table: sa.Table, target: sa.Connection, expected: sqlite3.Connection
) -> None:
    # The generator digested the expected rows' segments; PostgreSQL digests the target's.
    # Only the segments that differ are compared row by row, for the failure's samples.
    digested = "SELECT segment, digest FROM expected_segment WHERE source_table = ?"
    wanted = dict(expected.execute(digested, (table.name,)))
    differing = segments.differing(wanted, segment_digests(target, table))
    diff = compare_sorted(
        chain.from_iterable(migrated_rows(expected, table.name, segments.bounds(number)) for number in differing),
        chain.from_iterable(canonical_texts(target, table, segments.bounds(number)) for number in differing),
    )
    assert diff.ok, diff.summary(f"{table.name} ({len(differing)} of {len(wanted)} segments differ)")
    assert not differing, f"{table.name}: segments {differing[:5]} differ in digest, yet their rows compare equal"


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
