"""Every legacy row ends where the rules send it, recomputed from the source alone.

`test_expected_outcomes` needs the generator's sidecar, so it only runs on generated
datasets; these checks run on any legacy file, also at cut-over under `--verify-only`. The
expected rows and the value and row reasons come from `oracle.py`, an independent reading
of the rules that shares no code with the migration; the key and reference rules are set
logic over the source and the target. Both sides stream in key order into rowdiff's merge,
and spills go to private temporary SQLite files, so memory stays flat as tables grow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pytest_migration.checks.rowdiff import Key, compare_sorted
from pytest_migration.engine.context import MigrationContext
from pytest_migration.engine.identifiers import quote_pg, quote_sqlite
from pytest_migration.engine.source import connect_read_only

from .oracle import REFERENCES, Legacy, Oracle, decode_text
from .schema import TABLES
from .spelling import canonical_names, show_row, spelled_rows

BATCH = 10_000
SAMPLE = 5
KEY_REASONS = frozenset({"missing_serial_number", "duplicate_serial_number", "duplicate_key"})
KEY_RULE_TABLES = frozenset({"equipment", "intervention_user"})
ORPHAN, UNKNOWN_PARTICIPANT = "orphan:", "unknown_participant"
NAMES = {table.name: canonical_names(table) for table in TABLES}
"""Each table's columns in the order of canonical JSON's keys."""

SourceRow = tuple[int, tuple[Legacy, ...], str | None]
"""A legacy row as (rowid, values in legacy column order, its quarantine reason in this run or None)."""


@dataclass
class Findings:
    """Rows that break one expectation: how many, and the first few with expected vs found."""

    title: str
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, row: object, expected: str, found: str) -> None:
        """Count one offending row; keep it as a sample while there are few."""
        self.count += 1
        if len(self.samples) < SAMPLE:
            self.samples.append(f"  {row}: expected {expected}, found {found}")

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return f"{self.count} {self.title}; e.g.\n" + "\n".join(self.samples)


@pytest.fixture(scope="module")
def oracle(migrated: MigrationContext) -> Oracle:
    """The independent reading of the rules, in the application's time zone."""
    return Oracle(ZoneInfo(migrated.config.timezone))


class LegacyReader:
    """The source, read-only, as the oracle reads it: text decoded, BLOBs and text that is not UTF-8 as bytes."""

    def __init__(self, path: str) -> None:
        self.careful = connect_read_only(path, decode_text)
        # sqlite3 decodes text itself three times as fast as a text_factory, but stops at text that is not UTF-8.
        self._fast = connect_read_only(path)

    def in_rowid_order(self, select: str) -> Iterator[tuple[Any, ...]]:
        """Every row of `select` in rowid order; a row holding text that is not UTF-8 is read carefully."""
        after: tuple[int, ...] = ()  # the last rowid read, once there is one

        def following() -> str:
            return f"{select}{' WHERE rowid > ?' if after else ''} ORDER BY rowid"

        while True:
            try:
                for row in self._fast.execute(following(), after):
                    after = (row[0],)
                    yield row
                return
            except sqlite3.OperationalError as error:
                if "decode" not in str(error).lower():
                    raise
            row = self.careful.execute(following() + " LIMIT 1", after).fetchone()
            after = (row[0],)
            yield row

    def close(self) -> None:
        """Close both connections."""
        self.careful.close()
        self._fast.close()


@pytest.fixture(scope="module")
def legacy(migrated: MigrationContext) -> Iterator[LegacyReader]:
    """This module's own read-only access to the source."""
    reader = LegacyReader(make_url(migrated.source_url).database or "")
    yield reader
    reader.close()


def quarantine_rows(target: sa.Connection, run_id: int | None, table: str) -> Iterator[tuple[int, str]]:
    """This run's quarantine of `table` as (source rowid, reason), in rowid order, streamed."""
    query = sa.text(
        "SELECT source_rowid, reason FROM migration.quarantine "
        "WHERE run_id = :run AND source_table = :table ORDER BY source_rowid"
    )
    rows = target.execute(query, {"run": run_id, "table": table}, execution_options={"yield_per": BATCH})
    return ((rowid, reason) for rowid, reason in rows)


def _select(oracle: Oracle, table: str) -> str:
    columns = ", ".join(quote_sqlite(column) for column in oracle.legacy_columns(table))
    return f"SELECT rowid, {columns} FROM {quote_sqlite(table)}"


def source_rows(
    legacy: LegacyReader, oracle: Oracle, table: str, quarantine: Iterator[tuple[int, str]], strays: Findings
) -> Iterator[SourceRow]:
    """Every legacy row in rowid order with its quarantine reason, merging two rowid-ordered streams."""
    held = next(quarantine, None)
    for row in legacy.in_rowid_order(_select(oracle, table)):
        rowid = row[0]
        while held is not None and held[0] < rowid:
            strays.add(f"rowid {held[0]}", "a source row", f"none, quarantined as {held[1]}")
            held = next(quarantine, None)
        if held is not None and held[0] == rowid:
            yield rowid, row[1:], held[1]
            held = next(quarantine, None)
        else:
            yield rowid, row[1:], None
    while held is not None:
        strays.add(f"rowid {held[0]}", "a source row", f"none, quarantined as {held[1]}")
        held = next(quarantine, None)


