"""Read one legacy SQLite value by the rules of MIGRATION_RULES.md section 2.

Every reader is a pure function of one value as Python's ``sqlite3`` returns it (``str``,
``bytes``, ``int``, ``float`` or ``None``). A value that breaks a rule raises `Invalid`,
whose ``kind`` is the quarantine reason without its column (the caller appends
``:<column>``). Decisions taken where the rules are silent are listed in
READERS_DECISIONS.md; the comments below say why the code is shaped as it is.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeAlias
from zoneinfo import ZoneInfo

__all__ = [
    "Invalid",
    "Legacy",
    "read_boolean",
    "read_date",
    "read_email",
    "read_enum",
    "read_integer",
    "read_money",
    "read_participants",
    "read_serial",
    "read_text",
    "read_timestamp",
]

Legacy: TypeAlias = str | bytes | int | float | None

_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1
_BIGINT_DIGITS = 19


class Invalid(Exception):
    """A legacy value breaks a reading rule; `kind` is the reason without its column."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


# --- text -------------------------------------------------------------------------------


def _text(value: Legacy) -> str | None:
    """Return the value as storable text, since every rule reads text and PostgreSQL refuses NUL."""
    if type(value) is str:
        if "\x00" in value:
            raise Invalid("invalid_text")
        if not value.isascii():
            try:
                # A lone surrogate (text decoded with errors="surrogateescape") cannot be
                # encoded as UTF-8, so PostgreSQL could not store it either.
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Invalid("invalid_text") from None
        return value
    if value is None:
        return None
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float:
        return float.__repr__(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise Invalid("invalid_text")
    raise TypeError(f"not a value sqlite3 returns: {type(value).__name__}")


def _stripped(value: Legacy) -> str | None:
    """Strip the text and read empty as None, as every rule but free text starts."""
    text = _text(value)
    if text is None:
        return None
    return text.strip() or None


def read_text(value: Legacy) -> str | None:
    """Copy free text exactly, refusing only text that PostgreSQL cannot store."""
    return _text(value)


# --- integers, emails, serial numbers ---------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _digits_value(digits: str) -> int | None:
    """Convert ASCII digits, or None past a bigint's 19 digits: int() refuses 4300 digits."""
    significant = digits.lstrip("0")
    if len(significant) > _BIGINT_DIGITS:
        return None
    return int(significant or "0")


def read_integer(value: Legacy) -> int | None:
    """Read an id, a reference or a position, which must fit the target's bigint."""
    if type(value) is int:
        if _BIGINT_MIN <= value <= _BIGINT_MAX:
            return value
        raise Invalid("invalid_integer")
    text = _stripped(value)
    if text is None:
        return None
    if _INTEGER.fullmatch(text) is None:
        raise Invalid("invalid_integer")
    number = _digits_value(text.lstrip("+-"))
    if number is None:
        raise Invalid("invalid_integer")
    if text[0] == "-":
        number = -number
    if _BIGINT_MIN <= number <= _BIGINT_MAX:
        return number
    raise Invalid("invalid_integer")


def read_email(value: Legacy, *, empty: str | None) -> str | None:
    """Lower-case an email; `empty` is what a missing one becomes (users '', clients NULL)."""
    text = _stripped(value)
    if text is None:
        return empty
    return text.lower()


def read_serial(value: Legacy) -> str | None:
    """Upper-case a serial number; None lets the caller apply missing_serial_number."""
    text = _stripped(value)
    if text is None:
        return None
    return text.upper()


# --- timestamps and dates ---------------------------------------------------------------

_ISO = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?"
    r"([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_DAY_FIRST = re.compile(
    r"([0-9]{1,2}/[0-9]{1,2}/[0-9]{4})(?: ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?"
)
_EPOCH_LENGTHS = frozenset((9, 10, 13))
_ZERO_DATES = frozenset(("0000-00-00", "0/0/0000", "00/0/0000", "0/00/0000", "00/00/0000"))
# Dict lookups both convert and range-check a clock field, faster than int() and compares.
_HOURS = {f"{n:02}": n for n in range(24)} | {str(n): n for n in range(10)}
_SIXTY = {f"{n:02}": n for n in range(60)}
_FRACTION_SCALE = (0, 100000, 10000, 1000, 100, 10, 1)
_FIRST_YEAR = 1900
_LAST_YEAR = 2100
_END_OF_DAY = (23, 59, 59, 999999)
# Bounds each zone's day cache (a few MB); days past it are still read, just not cached.
_DAY_CACHE_LIMIT = 200_000

