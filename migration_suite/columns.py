"""Column rules: how one legacy column is read, one value at a time or a whole column at once.

A rule's `read` applies readers.py to one value: the reference of MIGRATION_RULES.md
section 2, exact for every value. Its `read_column` applies the same rule to a whole column
with polars and says, row by row, whether the value it read is certain. It only claims
certainty where its strict patterns leave no doubt; everything else (an odd spelling, an
invalid value, a value of an unexpected Python type) is left to `read`, which also names
the reason of a value that breaks the rule.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import polars as pl

from . import readers
from .moments import INSTANT, MOMENT_CERTAIN, WRITTEN_DAY, read_moments
from .readers import Invalid, Legacy
from .zones import MICROSECONDS_PER_DAY, zone_offsets

__all__ = [
    "CERTAIN",
    "RAW",
    "VALUE",
    "Boolean",
    "ColumnRule",
    "Date",
    "Email",
    "Enum",
    "Integer",
    "Money",
    "Participants",
    "Serial",
    "Text",
    "Timestamp",
]

RAW = "raw"
"""the column a rule reads: legacy values, null where NULL (or of another Python type)"""
VALUE = "value"
"""the column of read values a rule gives"""
CERTAIN = "certain"
"""the column saying where a value is certainly what `read` gives"""
_TEXT = "text"

# Every character str.isspace() accepts: readers remove exactly these inside amounts.
# All lie in the Basic Multilingual Plane (a test holds it against every code point);
# scanning only that plane spares every process a tenth of a second at start.
_PYTHON_WHITESPACE = "".join(filter(str.isspace, map(chr, range(0x10000))))
_WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(char):x}}}" for char in _PYTHON_WHITESPACE) + "]"
_PRINTABLE_ASCII = r"^[ -~]+$"


def _read(frame: pl.LazyFrame, value: pl.Expr, certain: pl.Expr) -> pl.LazyFrame:
    """Give a rule's result: the read values and where they are certain."""
    return frame.select(value.alias(VALUE), certain.fill_null(False).alias(CERTAIN))


def _stripped() -> pl.Expr:
    """Strip RAW as the readers do, where the patterns can tell.

    polars strips Unicode White_Space, which is str.isspace() less U+001C..U+001F. Text
    that Python would strip further keeps such a character at one end, and every rule's
    certain pattern refuses it there, so the difference only ever makes a row uncertain.
    """
    return pl.col(RAW).str.strip_chars()


