"""How a suite describes one legacy table's way into one target table.

The description is data: a converter for the value and row rules, applied batch by batch
in Python, and set rules (key and reference rules) applied in SQL to the staged rows,
in order, the first that matches giving the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import polars as pl

Row = tuple[Any, ...]


@dataclass
class ConvertedBatch:
    """A batch after the value and row rules: rows for the target, and rejected rowids.

    Converted rows come as Python tuples (`rows`), as a polars DataFrame (`frame`), or
    both: a converter that works on columns hands its rows over as columns, and the
    loader COPYs each form as it is. A row is in exactly one of them.
    """

    rows: list[Row] = field(default_factory=list)
    """(rowid, *target values in the target table's column order)"""
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(index of the source row in the batch, reason)"""
    frame: pl.DataFrame | None = None
    """more converted rows: the columns of `rows`, in the same order, typed for the target
    (e.g. Int64, String, Datetime with a time zone for timestamptz, Date, Decimal, Boolean,
    List of integers for an array); column names are free"""


Converter = Callable[[Sequence[Row]], ConvertedBatch]
"""Takes source rows as (rowid, *legacy values in the legacy column order)."""


@dataclass(frozen=True)
class SetRule:
    """A key or reference rule: `offends(stage)` is true for the staged rows that break it."""

    reason: str
    offends: Callable[[sa.Table], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class TableMigration:
    """One legacy table migrated into one target table."""

    target: sa.Table
    source_columns: tuple[str, ...]
    source_key: tuple[str, ...]
    convert: Converter
    key_rules: tuple[SetRule, ...] = ()
    reference_rules: tuple[SetRule, ...] = ()
    source_table: str = ""

    @property
    def name(self) -> str:
        """The legacy table's name (the target's unless told otherwise)."""
        return self.source_table or self.target.name

    @property
    def set_rules(self) -> tuple[SetRule, ...]:
        """Key rules, then reference rules: the order in which they decide a reason."""
        return self.key_rules + self.reference_rules