# A day entry: written year, month, day and date, and the zone's fold=0 offset when it is
# the same all day (None on a day with a transition, where each value asks zoneinfo).
_Day: TypeAlias = tuple[int, int, int, date, timedelta | None]
_DAYS: dict[ZoneInfo, dict[str, _Day]] = {}
_OFFSETS: dict[str, timedelta] = {}


def _new_day(key: str, tz: ZoneInfo) -> _Day:
    """Validate a written date and find its offset in `tz`, once per date and zone."""
    if "/" in key:
        day_text, month_text, year_text = key.split("/")
    else:
        year_text, month_text, day_text = key.split("-")
    year = int(year_text)
    # One year of slack either side: an instant written on 31/12/1899 at -01:00 is in 1900.
    if not _FIRST_YEAR - 1 <= year <= _LAST_YEAR + 1:
        raise Invalid("invalid_timestamp")
    try:
        written = date(year, int(month_text), int(day_text))
    except ValueError:
        raise Invalid("invalid_timestamp") from None
    month, day = written.month, written.day
    first = datetime(year, month, day, tzinfo=tz).utcoffset()
    last = datetime(year, month, day, *_END_OF_DAY, tzinfo=tz).utcoffset()
    # fold=0 offsets change once per transition, and no zone in tzdata has two offset
    # changes within three days between 1899 and 2102: equal ends mean one offset all day.
    return year, month, day, written, (first if first == last else None)


def _offset(text: str) -> timedelta:
    """Read a UTC offset (Z, ±HH, ±HHMM, ±HH:MM), cached as there are few spellings."""
    offset = _OFFSETS.get(text)
    if offset is None:
        if text in ("Z", "z"):
            offset = timedelta(0)
        else:
            hours = _HOURS.get(text[1:3])
            minutes = _SIXTY.get(text[-2:]) if len(text) > 3 else 0
            if hours is None or minutes is None:
                raise Invalid("invalid_timestamp")
            offset = timedelta(hours=hours, minutes=minutes)
            if text[0] == "-":
                offset = -offset
        _OFFSETS[text] = offset
    return offset


def _in_years(instant: datetime) -> datetime:
    """Refuse an instant whose UTC year is outside 1900-2100."""
    if _FIRST_YEAR <= instant.year <= _LAST_YEAR:
        return instant
    raise Invalid("invalid_timestamp")


def _moment(text: str, tz: ZoneInfo) -> tuple[datetime, date | None] | None:
    """Read any timestamp form once for both readers: (UTC instant, written date or None)."""
    if text.isdigit():
        if len(text) not in _EPOCH_LENGTHS or not text.isascii():
            raise Invalid("invalid_timestamp")
        if len(text) == 13:
            milliseconds = int(text)
            instant = datetime.fromtimestamp(milliseconds // 1000, UTC).replace(
                microsecond=milliseconds % 1000 * 1000
            )
        else:
            instant = datetime.fromtimestamp(int(text), UTC)
        return _in_years(instant), None
    match = _ISO.fullmatch(text)
    if match is not None:
        key, hour_text, minute_text, second_text, fraction, offset_text = match.groups()
    else:
        match = _DAY_FIRST.fullmatch(text)
        if match is None:
            raise Invalid("invalid_timestamp")
        key, hour_text, minute_text, second_text = match.groups()
        fraction = offset_text = None
    if key in _ZERO_DATES:
        return None

    days = _DAYS.get(tz)
    if days is None:
        days = _DAYS.setdefault(tz, {})
    entry = days.get(key)
    if entry is None:
        entry = _new_day(key, tz)
        if len(days) < _DAY_CACHE_LIMIT:
            days[key] = entry
    year, month, day, written, day_offset = entry

    if hour_text is None:
        hour = minute = second = 0
    else:
        try:
            hour = _HOURS[hour_text]
            minute = _SIXTY[minute_text]
            second = 0 if second_text is None else _SIXTY[second_text]
        except KeyError:
            raise Invalid("invalid_timestamp") from None
    micro = 0 if fraction is None else int(fraction) * _FRACTION_SCALE[len(fraction)]

    if offset_text is not None:
        utc = datetime(year, month, day, hour, minute, second, micro, UTC)
        return _in_years(utc - _offset(offset_text)), None
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise Invalid("invalid_timestamp")
    if day_offset is not None:
        utc = datetime(year, month, day, hour, minute, second, micro, UTC) - day_offset
    else:
        # A transition day: zoneinfo resolves gaps and folds with fold=0, as the rules say.
        utc = datetime(year, month, day, hour, minute, second, micro, tz).astimezone(UTC)
    return utc, written