def _with_text(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the stripped text as column _TEXT, null when empty as the readers read it."""
    text = _stripped()
    return frame.with_columns(pl.when(text != "").then(text).alias(_TEXT))


class ColumnRule(ABC):
    """How one legacy column is read: per value with readers.py, per column with polars."""

    dtype: ClassVar[pl.DataType]
    """the polars type of the values `read_column` gives"""
    source_type: ClassVar[type] = str
    """the Python type of the legacy values `read_column` reads; others go through `read`"""
    distinct: ClassVar[bool] = False
    """read each distinct value once and join the results back: worth it where reading
    costs more than a hash join and values repeat (timestamps, few spellings)"""

    @abstractmethod
    def read(self, value: Legacy) -> Any:
        """Read one legacy value, raising `Invalid` when it breaks the rule."""

    @abstractmethod
    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """Read the column `RAW` of `frame` into columns `VALUE` and `CERTAIN`, row for row, in order."""

    def reason(self, kind: str, column: str) -> str:
        """Spell the quarantine reason of a value of `column` that broke the rule."""
        return f"{kind}:{column}"


@dataclass(frozen=True)
class Text(ColumnRule):
    """Free text, copied exactly."""

    dtype: ClassVar[pl.DataType] = pl.String()

    def read(self, value: Legacy) -> str | None:
        return readers.read_text(value)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        raw = pl.col(RAW)
        # Lone surrogates and bytes never reach a polars String column; NUL does.
        return _read(frame, raw, ~raw.str.contains("\x00", literal=True) | raw.is_null())


@dataclass(frozen=True)
class Integer(ColumnRule):
    """An id, a reference or a position; `bits` is the target column's size (bigint or integer)."""

    bits: int = 64
    dtype: ClassVar[pl.DataType] = pl.Int64()
    # SQLite's INTEGER columns hold ints; text there (even ' 12 ') is rare: read per row.
    source_type: ClassVar[type] = int

    def read(self, value: Legacy) -> int | None:
        number = readers.read_integer(value)
        # A value the target column cannot hold is no integer of that column.
        if number is not None and not -self._limit <= number < self._limit:
            raise Invalid("invalid_integer")
        return number

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        # An Int64 column only holds ints within bigint, which read as themselves; a
        # narrower target leaves the values out of its range to `read`.
        raw = pl.col(RAW)
        return _read(frame, raw, raw.is_null() | raw.is_between(-self._limit, self._limit - 1))

    @property
    def _limit(self) -> int:
        return 2 ** (self.bits - 1)


@dataclass(frozen=True)
class Email(ColumnRule):
    """An email, lower-cased; `empty` is what a missing one becomes."""

    empty: str | None
    dtype: ClassVar[pl.DataType] = pl.String()

    def read(self, value: Legacy) -> str | None:
        return readers.read_email(value, empty=self.empty)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        text = pl.col(_TEXT)
        # Only ASCII is certain: Unicode case mappings may differ between Python and Rust.
        lowered = pl.when(text.is_null()).then(pl.lit(self.empty, pl.String)).otherwise(text.str.to_lowercase())
        return _read(_with_text(frame), lowered, text.is_null() | text.str.contains(_PRINTABLE_ASCII))


@dataclass(frozen=True)
class Serial(ColumnRule):
    """A serial number, upper-cased; NULL is left to the key rule missing_serial_number."""

    dtype: ClassVar[pl.DataType] = pl.String()

    def read(self, value: Legacy) -> str | None:
        return readers.read_serial(value)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        text = pl.col(_TEXT)
        return _read(_with_text(frame), text.str.to_uppercase(), text.is_null() | text.str.contains(_PRINTABLE_ASCII))


@dataclass(frozen=True)
class Timestamp(ColumnRule):
    """A *_at value, as a UTC instant; wall-clock forms are local to `zone`."""

    zone: ZoneInfo
    dtype: ClassVar[pl.DataType] = pl.Datetime("us", "UTC")
    distinct: ClassVar[bool] = True

    def read(self, value: Legacy) -> Any:
        return readers.read_timestamp(value, self.zone)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        moments = read_moments(frame, _stripped(), self.zone)
        return _read(moments, pl.col(INSTANT).cast(self.dtype), pl.col(MOMENT_CERTAIN))


@dataclass(frozen=True)
class Date(ColumnRule):
    """A date: the written one, or an instant's date in `zone`."""

    zone: ZoneInfo
    dtype: ClassVar[pl.DataType] = pl.Date()
    distinct: ClassVar[bool] = True

    def read(self, value: Legacy) -> Any:
        return readers.read_date(value, self.zone)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        instant = pl.col(INSTANT)
        local = instant + zone_offsets(self.zone).of_instant(instant)
        day = pl.coalesce(pl.col(WRITTEN_DAY), local // MICROSECONDS_PER_DAY)
        return _read(read_moments(frame, _stripped(), self.zone), day.cast(self.dtype), pl.col(MOMENT_CERTAIN))


# Money after whitespace and currency are removed, by where its decimal separator is:
# a last ',' after digits and dots, a last '.' after digits and commas, or none at all
# (plain digits, or groups of three behind two or more separators of one kind).
_CURRENCY = r"(?:€|[Ee][Uu][Rr])$"
_DECIMAL_COMMA = r"^[0-9.]*,[0-9]{1,2}$"
_DECIMAL_DOT = r"^[0-9,]*\.[0-9]{1,2}$"
_WHOLE = r"^[0-9]+$|^[0-9]+(?:,[0-9]{3}){2,}$|^[0-9]+(?:\.[0-9]{3}){2,}$"
_AMOUNT = r"^[0-9]+(?:\.[0-9]{1,2})?$"
# At most 9999999999.99 once leading zeros are gone (they may all be gone: "0.5" -> ".5").
_AMOUNT_IN_RANGE = r"^[0-9]{0,10}(?:\.[0-9]{1,2})?$"


@dataclass(frozen=True)
class Money(ColumnRule):
    """An amount or cost written in any legacy habit, as numeric(12,2)."""

    dtype: ClassVar[pl.DataType] = pl.Decimal(12, 2)

    def read(self, value: Legacy) -> Any:
        return readers.read_money(value)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        text, number, amount = pl.col(_TEXT), pl.col("number"), pl.col("amount")
        significant = amount.str.strip_chars_start("0")
        # The Decimal cast wants a digit before the point and counts leading zeros as digits.
        decimal = (
            pl.when(significant.str.starts_with(".") | (significant == ""))
            .then(pl.concat_str(pl.lit("0"), significant))
            .otherwise(significant)
        )
        certain = text.is_null() | (amount.str.contains(_AMOUNT) & significant.str.contains(_AMOUNT_IN_RANGE))
        return _read(
            _with_text(frame)
            .with_columns(text.str.replace_all(_WHITESPACE_CLASS, "").str.replace(_CURRENCY, "").alias("number"))
            .with_columns(
                pl.when(number.str.contains(_DECIMAL_COMMA))
                .then(number.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
                .when(number.str.contains(_DECIMAL_DOT))
                .then(number.str.replace_all(",", "", literal=True))
                .when(number.str.contains(_WHOLE))
                .then(number.str.replace_all(r"[.,]", ""))
                .alias("amount")
            ),
            decimal.cast(self.dtype, strict=False),
            certain,
        )


class _FewSpellings(ColumnRule):
    """A rule over few distinct spellings, read by `read` itself, once per distinct spelling.

    Booleans and enumerations take a few dozen spellings (case, padding, separators): the
    converter hands over each distinct one once, so the reader is both exact and cheap.
    """

    distinct: ClassVar[bool] = True

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.map_batches(self._read_spellings, schema={VALUE: self.dtype, CERTAIN: pl.Boolean()})

    def _read_spellings(self, frame: pl.DataFrame) -> pl.DataFrame:
        values: list[Any] = []
        certain: list[bool] = []
        for spelling in frame.get_column(RAW).to_list():
            try:
                values.append(self.read(spelling))
                certain.append(True)
            except Invalid:
                values.append(None)
                certain.append(False)
        return pl.DataFrame({VALUE: pl.Series(values, dtype=self.dtype), CERTAIN: pl.Series(certain, dtype=pl.Boolean)})


@dataclass(frozen=True)
class Boolean(_FewSpellings):
    """tasks.is_done, where a missing value means not done."""

    dtype: ClassVar[pl.DataType] = pl.Boolean()

    def read(self, value: Legacy) -> bool:
        return readers.read_boolean(value)


@dataclass(frozen=True)
class Enum(_FewSpellings):
    """A role, status or priority among `values`; NULL takes `default`."""

    values: tuple[str, ...]
    default: str | None
    dtype: ClassVar[pl.DataType] = pl.String()

    @cached_property
    def allowed(self) -> frozenset[str]:
        """The allowed names as the reader takes them."""
        return frozenset(self.values)

    def read(self, value: Legacy) -> str | None:
        return readers.read_enum(value, self.allowed, self.default)


# Ids of 1 to 18 significant digits: certainly between 1 and bigint max.
_ID = r"0*[1-9][0-9]{0,17}"
_LISTED = rf"^ *{_ID} *(?:, *{_ID} *)*$"
# JSON numbers have no leading zeros; JSON strings hold the digits with spaces around.
_JSON_ID = rf'(?:[1-9][0-9]{{0,17}}|" *{_ID} *")'
_JSON_ARRAY = rf"^\[ *{_JSON_ID}(?: *, *{_JSON_ID})* *\]$"


@dataclass(frozen=True)
class Participants(ColumnRule):
    """chat_conversations.participants: distinct user ids sorted ascending, never empty."""

    dtype: ClassVar[pl.DataType] = pl.List(pl.Int64)

    def read(self, value: Legacy) -> list[int]:
        return readers.read_participants(value)

    def read_column(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        text = pl.col(_TEXT)
        numbers = text.str.extract_all("[0-9]+").list.eval(pl.element().cast(pl.Int64, strict=False))
        ids = numbers.list.unique().list.sort()
        return _read(_with_text(frame), ids, text.str.contains(_LISTED) | text.str.contains(_JSON_ARRAY))

    def reason(self, kind: str, column: str) -> str:
        """Participants reasons stand alone, without the column (section 3); invalid_text
        names its column, as for any column (section 2)."""
        return kind if kind in {"empty_participants", "invalid_participants"} else super().reason(kind, column)
