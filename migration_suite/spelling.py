"""Target rows spelled by PostgreSQL in the checks' canonical encoding.

The checks compare target rows with their expectations in one canonical encoding: as
JSON, keys sorted, no spaces, non-ASCII characters as they are (`json.dumps(row,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)`); timestamptz as the ISO text
of the UTC instant with the fraction's trailing zeros dropped and `+00:00`, dates as
YYYY-MM-DD, numerics as text with their two decimals, arrays as lists: what PostgreSQL
writes in a session whose time zone is UTC and DateStyle ISO. PostgreSQL spells the
values, which spares building a Python datetime or Decimal for every value of a
million-row table; rows compare as tuples of those values, or as the JSON that
`row_to_json` writes exactly as Python would, or as digests of segments of such JSON
(tests/test_spelling.py holds the writings equal on tricky values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import KeyedColumnElement

from pytest_migration.checks import segments
from pytest_migration.checks.rowdiff import Key

from .oracle import canonical_json

if TYPE_CHECKING:
    import psycopg

BATCH = 10_000


@contextmanager
def _canonical_session(target: sa.Connection) -> Iterator[sa.Connection]:
    """A connection of its own whose session writes timestamptz as the UTC instant, ISO style.

    The settings last as long as its transaction, so the pool gets the connection back as it was.
    """
    with target.engine.connect() as connection:
        connection.execute(sa.text("SET LOCAL TIME ZONE 'UTC'"))
        connection.execute(sa.text("SET LOCAL DateStyle = 'ISO'"))
        yield connection


def spelled(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """Select `column` spelled in the canonical encoding (other types as they are), in a canonical session.

    The text output of a timestamptz, "2023-07-14 08:00:00.5+00", is the cheapest to get
    there (a sixth of to_char's cost).
    """
    if isinstance(column.type, sa.DateTime):
        return (sa.func.replace(sa.cast(column, sa.Text), " ", "T", type_=sa.Text) + ":00").label(column.name)
    if isinstance(column.type, (sa.Date, sa.Numeric)):
        return sa.cast(column, sa.Text).label(column.name)
    return column


def _json_ready(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """Select `column` as `row_to_json` writes it canonically in a canonical session: numerics as text."""
    return sa.cast(column, sa.Text).label(column.name) if isinstance(column.type, sa.Numeric) else column


def canonical_names(table: sa.Table) -> tuple[str, ...]:
    """The table's column names in the order of canonical JSON's keys."""
    return tuple(sorted(column.name for column in table.columns))


def spelled_rows(target: sa.Connection, table: sa.Table) -> Iterator[tuple[Key, Sequence[Any]]]:
    """The target's rows in key order, each as its canonical values in column-name order, streamed."""
    rows = sa.select(*(spelled(table.columns[name]) for name in canonical_names(table))).subquery("spelled")
    keys = [rows.c[column.name] for column in table.primary_key.columns]
    statement = sa.select(*keys, rows).order_by(*keys)
    width = len(keys)
    with _canonical_session(target) as connection:
        for row in _streamed(connection, statement):
            yield row[:width], row[width:]


def show_row(table: sa.Table) -> Callable[[Sequence[Any]], str]:
    """Show a row of canonical values in column-name order as its canonical JSON, for a failure message."""
    names = canonical_names(table)
    return lambda values: canonical_json(dict(zip(names, values, strict=True)))


def _json_rows(table: sa.Table) -> tuple[sa.Subquery, list[KeyedColumnElement[Any]], sa.ColumnElement[str]]:
    """The table's rows made JSON-ready, their key columns, and the canonical JSON text of a row."""
    rows = sa.select(*(_json_ready(table.columns[name]) for name in canonical_names(table))).subquery("json_ready")
    keys = [rows.c[column.name] for column in table.primary_key.columns]
    return rows, keys, sa.cast(sa.func.row_to_json(sa.literal_column(rows.name)), sa.Text)


def _within(first_key: sa.ColumnElement[Any], within: tuple[int, int]) -> sa.ColumnElement[bool]:
    return sa.and_(first_key >= within[0], first_key < within[1])


def canonical_texts(
    target: sa.Connection, table: sa.Table, within: tuple[int, int] | None = None
) -> Iterator[tuple[Key, str]]:
    """The target's rows in key order as canonical JSON text written by PostgreSQL, streamed.

    `within`: only the rows whose first key value lies in [low, high).
    """
    rows, keys, text = _json_rows(table)
    statement = sa.select(*keys, text).order_by(*keys)
    if within is not None:
        statement = statement.where(_within(keys[0], within))
    with _canonical_session(target) as connection:
        for row in _streamed(connection, statement):
            yield row[:-1], row[-1]


def _streamed(connection: sa.Connection, statement: sa.Select[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of `statement` as psycopg's plain tuples, from a server-side cursor.

    SQLAlchemy's streamed rows cost a third of the time of reading a million spelled rows,
    and iterating the cursor row by row another sixth, where a batch is a list; the values
    are text, integers, booleans and lists, which psycopg gives as they are.
    """
    compiled = statement.compile(dialect=connection.dialect)
    driver = cast("psycopg.Connection[tuple[Any, ...]]", connection.connection.driver_connection)
    with driver.cursor(name="spelled") as cursor:
        cursor.execute(str(compiled), compiled.params)
        while batch := cursor.fetchmany(BATCH):
            yield from batch


def segment_digests(target: sa.Connection, table: sa.Table) -> dict[int, str]:
    """The digest of each segment of the target's canonical JSON rows, computed by PostgreSQL.

    One query per segment, over its key range: from PostgreSQL 16 on, the primary key's
    index gives the rows in key order and they are aggregated without a sort. The text is
    digested as UTF-8 whatever the database's encoding, as Python digests it.
    """
    _, keys, text = _json_rows(table)
    first, size = sa.cast(keys[0], sa.Numeric), sa.literal(segments.SIZE, sa.Numeric)
    # Floor division in exact arithmetic, as Python's // (a negative key's segment included).
    numbers = sa.select(sa.func.div(first - sa.func.mod(sa.func.mod(first, size) + size, size), size)).distinct()
    joined = sa.func.string_agg(text, aggregate_order_by(sa.literal("\n"), *keys))
    aggregate = sa.func.md5(sa.func.convert_to(joined, "UTF8"))
    found: dict[int, str] = {}
    with _canonical_session(target) as connection:
        for number in connection.execute(numbers).scalars().all():
            within = segments.bounds(int(number))
            found[int(number)] = connection.execute(sa.select(aggregate).where(_within(keys[0], within))).scalar_one()
    return found