def read_timestamp(value: Legacy, tz: ZoneInfo) -> datetime | None:
    """Read a *_at value as an aware UTC datetime; wall-clock values are local to `tz`."""
    text = _stripped(value)
    if text is None:
        return None
    moment = _moment(text, tz)
    if moment is None:
        return None
    return moment[0]


def read_date(value: Legacy, tz: ZoneInfo) -> date | None:
    """Read a date: its written date, or for an instant its date in `tz`."""
    text = _stripped(value)
    if text is None:
        return None
    try:
        moment = _moment(text, tz)
    except Invalid:
        raise Invalid("invalid_date") from None
    if moment is None:
        return None
    instant, written = moment
    if written is not None:
        return written
    return instant.astimezone(tz).date()


# --- money ------------------------------------------------------------------------------

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_MAX_AMOUNT = Decimal("9999999999.99")
_CENT = Decimal("0.01")


def _amount_text(compact: str) -> str:
    """Apply the separator rules, giving `[0-9.]` text for the final pattern check."""
    commas = compact.count(",")
    dots = compact.count(".")
    if commas and dots:
        if compact.rfind(",") > compact.rfind("."):
            return compact.replace(".", "").replace(",", ".")
        return compact.replace(",", "")
    if commas > 1 or dots > 1:
        groups = compact.split("," if commas else ".")
        # Thousands separators stand between digits: a leading one (",234,567") is no
        # more a number than the spec's ".5" is.
        if not groups[0] or any(len(group) != 3 for group in groups[1:]):
            raise Invalid("invalid_amount")
        return "".join(groups)
    if commas:
        return compact.replace(",", ".")
    return compact


def read_money(value: Legacy) -> Decimal | None:
    """Read an amount or cost written in any legacy habit as a numeric(12,2) Decimal."""
    text = _stripped(value)
    if text is None:
        return None
    # str.split() with no argument splits on exactly the characters str.isspace() accepts.
    compact = "".join(text.split())
    if compact.endswith("€"):
        compact = compact[:-1]
    elif compact[-3:].lower() == "eur":
        compact = compact[:-3]
    number = _amount_text(compact)
    if _AMOUNT.fullmatch(number) is None:
        raise Invalid("invalid_amount")
    amount = Decimal(number)
    if amount > _MAX_AMOUNT:
        raise Invalid("invalid_amount")
    return amount.quantize(_CENT)


# --- booleans and enumerations ----------------------------------------------------------

_BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "oui": True,
    "0": False,
    "false": False,
    "no": False,
    "non": False,
}
_ENUM_SEPARATORS = re.compile(r"[\s_-]+")


def read_boolean(value: Legacy) -> bool:
    """Read tasks.is_done, where a missing value means not done."""
    text = _stripped(value)
    if text is None:
        return False
    result = _BOOLEANS.get(text.lower())
    if result is None:
        raise Invalid("invalid_boolean")
    return result


def read_enum(value: Legacy, allowed: frozenset[str], default: str | None) -> str | None:
    """Normalise a role, status or priority and check it against the column's allowed set."""
    text = _stripped(value)
    if text is None:
        return default
    name = _ENUM_SEPARATORS.sub("_", text.lower())
    if name in allowed:
        return name
    raise Invalid("invalid_enum")


# --- participants -----------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


def _participant_digits(text: str) -> int:
    """Read one id written as digits with optional surrounding whitespace."""
    digits = text.strip()
    number = None if _DIGITS.fullmatch(digits) is None else _digits_value(digits)
    if number is None:
        raise Invalid("invalid_participants")
    return _participant_id(number)


def _participant_id(number: int) -> int:
    """Refuse an id outside 1..bigint max."""
    if 1 <= number <= _BIGINT_MAX:
        return number
    raise Invalid("invalid_participants")


def _participant_item(item: object) -> int:
    """Read one JSON array element: an integer (not a boolean or float) or a digit string."""
    if type(item) is int:
        return _participant_id(item)
    if type(item) is str:
        return _participant_digits(item)
    raise Invalid("invalid_participants")


def read_participants(value: Legacy) -> list[int]:
    """Read chat participants as distinct ids sorted ascending, never an empty list."""
    text = _stripped(value)
    if text is None or text == "null":
        raise Invalid("empty_participants")
    if text[0] == "[":
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):
            raise Invalid("invalid_participants") from None
        ids = [_participant_item(item) for item in items]
    else:
        ids = [_participant_digits(item) for item in text.split(",")]
    if not ids:
        raise Invalid("empty_participants")
    return sorted(set(ids))
