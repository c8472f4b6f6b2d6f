"""Convert a batch column by column with polars, and only its uncertain rows one by one.

Row-by-row Python reads about 2 µs a value, too slow to match pgloader (DESIGN.md); polars
reads a column of timestamps at a fraction of that. Most legacy rows are clean, so each
column rule reads its whole column and says which rows it read with certainty; a row that
every rule and the row rule are certain about goes into the batch's columnar frame. Every
other row (a value of an unexpected Python type, an odd spelling, an invalid value, a
broken row rule) goes through the per-row reference converter, which gives its exact
values or the exact reason of its first failing rule. Both paths share the column rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import compress, count, repeat
from operator import is_not, itemgetter
from typing import TYPE_CHECKING, Any, Protocol, Self

import polars as pl

from pytest_migration.engine.spec import ConvertedBatch, Row

from .columns import CERTAIN, RAW, VALUE, ColumnRule

if TYPE_CHECKING:
    from polars.lazyframe.in_process import InProcessQuery

    from .rules import RowConverter

__all__ = ["ROWID", "RowRule", "VectorisedConverter"]

ROWID = "_rowid"
"""The frame's first column: the source rowid, as the first item of every converted row."""
_CERTAIN = "_certain"
_NONE = type(None)
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
# What polars raises when a value does not fit the column's type (an int in a String
# column, bytes, a lone surrogate, an int past bigint, a float in an Int64 column...).
_REFUSED = (TypeError, ValueError, OverflowError)


class RowRule(Protocol):
    """A rule on a whole row after its values are read (section 3, rule 2)."""

    def __call__(self, values: dict[str, Any]) -> str | None:
        """Return the reason a row breaks the rule, or None; may fill values (a fallback)."""

    def vectorised(self, values: Mapping[str, pl.Expr]) -> tuple[dict[str, pl.Expr], pl.Expr]:
        """Return the columns the rule replaces, and where rows certainly pass it."""


# --- legacy values into polars columns -------------------------------------------------


def _fits(value: Any, wanted: type) -> bool:
    """Tell whether a legacy value can go into a polars column of `wanted` values."""
    if type(value) is not wanted:
        return False
    if isinstance(value, int):
        return _BIGINT_MIN <= value <= _BIGINT_MAX
    assert isinstance(value, str), "columns hold ints or str"
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _odd_types(values: Sequence[Any], wanted: type) -> list[int]:
    """Find the values neither None nor of the `wanted` type, comparing types in C."""
    types = list(map(type, values))
    if types.count(wanted) + types.count(_NONE) == len(types):
        return []
    others = compress(count(), map(is_not, types, repeat(wanted)))
    return [index for index in others if types[index] is not _NONE]


def _nulled(values: Sequence[Any], indices: list[int]) -> Sequence[Any]:
    """Give `values` with None at `indices` (a copy, when there are any)."""
    if not indices:
        return values
    kept = list(values)
    for index in indices:
        kept[index] = None
    return kept


def _column(values: Sequence[Any], wanted: type, expect_odd: bool) -> tuple[pl.Series, list[int]]:
    """Build the column `RAW` of the `wanted` Python type; other values (odd ones) become null.

    Returns the column and the indices of the odd values, whose rows only `read` can
    convert. A strict build refuses odd values, but a refused build costs a few builds, so
    a column that held odd values last time (in most batches some INTEGER column holds ''
    or 'n/a', some text column a BLOB) has its types scanned first.
    """
    dtype = pl.String if wanted is str else pl.Int64
    if not expect_odd:
        try:
            return pl.Series(RAW, values, dtype=dtype, strict=True), []
        except _REFUSED:
            pass
    odd = _odd_types(values, wanted)
    try:
        return pl.Series(RAW, _nulled(values, odd), dtype=dtype, strict=True), odd
    except _REFUSED:
        # A value of the wanted type that does not fit (a lone surrogate, an int past
        # bigint): rare enough to check every value.
        odd = [index for index, value in enumerate(values) if value is not None and not _fits(value, wanted)]
        return pl.Series(RAW, _nulled(values, odd), dtype=dtype, strict=True), odd


# --- reading columns in polars' threads ------------------------------------------------


def _value(position: int) -> str:
    return f"{VALUE}_{position}"


def _certain(position: int) -> str:
    return f"{CERTAIN}_{position}"


@dataclass(frozen=True)
class _Group:
    """Columns read by one query: those of one `distinct` rule together, or all others."""

    rules: tuple[tuple[int, ColumnRule], ...]
    """(position in the reference's column order, rule)"""

    @property
    def distinct(self) -> bool:
        """Whether the group is read over the distinct values of its columns."""
        return self.rules[0][1].distinct

    def query(self, raws: Sequence[pl.Series]) -> pl.LazyFrame:
        """Read the group's columns into VALUE_<position> and CERTAIN_<position>."""
        if not self.distinct:
            return pl.concat(
                [
                    rule.read_column(raws[position].to_frame().lazy()).select(
                        pl.col(VALUE).alias(_value(position)), pl.col(CERTAIN).alias(_certain(position))
                    )
                    for position, rule in self.rules
                ],
                how="horizontal",
            )
        # Each distinct value is read once; stacked columns then find theirs by a join.
        # `distinct` is used twice, side by side: in first-seen order, its rows line up
        # even if polars computed it twice (it shares it, measured: no extra cost).
        rule = self.rules[0][1]
        stacked = pl.concat([raws[position].to_frame().lazy() for position, _ in self.rules])
        distinct = stacked.unique(maintain_order=True)
        table = pl.concat([distinct, rule.read_column(distinct)], how="horizontal")
        return stacked.join(table, on=RAW, how="left", nulls_equal=True, maintain_order="left").select(VALUE, CERTAIN)

    def columns(self, read: pl.DataFrame, length: int) -> list[tuple[int, pl.Series, pl.Series]]:
        """Give (position, values, certain) of each column from the group's read."""
        if not self.distinct:
            return [
                (position, read.get_column(_value(position)), read.get_column(_certain(position)))
                for position, _ in self.rules
            ]
        return [
            (position, part.get_column(VALUE), part.get_column(CERTAIN))
            for (position, _), part in zip(self.rules, read.iter_slices(length), strict=True)
        ]