def quarantined_source_rows(
    legacy: LegacyReader, oracle: Oracle, table: str, quarantine: Iterator[tuple[int, str]], strays: Findings
) -> Iterator[SourceRow]:
    """Only the quarantined legacy rows, looked up by rowid a batch at a time, with their reasons."""
    for batch in iter(lambda: list(islice(quarantine, BATCH)), []):
        query = f"{_select(oracle, table)} WHERE rowid IN ({', '.join('?' * len(batch))})"
        rows = {row[0]: row[1:] for row in legacy.careful.execute(query, [rowid for rowid, _ in batch])}
        for rowid, reason in batch:
            if rowid in rows:
                yield rowid, rows[rowid], reason
            else:
                strays.add(f"rowid {rowid}", "a source row", f"none, quarantined as {reason}")


# --- (a) migrated rows -------------------------------------------------------------------


def expected_rows(
    rows: Iterable[SourceRow], oracle: Oracle, table: sa.Table, unquarantined: Findings
) -> Iterator[tuple[Key, tuple[Any, ...]]]:
    """The oracle's target row (canonical values in column-name order) of every source row
    this run did not quarantine, in source order."""
    names, keys = NAMES[table.name], [column.name for column in table.primary_key.columns]
    values = itemgetter(*names)
    references = [reference.column for reference in REFERENCES.get(table.name, ())]
    for rowid, legacy_values, reason in rows:
        if reason is not None:
            continue
        outcome = oracle.read_row(table.name, legacy_values)
        if isinstance(outcome, str):
            unquarantined.add(f"rowid {rowid}", f"quarantined as {outcome}", "not quarantined")
            continue
        for column in references:  # a loop, not a list per row: this runs a million times
            if outcome[column] is None:
                unquarantined.add(f"rowid {rowid}", f"quarantined as {ORPHAN}{column} (NULL)", "not quarantined")
                break
        else:
            yield tuple(map(outcome.__getitem__, keys)), values(outcome)


def in_key_order(
    rows: Iterable[tuple[Key, tuple[Any, ...]]], width: int, size: int
) -> Iterator[tuple[Key, tuple[Any, ...]]]:
    """Sort rows on disk, in a private temporary SQLite file, for a table whose source order is not key order.

    Keys have `width` values and rows `size`; the values must be ones SQLite keeps as they
    are (integers, text, NULL), as a pivot's are.
    """
    keys = [f"k{index}" for index in range(width)]
    spill = sqlite3.connect("")  # an empty name is a temporary file that SQLite deletes on close
    try:
        spill.execute(f"CREATE TABLE spill ({', '.join(keys + [f'v{index}' for index in range(size)])})")
        spill.executemany(
            f"INSERT INTO spill VALUES ({', '.join('?' * (width + size))})",
            ((*key, *row) for key, row in rows),
        )
        for row in spill.execute(f"SELECT * FROM spill ORDER BY {', '.join(keys)}, rowid"):
            yield row[:width], row[width:]
    finally:
        spill.close()


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_migrated_rows_are_what_the_rules_make(
    table: sa.Table, migrated: MigrationContext, legacy: LegacyReader, oracle: Oracle, target: sa.Connection
) -> None:
    unquarantined = Findings(f"{table.name} rows the rules quarantine were not quarantined")
    quarantine = quarantine_rows(target, migrated.run_id, table.name)
    rows = source_rows(legacy, oracle, table.name, quarantine, strays=Findings("reported by the quarantine check"))
    expected = expected_rows(rows, oracle, table, unquarantined)
    if "id" not in table.columns:  # rowid order is key order only where the key is the id
        expected = in_key_order(expected, width=len(table.primary_key.columns), size=len(table.columns))
    diff = compare_sorted(expected, spelled_rows(target, table), show=show_row(table))
    problems = ([] if diff.ok else [diff.summary(table.name)]) + ([str(unquarantined)] if unquarantined else [])
    assert not problems, "\n".join(problems)


# --- (b), (c) quarantined rows -----------------------------------------------------------


