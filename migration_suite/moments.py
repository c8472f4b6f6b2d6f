"""Read whole columns of timestamps and dates with polars, by MIGRATION_RULES.md section 2.

`read_moments` takes stripped text and gives, for each row, the UTC instant and, for a
wall-clock form, the date as written, or says that the row is not certain. The patterns
are the readers' own forms; a value of no form, with an impossible date or time, or out of
the years 1900-2100 is left uncertain, for the per-row readers to name its reason.
Wall-clock times take the zone's fold=0 offset from `zones`, as the readers do.

The work is staged: each step materialises its columns before the next uses them, since
one nested expression would repeat every shared part (polars expands expressions to trees).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import polars as pl

from .zones import MICROSECONDS_PER_DAY, MICROSECONDS_PER_SECOND, zone_offsets

__all__ = ["INSTANT", "MOMENT_CERTAIN", "WRITTEN_DAY", "read_moments"]

INSTANT = "instant"
"""UTC microseconds since the epoch (Int64); null for NULL, blank and zero dates"""
WRITTEN_DAY = "written_day"
"""days since the epoch of the date a wall-clock form writes (Int64), else null"""
MOMENT_CERTAIN = "moment_certain"
"""true where the other two are certainly what the readers return"""

_ISO = (
    r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?::?(?P<offset_minutes>[0-9]{2}))?)?)?$"
)
_DAY_FIRST = (
    r"^(?P<day>[0-9]{1,2})/(?P<month>[0-9]{1,2})/(?P<year>[0-9]{4})"
    r"(?: (?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?)?$"
)
_EPOCH = r"^(?:[0-9]{9,10}|[0-9]{13})$"
_CLOCK_FIELDS = ("year", "month", "day", "hour", "minute", "second")
_FIRST_YEAR, _LAST_YEAR = 1900, 2100
# Microseconds since the epoch of 1900-01-01 and 2101-01-01 UTC: the instants accepted.
_FIRST_INSTANT = -2_208_988_800 * MICROSECONDS_PER_SECOND
_END_INSTANT = 4_133_980_800 * MICROSECONDS_PER_SECOND
_EPOCH_MILLISECONDS_DIGITS = 13
# Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
_DAYS_BEFORE_EPOCH = 719_468


def _days_from_civil(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """Count days since 1970-01-01 of a valid date (H. Hinnant's days_from_civil)."""
    shifted_year = year - (month <= 2).cast(pl.Int64)
    era = shifted_year // 400
    year_of_era = shifted_year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - _DAYS_BEFORE_EPOCH


def _days_in_month(year: pl.Expr, month: pl.Expr) -> pl.Expr:
    """Give the length of a month of the proleptic Gregorian calendar, as `datetime.date` knows it."""
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    return pl.when(month == 2).then(28 + leap.cast(pl.Int64)).when(month.is_in([4, 6, 9, 11])).then(30).otherwise(31)


def _between(value: pl.Expr, low: int, high: int) -> pl.Expr:
    return (value >= low) & (value <= high)


def _fields(text: pl.Expr) -> list[pl.Expr]:
    """Split the text by the three forms into numbers (Int64, null where absent), and flags."""
    iso = pl.col("_iso").struct
    day_first = pl.col("_day_first").struct
    # The forms never both match (the fifth character is '-' or never is), so each clock
    # field comes from whichever matched; hours, minutes and seconds may be absent.
    clock = [pl.coalesce(iso.field(name), day_first.field(name)).cast(pl.Int64).alias(name) for name in _CLOCK_FIELDS]
    sign = pl.when(iso.field("sign") == "-").then(-1).otherwise(1)
    # Z has neither hours nor minutes: offset 0.
    offset_hours = iso.field("offset_hours").cast(pl.Int64).fill_null(0)
    offset_minutes = iso.field("offset_minutes").cast(pl.Int64).fill_null(0)
    return [
        *clock,
        (iso.field("year").is_not_null() | day_first.field("year").is_not_null()).alias("matched"),
        iso.field("fraction").str.pad_end(6, "0").cast(pl.Int64).fill_null(0).alias("micro"),
        iso.field("offset").is_not_null().alias("has_offset"),
        (sign * (offset_hours * 60 + offset_minutes) * 60 * MICROSECONDS_PER_SECOND).alias("offset"),
        ((offset_hours <= 23) & (offset_minutes <= 59)).alias("offset_valid"),
        pl.col("_epoch").cast(pl.Int64).alias("epoch"),
        (pl.col("_epoch").str.len_bytes() == _EPOCH_MILLISECONDS_DIGITS).alias("milliseconds"),
        (text.str.len_bytes().fill_null(0) == 0).alias("missing"),
    ]


def read_moments(frame: pl.LazyFrame, text: pl.Expr, zone: ZoneInfo) -> pl.LazyFrame:
    """Read stripped timestamp text (NULL or empty: NULL) in any form, as INSTANT, WRITTEN_DAY, MOMENT_CERTAIN."""
    year, month, day = pl.col("year"), pl.col("month"), pl.col("day")
    hour, minute, second = (pl.col(name).fill_null(0) for name in ("hour", "minute", "second"))
    zero_date = (year == 0) & (month == 0) & (day == 0)
    wall_clock = pl.col("matched") & ~zero_date & ~pl.col("has_offset")
    with_offset = pl.col("matched") & ~zero_date & pl.col("has_offset")
    valid_clock = (
        _between(month, 1, 12)
        & (day >= 1)
        & (day <= _days_in_month(year, month))
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )
    local, instant_of_offset = pl.col("local"), pl.col("local") - pl.col("offset")
    milliseconds, epoch = pl.col("milliseconds"), pl.col("epoch")
    epoch_limit = pl.when(milliseconds).then(_END_INSTANT // 1000).otherwise(_END_INSTANT // MICROSECONDS_PER_SECOND)
    # Clipped so that an epoch past 2100 (uncertain anyway) cannot overflow when scaled.
    epoch_scale = pl.when(milliseconds).then(1000).otherwise(MICROSECONDS_PER_SECOND)
    epoch_instant = epoch.clip(upper_bound=epoch_limit) * epoch_scale
    return (
        frame.select(text.alias("_text"))
        .with_columns(
            pl.col("_text").str.extract_groups(_ISO).alias("_iso"),
            pl.col("_text").str.extract_groups(_DAY_FIRST).alias("_day_first"),
            pl.when(pl.col("_text").str.contains(_EPOCH)).then(pl.col("_text")).alias("_epoch"),
        )
        .select(_fields(pl.col("_text")))
        .with_columns(
            _days_from_civil(year, month, day).alias("days"),
            zero_date.alias("zero_date"),
            wall_clock.alias("wall_clock"),
            with_offset.alias("with_offset"),
            valid_clock.alias("valid_clock"),
        )
        .with_columns(
            (
                pl.col("days") * MICROSECONDS_PER_DAY
                + ((hour * 60 + minute) * 60 + second) * MICROSECONDS_PER_SECOND
                + pl.col("micro")
            ).alias("local")
        )
        .select(
            pl.when(pl.col("wall_clock"))
            .then(local - zone_offsets(zone).of_wall_clock(local))
            .when(pl.col("with_offset"))
            .then(instant_of_offset)
            .when(epoch.is_not_null())
            .then(epoch_instant)
            .alias(INSTANT),
            pl.when(pl.col("wall_clock")).then(pl.col("days")).alias(WRITTEN_DAY),
            (
                pl.col("missing")
                | (pl.col("matched") & pl.col("zero_date"))
                | (pl.col("wall_clock") & pl.col("valid_clock") & _between(year, _FIRST_YEAR, _LAST_YEAR))
                # readers.py takes a written year of 1899-2101 with an offset, if the instant is in range.
                | (
                    pl.col("with_offset")
                    & pl.col("valid_clock")
                    & pl.col("offset_valid")
                    & _between(year, _FIRST_YEAR - 1, _LAST_YEAR + 1)
                    & (instant_of_offset >= _FIRST_INSTANT)
                    & (instant_of_offset < _END_INSTANT)
                )
                | (epoch < epoch_limit)
            )
            .fill_null(False)
            .alias(MOMENT_CERTAIN),
        )
    )
