"""Target rows spelled by PostgreSQL in the checks' canonical encoding.

The checks compare target rows with their expectations in one canonical encoding: as
JSON, keys sorted, no spaces, non-ASCII characters as they are (`json.dumps(row,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)`); timestamptz as the ISO text
of the UTC instant with the fraction's trailing zeros dropped and `+00:00`, dates as
YYYY-MM-DD, numerics as text with their two decimals, arrays as lists. PostgreSQL spells
the values, which spares building a Python datetime or Decimal for every value of a
million-row table, and `row_to_json` writes the JSON exactly as Python would
(tests/test_spelling.py holds the two writings equal on tricky values).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from pytest_migration.checks.rowdiff import Key

from .oracle import canonical_json

BATCH = 10_000


def spelled(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """Select `column` spelled in the canonical encoding (other types as they are)."""
    if isinstance(column.type, sa.DateTime):
        # to_json writes the UTC wall time as "2023-07-14T08:00:00.5" whatever DateStyle is,
        # and costs a third of to_char.
        wall_time = sa.cast(sa.func.to_json(sa.func.timezone("UTC", column, type_=sa.DateTime)), sa.Text)
        return (sa.func.btrim(wall_time, '"', type_=sa.Text) + "+00:00").label(column.name)
    if isinstance(column.type, sa.Date):
        return sa.func.to_char(column, "YYYY-MM-DD", type_=sa.Text).label(column.name)
    if isinstance(column.type, sa.Numeric):
        return sa.cast(column, sa.Text).label(column.name)
    return column


class CanonicalRow(tuple[Any, ...]):
    """A row's canonical values after the tuple of its column names: compared as a tuple, shown as canonical JSON.

    Encoding a million rows as JSON in Python would cost as much as the oracle itself;
    comparing the canonical values is the same comparison (the column types are test_schema's
    concern), and a failure still shows each row as canonical JSON.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return canonical_json(dict(zip(self[0], self[1:], strict=True)))


def canonical_names(table: sa.Table) -> tuple[str, ...]:
    """The table's column names in the order of canonical JSON's keys."""
    return tuple(sorted(column.name for column in table.columns))


def _spelled_table(table: sa.Table) -> sa.Subquery:
    """The table's rows spelled, columns in canonical order."""
    return sa.select(*(spelled(table.columns[name]) for name in canonical_names(table))).subquery("spelled")


def spelled_rows(target: sa.Connection, table: sa.Table) -> Iterator[tuple[Key, CanonicalRow]]:
    """The target's rows in key order, each as its canonical values in column-name order, streamed."""
    names = canonical_names(table)
    positions = [names.index(column.name) for column in table.primary_key.columns]
    rows = _spelled_table(table)
    statement = sa.select(rows).order_by(*(rows.c[column.name] for column in table.primary_key.columns))
    for row in target.execute(statement, execution_options={"yield_per": BATCH}):
        yield tuple(row[position] for position in positions), CanonicalRow((names, *row))


def canonical_texts(target: sa.Connection, table: sa.Table) -> Iterator[tuple[Key, str]]:
    """The target's rows in key order as canonical JSON text written by PostgreSQL, streamed."""
    rows = _spelled_table(table)
    keys = [rows.c[column.name] for column in table.primary_key.columns]
    text = sa.cast(sa.func.row_to_json(sa.literal_column(rows.name)), sa.Text)
    for row in target.execute(sa.select(*keys, text).order_by(*keys), execution_options={"yield_per": BATCH}):
        yield tuple(row[:-1]), row[-1]
