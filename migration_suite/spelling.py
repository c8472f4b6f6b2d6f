"""Target values spelled by PostgreSQL in the checks' canonical encoding.

The checks compare target rows with expectations encoded as canonical JSON: timestamptz as
`datetime.isoformat()` of the UTC value (microseconds only when non-zero), dates as
YYYY-MM-DD, numerics as their text with two decimals. Spelling them in SQL spares building a
Python datetime or Decimal for every value of a million-row table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from pytest_migration.checks.rowdiff import Key

from .oracle import canonical_json

BATCH = 10_000


def spelled(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """Select `column` spelled in the canonical encoding (other types as they are)."""
    if isinstance(column.type, sa.DateTime):
        utc = sa.func.timezone("UTC", column, type_=sa.DateTime)
        seconds = sa.func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS', type_=sa.Text)
        fraction = sa.case((sa.func.date_trunc("second", utc) == utc, ""), else_=sa.func.to_char(utc, ".US"))
        return (seconds + fraction + "+00:00").label(column.name)
    if isinstance(column.type, sa.Date):
        return sa.func.to_char(column, "YYYY-MM-DD", type_=sa.Text).label(column.name)
    if isinstance(column.type, sa.Numeric):
        return sa.cast(column, sa.Text).label(column.name)
    return column


class CanonicalRow(tuple[Any, ...]):
    """A row's canonical values after the tuple of its column names: compared as a tuple, shown as canonical JSON.

    Encoding a million rows as JSON on both sides would cost as much as the oracle itself;
    comparing the canonical values is the same comparison (the column types are test_schema's
    concern), and a failure still shows each row as canonical JSON.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return canonical_json(dict(zip(self[0], self[1:], strict=True)))


def canonical_names(table: sa.Table) -> tuple[str, ...]:
    """The table's column names in the order of canonical JSON's keys."""
    return tuple(sorted(column.name for column in table.columns))


def spelled_rows(target: sa.Connection, table: sa.Table) -> Iterator[tuple[Key, CanonicalRow]]:
    """The target's rows in key order, each as its canonical values in column-name order, streamed."""
    names = canonical_names(table)
    positions = [names.index(column.name) for column in table.primary_key.columns]
    statement = sa.select(*(spelled(table.columns[name]) for name in names)).order_by(*table.primary_key.columns)
    for row in target.execute(statement, execution_options={"yield_per": BATCH}):
        yield tuple(row[position] for position in positions), CanonicalRow((names, *row))


def canonical_json_sql(table: sa.Table) -> sa.ColumnElement[str]:
    """A target row as canonical JSON text, written by PostgreSQL.

    `to_json` escapes text as `json.dumps(ensure_ascii=False)` does (quote, backslash and
    control characters; lower-case hex) and writes arrays without spaces, so the text is
    exactly what the generator and the oracle write (tests/test_spelling.py holds it).
    """
    parts: list[sa.ColumnElement[str]] = []
    for index, name in enumerate(canonical_names(table)):
        value = sa.func.coalesce(sa.cast(sa.func.to_json(spelled(table.columns[name])), sa.Text), "null")
        parts += [sa.literal(("{" if index == 0 else ",") + json.dumps(name) + ":"), value]
    return sa.func.concat(*parts, "}")


def canonical_texts(target: sa.Connection, table: sa.Table) -> Iterator[tuple[Key, str]]:
    """The target's rows in key order as canonical JSON text, streamed: PostgreSQL does the writing."""
    keys = list(table.primary_key.columns)
    statement = sa.select(*keys, canonical_json_sql(table)).order_by(*keys)
    for row in target.execute(statement, execution_options={"yield_per": BATCH}):
        yield tuple(row[:-1]), row[-1]
