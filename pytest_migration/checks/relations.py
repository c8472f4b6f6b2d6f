"""Set checks on a target's rows: orphans of a foreign key, duplicated keys, rows breaking a rule.

Each check is one SQL query built from SQLAlchemy tables and columns, so it works on any
suite's schema. It returns a `CheckResult`: how many offend, and the keys of the first few
(in key order, so a failure reads the same on every run) to show in the failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class CheckResult:
    """What a check found: the number of offenders and the keys of a few of them."""

    check: str
    count: int
    key_columns: tuple[str, ...]
    sample: tuple[tuple[Any, ...], ...]

    @property
    def passed(self) -> bool:
        """Whether nothing offends."""
        return self.count == 0

    def __str__(self) -> str:
        if self.passed:
            return f"{self.check}: expected 0, found 0"
        keys = "; ".join(
            "(" + ", ".join(f"{column}={value!r}" for column, value in zip(self.key_columns, row, strict=True)) + ")"
            for row in self.sample
        )
        return f"{self.check}: expected 0, found {self.count}; first {len(self.sample)}: {keys}"


def orphans(
    connection: sa.Connection, foreign_key: sa.ForeignKeyConstraint, sample_size: int = SAMPLE_SIZE
) -> CheckResult:
    """Child rows whose reference (every column set, as for a foreign key) matches no parent row."""
    child = foreign_key.table
    pairs = [(element.parent, element.column) for element in foreign_key.elements]
    referenced = pairs[0][1].table
    # An alias keeps the parent apart from the child when a table references itself.
    parent = referenced.alias("parent")
    matched = sa.exists().where(*(parent.c[column.name] == reference for reference, column in pairs))
    condition = sa.and_(*(reference.is_not(None) for reference, _ in pairs), ~matched)
    references = ", ".join(reference.name for reference, _ in pairs)
    targets = ", ".join(column.name for _, column in pairs)
    return _offenders(
        connection,
        f"{child.name}({references}) -> {referenced.name}({targets}): rows pointing at no parent",
        _unique([*child.primary_key.columns, *(reference for reference, _ in pairs)]),
        sa.select().select_from(child).where(condition),
        sample_size,
    )


def duplicates(
    connection: sa.Connection, columns: Sequence[sa.Column[Any]], sample_size: int = SAMPLE_SIZE
) -> CheckResult:
    """Values of `columns` (a key) held by more than one row; rows with a NULL in the key are not keys."""
    table = columns[0].table
    if any(column.table is not table for column in columns):
        raise ValueError("duplicates: every column of a key must belong to the same table")
    rows = sa.func.count().label("rows")
    grouped = (
        sa.select(*columns, rows)
        .where(*(column.is_not(None) for column in columns))
        .group_by(*columns)
        .having(sa.func.count() > 1)
        .subquery("duplicated")
    )
    names = ", ".join(column.name for column in columns)
    return _offenders(
        connection,
        f"{table.name}({names}): keys held by more than one row",
        [*(grouped.c[column.name] for column in columns), grouped.c.rows],
        sa.select().select_from(grouped),
        sample_size,
    )


def violations(
    connection: sa.Connection,
    table: sa.Table,
    predicate: sa.ColumnElement[bool],
    *,
    rule: str,
    key: Sequence[sa.Column[Any]] = (),
    sample_size: int = SAMPLE_SIZE,
) -> CheckResult:
    """Rows of `table` for which `predicate` is not true (false or NULL), named by `rule`.

    The sample shows `key`, by default the primary key (every column when there is none).
    """
    shown = list(key) or list(table.primary_key.columns) or list(table.columns)
    return _offenders(
        connection,
        f"{table.name}: rows breaking {rule}",
        shown,
        sa.select().select_from(table).where(predicate.is_not(True)),
        sample_size,
    )


def _offenders(
    connection: sa.Connection,
    check: str,
    key: Sequence[sa.ColumnElement[Any]],
    query: sa.Select[Any],
    sample_size: int,
) -> CheckResult:
    """Count the rows of `query` and fetch the first few keys, in one pass over them."""
    total = sa.func.count().over().label("offenders")
    rows = connection.execute(query.add_columns(*key, total).order_by(*key).limit(sample_size)).all()
    return CheckResult(
        check=check,
        count=int(rows[0][-1]) if rows else 0,
        key_columns=tuple(str(column.name) for column in key),
        sample=tuple(tuple(row[:-1]) for row in rows),
    )


def _unique(columns: Sequence[sa.Column[Any]]) -> list[sa.Column[Any]]:
    """Drop repeated columns, keeping the first occurrence's place."""
    return list(dict.fromkeys(columns))