def _groups(columns: Sequence[tuple[str, ColumnRule]]) -> list[_Group]:
    """Group the columns of each `distinct` rule (created_at and updated_at share one), then the others.

    Distinct groups come first: theirs are the long queries, started while Python still
    builds the other columns.
    """
    shared: dict[ColumnRule, list[tuple[int, ColumnRule]]] = {}
    alone: list[tuple[int, ColumnRule]] = []
    for position, (_, rule) in enumerate(columns):
        if rule.distinct:
            shared.setdefault(rule, []).append((position, rule))
        else:
            alone.append((position, rule))
    groups = [_Group(tuple(rules)) for rules in shared.values()]
    return groups + [_Group(tuple(alone))] if alone else groups


class _Background:
    """Queries collected in polars' threads while Python goes on, each waited for exactly once.

    `collect(background=True)` measured 15-25% faster than collecting from a Python thread
    pool (polars calls it unstable: it warns only if POLARS_WARN_UNSTABLE is set). polars
    aborts the whole process when such a query ends after its handle is gone, so a
    conversion that fails half-way still waits for every query it started.
    """

    def __init__(self) -> None:
        self._running: list[InProcessQuery] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exception: object) -> None:
        if self._running:
            with suppress(BaseException):
                self.results()

    def start(self, query: pl.LazyFrame) -> None:
        """Start collecting `query`."""
        self._running.append(query.collect(background=True))

    def results(self) -> list[pl.DataFrame]:
        """Wait for every query started, in order; a failure is raised once all have ended."""
        running, self._running = self._running, []
        results: list[pl.DataFrame] = []
        failure: BaseException | None = None
        for query in running:
            try:
                results.append(query.fetch_blocking())
            except BaseException as error:  # noqa: BLE001 - the others must still be waited for
                failure = failure or error
        if failure is not None:
            raise failure
        return results


class VectorisedConverter:
    """The `Converter` of a table: its certain rows as a frame, the others per row.

    It reads the same column rules and row rule as its reference `RowConverter`, which
    converts the uncertain rows, so both paths always apply the same rules. A rule marked
    `distinct` reads each distinct value of its columns once (legacy timestamps repeat a
    lot: created_at = updated_at, sent_at = created_at), and the result is joined back.
    Each group's query runs in polars' threads while Python builds the next columns. It
    converts one batch at a time: it remembers which columns held odd values last time.
    """

    def __init__(self, reference: RowConverter) -> None:
        self.reference = reference
        """the per-row converter of the same rules, for the uncertain rows"""
        self._groups = _groups(reference.columns)
        self._held_odd: set[int] = set()
        """positions of the columns that held odd values in the last batch"""

    def __call__(self, batch: Sequence[Row]) -> ConvertedBatch:
        if not batch:
            return ConvertedBatch()
        read = self._read_columns(batch)
        uncertain = read.get_column(_CERTAIN).not_().arg_true().to_list()
        fallback = self.reference([batch[index] for index in uncertain])
        return ConvertedBatch(
            rows=fallback.rows,
            rejected=[(uncertain[index], reason) for index, reason in fallback.rejected],
            frame=read.filter(pl.col(_CERTAIN)).drop(_CERTAIN),
        )

    def _read_columns(self, batch: Sequence[Row]) -> pl.DataFrame:
        """Read every column, apply the row rule, and mark the rows read with certainty."""
        # One C-level pass per column: twice as fast as zip(*batch) on the batches here.
        columns = [list(map(itemgetter(position), batch)) for position in range(len(batch[0]))]
        raws: list[pl.Series] = [pl.Series()] * len(self.reference.columns)
        odd: list[int] = []
        with _Background() as background:
            for group in self._groups:
                for position, rule in group.rules:
                    expect_odd = position in self._held_odd
                    raws[position], odd_values = _column(columns[position + 1], rule.source_type, expect_odd)
                    if odd_values:
                        self._held_odd.add(position)
                        odd.extend(odd_values)
                    else:
                        self._held_odd.discard(position)
                background.start(group.query(raws))
            reads = background.results()
        values: dict[int, pl.Series] = {}
        certain = pl.repeat(True, len(batch), eager=True)
        for group, read in zip(self._groups, reads, strict=True):
            for position, column_values, column_certain in group.columns(read, len(batch)):
                values[position] = column_values
                certain &= column_certain
        if odd:
            certain = certain.scatter(odd, False)
        names = [name for name, _ in self.reference.columns]
        frame = pl.DataFrame(
            [
                pl.Series(ROWID, columns[0], dtype=pl.Int64),
                *(values[position].alias(name) for position, name in enumerate(names)),
                certain.alias(_CERTAIN),
            ]
        )
        expressions = {name: pl.col(name) for name in names}
        passes = pl.col(_CERTAIN)
        if self.reference.row_rule is not None:
            replaced, row_passes = self.reference.row_rule.vectorised(expressions)
            expressions |= replaced
            passes &= row_passes
        return frame.select(
            pl.col(ROWID),
            *(expressions.get(name, pl.lit(None)).alias(name) for name in self.reference.target_columns),
            passes.fill_null(False).alias(_CERTAIN),
        )
