"""How a suite describes one legacy table's way into one target table.

The description is data: a converter for the value and row rules, applied batch by batch
in Python, and set rules (key and reference rules) applied in SQL to the loaded rows,
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
class Loaded:
    """A table's rows as loaded, waiting for the key and reference rules to decide them.

    They wait in a stage table, or in the target table itself when its key is the legacy
    rowid (offenders are then deleted from it, rule after rule).
    """

    rows: sa.Table
    rowid: str
    """the column of `rows` holding each row's legacy rowid"""
    undecided: sa.ColumnElement[bool]
    """true for the rows that no earlier rule quarantined"""
    staged: bool
    """whether `rows` is a stage (its undecided rows are copied into the target at the end)"""


@dataclass(frozen=True)
class SetRule:
    """A key or reference rule: `offends(loaded)` is true for the loaded rows that break it."""

    reason: str
    offends: Callable[[Loaded], sa.ColumnElement[bool]]


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
    rowid_column: str | None = None
    """the target column that holds the legacy rowid (the legacy INTEGER PRIMARY KEY), if
    any: such a table is loaded straight into the target, with no stage to copy from"""

    @property
    def name(self) -> str:
        """The legacy table's name (the target's unless told otherwise)."""
        return self.source_table or self.target.name

    @property
    def set_rules(self) -> tuple[SetRule, ...]:
        """Key rules, then reference rules: the order in which they decide a reason."""
        return self.key_rules + self.reference_rules