class ReferenceRule:
    """Section 3 rule 4 for quarantined rows, a batch at a time: the first reference the target lacks."""

    def __init__(self, target: sa.Connection, table: str, wrong: Findings) -> None:
        self.target = target
        self.table = table
        self.wrong = wrong
        self.pending: list[tuple[int, dict[str, Any], str]] = []

    def add(self, rowid: int, row: dict[str, Any], reason: str) -> None:
        """Check later that `reason` is what rule 4 gives this row, which passed rules 1-2."""
        self.pending.append((rowid, row, reason))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Look the batch's references up in the target and compare each row's reason with rule 4's."""
        wanted: dict[str, set[int]] = {"users": set()}
        for _, row, _ in self.pending:
            for reference in REFERENCES.get(self.table, ()):
                wanted.setdefault(reference.parent, set()).add(row[reference.column])
            wanted["users"].update(row.get("participants", ()))
        existing = {parent: self._existing(parent, ids - {None}) for parent, ids in wanted.items()}
        for rowid, row, reason in self.pending:
            expected = self._reason(row, existing)
            if expected != reason:
                self.wrong.add(f"rowid {rowid}", expected or "migrated (its references exist)", reason)
        self.pending.clear()

    def _reason(self, row: dict[str, Any], existing: dict[str, set[int]]) -> str | None:
        for reference in REFERENCES.get(self.table, ()):
            if row[reference.column] not in existing[reference.parent]:
                return f"{ORPHAN}{reference.column}"
        if not existing["users"].issuperset(row.get("participants", ())):
            return UNKNOWN_PARTICIPANT
        return None

    def _existing(self, parent: str, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        query = sa.text(f"SELECT id FROM {quote_pg('public', parent)} WHERE id = ANY(:ids)")
        return set(self.target.execute(query, {"ids": sorted(ids)}).scalars())


class KeyRule:
    """Section 3 rule 3 among the rows that pass rules 1-2, as SQL over a private temporary SQLite file."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.spill = sqlite3.connect("")
        self.spill.execute("CREATE TABLE clean (source_rowid INTEGER, a, b, instant TEXT, reason TEXT)")
        self.batch: list[tuple[int, Any, Any, str | None, str | None]] = []

    def add(self, rowid: int, row: dict[str, Any], reason: str | None) -> None:
        """Remember a row that passed rules 1-2, with what the key rule needs of it and its reason in this run."""
        if self.table == "equipment":
            self.batch.append((rowid, row["serial_number"], None, None, reason))
        else:
            # An instant's canonical text (UTC, ISO, no trailing zeros) sorts as the instant does.
            self.batch.append((rowid, row["intervention_id"], row["user_id"], row["created_at"], reason))
        if len(self.batch) >= BATCH:
            self._write()

    def check(self, wrong: Findings) -> None:
        """Compare each row's reason with the key rule's, where either of them is a key rule."""
        self._write()
        for rowid, expected, found in self.spill.execute(self._expected_reasons()):
            if expected != found and (expected in KEY_REASONS or found in KEY_REASONS):
                wrong.add(f"rowid {rowid}", expected or "no key rule broken", found or "migrated")
        self.spill.close()

    def _expected_reasons(self) -> str:
        if self.table == "equipment":  # a: the serial number, upper-cased; the lowest id is kept
            return """
                SELECT source_rowid,
                       CASE WHEN a IS NULL THEN 'missing_serial_number'
                            WHEN source_rowid > min(source_rowid) OVER (PARTITION BY a)
                            THEN 'duplicate_serial_number' END,
                       reason
                FROM clean"""
        # intervention_user: a, b the pair; the earliest created_at (NULL last), then rowid, is kept
        return """
            SELECT source_rowid,
                   CASE WHEN a IS NOT NULL AND b IS NOT NULL AND row_number() OVER (
                            PARTITION BY a, b ORDER BY instant IS NULL, instant, source_rowid) > 1
                        THEN 'duplicate_key' END,
                   reason
            FROM clean"""

    def _write(self) -> None:
        self.spill.executemany("INSERT INTO clean VALUES (?, ?, ?, ?, ?)", self.batch)
        self.batch.clear()


@pytest.mark.integrity
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_quarantined_rows_break_the_rule_they_name(
    table: sa.Table, migrated: MigrationContext, legacy: LegacyReader, oracle: Oracle, target: sa.Connection
) -> None:
    wrong = Findings(f"{table.name} rows whose quarantine the rules do not give (section 3, rules 1-4)")
    references = ReferenceRule(target, table.name, wrong)
    keys = KeyRule(table.name) if table.name in KEY_RULE_TABLES else None
    quarantine = quarantine_rows(target, migrated.run_id, table.name)
    # The key rules need every row that passes rules 1-2; the other tables only their quarantined rows.
    read = source_rows if keys is not None else quarantined_source_rows
    for rowid, values, reason in read(legacy, oracle, table.name, quarantine, wrong):
        outcome = oracle.read_row(table.name, values)
        if isinstance(outcome, str):  # rules 1-2 quarantine it; test (a) reports it when it was not
            if reason is not None and reason != outcome:
                wrong.add(f"rowid {rowid}", outcome, reason)
            continue
        if keys is not None:
            keys.add(rowid, outcome, reason)
        if reason is None or (reason in KEY_REASONS and keys is not None):
            continue
        if reason.startswith(ORPHAN) or reason == UNKNOWN_PARTICIPANT:
            references.add(rowid, outcome, reason)
        else:
            wrong.add(f"rowid {rowid}", "no value, row or key rule broken (rules 1-3)", reason)
    references.flush()
    if keys is not None:
        keys.check(wrong)
    assert not wrong, str(wrong)
