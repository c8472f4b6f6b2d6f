"""What the rules make of each legacy row, read from MIGRATION_RULES.md by other means than the migration's.

This is the oracle of the row-by-row checks: it recomputes, from the legacy source alone,
every migrated row and the value and row rules (section 3, rules 1-2) that quarantine the
others. It shares no code with the migration (`readers`, `columns`, `vectorised`, `rules`):
a check that recomputed expectations with the code it checks could not fail. It is written
to be read against the spec: timestamps by looking their shape up in the explicit list of
accepted spellings, money by string handling and `Decimal`, participants with `json`.
Where the contract is silent it follows the decisions of DATABASE_RELATIONS.md.

Readers return target values spelled as the checks compare them (the canonical form of
`test_expected_outcomes`): instants as UTC ISO text, dates as ISO text, money as text with
two decimals; integers, booleans, text and participant lists as themselves.

The key and reference rules (3-4) are set logic over the source and the target; their
checks live with the tests (`test_row_by_row.py`), which read rows through this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from itertools import groupby
from typing import Any, NamedTuple, TypeAlias, cast
from zoneinfo import ZoneInfo

Legacy: TypeAlias = str | bytes | int | float | None
"""A legacy value as this module's sqlite3 reading returns it; bytes are BLOBs or text that is not UTF-8."""

Outcome: TypeAlias = dict[str, Any] | str
"""The target row the rules make of a legacy row, or the reason that quarantines it."""

Reader: TypeAlias = Callable[[Legacy], Any]

USER_ROLES = frozenset({"admin", "dispatcher", "technician"})
EQUIPMENT_STATUSES = frozenset({"active", "inactive", "retired"})
CONTRACT_STATUSES = frozenset({"active", "expired", "cancelled"})
INTERVENTION_STATUSES = frozenset({"planned", "in_progress", "done", "cancelled"})
PRIORITIES = frozenset({"low", "normal", "high", "urgent"})
ASSIGNMENT_ROLES = frozenset({"lead", "assistant"})

BIGINT_MAX = 9223372036854775807
INTEGER_MAX = 2147483647
FIRST_YEAR, LAST_YEAR = 1900, 2100
MAX_AMOUNT = Decimal("9999999999.99")
EPOCH = datetime(1970, 1, 1)  # in UTC
TRUE_WORDS = frozenset({"1", "true", "yes", "oui"})
FALSE_WORDS = frozenset({"0", "false", "no", "non"})


class Rejected(Exception):
    """A legacy value breaks the rule of its reader; `kind` names the rule."""

    def __init__(self, kind: str, *, names_column: bool = True) -> None:
        super().__init__(kind)
        self.kind = kind
        self.names_column = names_column

    def reason(self, column: str) -> str:
        """The quarantine reason as the contract spells it for `column`."""
        return f"{self.kind}:{column}" if self.names_column else self.kind


def decode_text(raw: bytes) -> str | bytes:
    """Decode a legacy TEXT value for sqlite3's text_factory; keep bytes that are not UTF-8 (they cannot be stored)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


# --- text, integers, emails, serials -----------------------------------------------------


def read_text(value: Legacy) -> str | None:
    """Free text, copied as it is: integers as decimal text, REALs by repr; bytes and NUL cannot be stored."""
    if value is None:
        return None
    if type(value) is str:
        if "\x00" in value:
            raise Rejected("invalid_text")
        return value
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(value)
    raise Rejected("invalid_text")


def _stripped(value: Legacy) -> str | None:
    """The value every reader but free text starts from: stripped, and NULL when nothing is left."""
    text = read_text(value)
    return (text.strip() or None) if text is not None else None


def _is_digits(text: str) -> bool:
    """Whether `text` is one or more ASCII digits (str.isdigit alone also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def read_integer(value: Legacy) -> int | None:
    """An integer: optional sign, ASCII digits, within bigint."""
    if type(value) is int:
        return value  # SQLite's integers are 64-bit already
    text = _stripped(value)
    if text is None:
        return None
    digits = text[1:] if text[0] in "+-" else text
    if not _is_digits(digits):
        raise Rejected("invalid_integer")
    try:
        number = int(text)
    except ValueError:  # Python refuses to convert thousands of digits, far past bigint anyway
        raise Rejected("invalid_integer") from None
    if not -BIGINT_MAX - 1 <= number <= BIGINT_MAX:
        raise Rejected("invalid_integer")
    return number


def read_position(value: Legacy) -> int | None:
    """A task's position: an integer that the target's `integer` column can hold, or it could not be migrated."""
    number = read_integer(value)
    if number is not None and not -INTEGER_MAX - 1 <= number <= INTEGER_MAX:
        raise Rejected("invalid_integer")
    return number


def read_email(value: Legacy, *, empty: str | None) -> str | None:
    """An email, lower-cased; a NULL or empty one becomes `empty` ('' for users, NULL for clients)."""
    text = _stripped(value)
    return empty if text is None else text.lower()


def read_serial(value: Legacy) -> str | None:
    """A serial number, upper-cased; NULL is left to the key rule missing_serial_number."""
    text = _stripped(value)
    return None if text is None else text.upper()


# --- timestamps and dates ----------------------------------------------------------------
#
# The accepted spellings are listed as templates whose letters stand for one digit each:
# Y year, M month, D day, h hour, m minute, s second, f fraction, o offset hours, p offset
# minutes; ± is the offset's sign (+ or -); anything else stands for itself. A value is
# accepted when its shape (every digit turned into 0) is the shape of a template; the
# calendar (2023-02-30, 24:00, 23:59:60) is then left to `datetime`.

_ISO_TIMES = ("hh:mm", "hh:mm:ss", *("hh:mm:ss." + "f" * digits for digits in range(1, 7)))
_ISO_OFFSETS = ("", "Z", "z", "±oo", "±oopp", "±oo:pp")
ISO_TEMPLATES = ("YYYY-MM-DD",) + tuple(
    f"YYYY-MM-DD{separator}{time}{offset}" for separator in "Tt " for time in _ISO_TIMES for offset in _ISO_OFFSETS
)
DAY_FIRST_TEMPLATES = tuple(
    f"{day}/{month}/YYYY{time}"
    for day in ("D", "DD")
    for month in ("M", "MM")
    for time in ("", " h:mm", " hh:mm", " h:mm:ss", " hh:mm:ss")
)
EPOCH_SECONDS_DIGITS, EPOCH_MILLISECONDS_DIGITS = (9, 10), 13
_DIGIT_LETTERS = "YMDhmsfop"
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


class Spelling(NamedTuple):
    """What a value's shape says about it: its family, where its offset's sign stands, whether it is an instant."""

    day_first: bool
    sign: int | None
    instant: bool


def _spellings() -> dict[bytes, Spelling]:
    """Every accepted shape (digits as 0, ± as + or -) with what it says."""
    shapes: dict[bytes, Spelling] = {}
    for template in ISO_TEMPLATES + DAY_FIRST_TEMPLATES:
        sign = template.index("±") if "±" in template else None
        spelling = Spelling("/" in template, sign, instant=sign is not None or template[-1] in "Zz")
        shape = "".join("0" if letter in _DIGIT_LETTERS else letter for letter in template)
        for written_sign in "+-" if sign is not None else "±":
            shapes[shape.replace("±", written_sign).encode()] = spelling
    return shapes


SPELLINGS = _spellings()


Moment: TypeAlias = tuple[datetime, bool]
"""A legacy timestamp as (naive time, instant): a UTC instant when `instant`, else a wall-clock time."""


def _moment(text: str) -> Moment | None:
    """Read an accepted spelling; None when its date is all zeros; ValueError for anything else."""
    if not text.isascii():  # every accepted spelling is ASCII
        raise ValueError(f"not an accepted spelling: {text!r}")
    if text.isdigit() and len(text) in EPOCH_SECONDS_DIGITS:
        return _in_years(EPOCH + timedelta(seconds=int(text))), True
    if text.isdigit() and len(text) == EPOCH_MILLISECONDS_DIGITS:
        return _in_years(EPOCH + timedelta(milliseconds=int(text))), True
    spelling = SPELLINGS.get(text.encode().translate(_DIGITS_AS_ZERO))
    if spelling is None:
        raise ValueError(f"not an accepted spelling: {text!r}")
    iso = _day_first_as_iso(text) if spelling.day_first else text
    if iso[:10] == "0000-00-00":
        return None
    if iso[11:13] == "24":  # newer Pythons read 24:00 as the next midnight; the rules refuse it
        raise ValueError(f"no hour 24: {text!r}")
    if spelling.sign is not None:
        offset = text[spelling.sign + 1 :].replace(":", "")
        if int(offset[:2]) > 23 or int(offset[2:] or "0") > 59:
            raise ValueError(f"not an offset: {text!r}")
    when = datetime.fromisoformat(iso.replace("z", "Z"))
    if spelling.instant:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return _in_years(when), spelling.instant


def _day_first_as_iso(text: str) -> str:
    """Respell D/M/YYYY [H:MM[:SS]] as YYYY-MM-DD[ HH:MM[:SS]]."""
    day, month, rest = text.split("/")
    year, _, time = rest.partition(" ")
    iso = f"{year}-{month:0>2}-{day:0>2}"
    if time:
        hour, _, minutes = time.partition(":")
        iso += f" {hour:0>2}:{minutes}"
    return iso


def _in_years(when: datetime) -> datetime:
    """Refuse a year outside 1900-2100: the written year of a wall-clock time, the UTC year of an instant."""
    if not FIRST_YEAR <= when.year <= LAST_YEAR:
        raise ValueError(f"year {when.year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return when


def _read_moment(value: Legacy, reason: str) -> Moment | None:
    """Read a timestamp form: (datetime, whether it is an instant), None when empty or zero."""
    text = _stripped(value)
    if text is None:
        return None
    try:
        return _moment(text)
    except (ValueError, OverflowError):
        raise Rejected(reason) from None


def read_timestamp(value: Legacy, zone: ZoneInfo) -> str | None:
    """A timestamp as a UTC instant (ISO, the fraction without trailing zeros); wall-clock times are in `zone`, resolved with fold=0."""
    moment = _read_moment(value, "invalid_timestamp")
    if moment is None:
        return None
    when, instant = moment
    if not instant:
        when -= cast(timedelta, zone.utcoffset(when))  # a naive datetime has fold=0
    seconds, _, fraction = when.isoformat().partition(".")
    return seconds + ("." + fraction.rstrip("0") if fraction else "") + "+00:00"


def read_date(value: Legacy, zone: ZoneInfo) -> str | None:
    """A date (ISO): the written date of a wall-clock value, the date in `zone` of an instant."""
    moment = _read_moment(value, "invalid_date")
    if moment is None:
        return None
    when, instant = moment
    return (when.replace(tzinfo=UTC).astimezone(zone) if instant else when).date().isoformat()


# --- money, booleans, enumerations -------------------------------------------------------


def read_money(value: Legacy) -> str | None:
    """An amount with two decimals: whitespace and one trailing € or EUR removed, separators as section 2 says."""
    text = _stripped(value)
    if text is None:
        return None
    number = _amount_text(text)
    whole, point, cents = number.partition(".")
    if not _is_digits(whole) or (point and not (_is_digits(cents) and len(cents) <= 2)):
        raise Rejected("invalid_amount")
    amount = Decimal(number)
    if amount > MAX_AMOUNT:
        raise Rejected("invalid_amount")
    return f"{amount:.2f}"


def _amount_text(text: str) -> str:
    """Turn a written amount into digits with an optional '.' and decimals, or raise."""
    compact = "".join(text.split())
    if compact.endswith("€"):
        compact = compact[:-1]
    elif compact[-3:].lower() == "eur":
        compact = compact[:-3]
    commas, dots = compact.count(","), compact.count(".")
    if commas and dots:
        decimal = "," if compact.rindex(",") > compact.rindex(".") else "."
        other = "." if decimal == "," else ","
        return compact.replace(other, "").replace(decimal, ".")
    if commas + dots == 1:
        return compact.replace(",", ".")
    if commas + dots > 1:
        first, *groups = compact.split("," if commas else ".")
        if not first or any(len(group) != 3 for group in groups):
            raise Rejected("invalid_amount")
        return first + "".join(groups)
    return compact


def read_boolean(value: Legacy) -> bool:
    """A boolean from 1 0 true false yes no oui non, any case; NULL or empty is false."""
    text = _stripped(value)
    if text is None:
        return False
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Rejected("invalid_boolean")


def read_enum(value: Legacy, allowed: frozenset[str], default: str | None) -> str | None:
    """An enumeration: lower-cased, each run of whitespace, - and _ made one _; NULL or empty is `default`."""
    text = _stripped(value)
    if text is None:
        return default
    word = _enum_word(text)
    if word not in allowed:
        raise Rejected("invalid_enum")
    return word


def _is_separator(character: str) -> bool:
    """Whether a character belongs to a run that becomes one `_` in an enumeration."""
    return character.isspace() or character in "-_"


@lru_cache(maxsize=4096)
def _enum_word(text: str) -> str:
    """Normalise an enumeration's spelling; cached because a column repeats a handful of spellings."""
    runs = groupby(text.lower(), key=_is_separator)
    return "".join("_" if separator else "".join(characters) for separator, characters in runs)


# --- participants ------------------------------------------------------------------------


def read_participants(value: Legacy) -> list[int]:
    """Participant ids, distinct and sorted, from a JSON array or a comma-separated list."""
    text = _stripped(value)
    if text is None or text == "null":
        raise Rejected("empty_participants", names_column=False)
    if text.startswith("["):
        try:
            items = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            raise Rejected("invalid_participants", names_column=False) from None
        if type(items) is not list:
            raise Rejected("invalid_participants", names_column=False)
        ids = [_json_participant(item) for item in items]
    else:
        ids = [_listed_participant(item) for item in text.split(",")]
    if not ids:
        raise Rejected("empty_participants", names_column=False)
    return sorted(set(ids))


def _no_constant(name: str) -> None:
    """Refuse NaN and Infinity, which Python's json accepts and JSON does not."""
    raise ValueError(f"{name} is not JSON")


def _json_participant(item: object) -> int:
    """A JSON array element: an integer (not a boolean, not 2.0) or a string of digits."""
    if type(item) is int:
        return _participant_id(item)
    if type(item) is str:
        return _listed_participant(item)
    raise Rejected("invalid_participants", names_column=False)


def _listed_participant(item: str) -> int:
    """Digits with optional surrounding whitespace."""
    digits = item.strip()
    if not _is_digits(digits):
        raise Rejected("invalid_participants", names_column=False)
    try:
        number = int(digits)
    except ValueError:  # Python refuses to convert thousands of digits, far past bigint anyway
        raise Rejected("invalid_participants", names_column=False) from None
    return _participant_id(number)


def _participant_id(number: int) -> int:
    """A participant id must be a possible users.id: 1 to bigint's largest."""
    if not 1 <= number <= BIGINT_MAX:
        raise Rejected("invalid_participants", names_column=False)
    return number


# --- rows --------------------------------------------------------------------------------


class Reference(NamedTuple):
    """A legacy column that refers to another table's id."""

    column: str
    parent: str


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "maintenance_contracts": (Reference("equipment_id", "equipment"),),
    "maintenance_histories": (Reference("equipment_id", "equipment"),),
    "interventions": (Reference("client_id", "clients"),),
    "tasks": (Reference("intervention_id", "interventions"),),
    "intervention_user": (Reference("intervention_id", "interventions"), Reference("user_id", "users")),
    "chat_messages": (Reference("conversation_id", "chat_conversations"), Reference("user_id", "users")),
}
"""Section 3 rule 4's references, in legacy column order (participants refer to users too)."""


def _period(row: dict[str, Any]) -> str | None:
    """invalid_period: a contract ends before it starts (ISO dates compare as text)."""
    starts, ends = row["starts_on"], row["ends_on"]
    return "invalid_period" if starts is not None and ends is not None and ends < starts else None


def _sent_at(row: dict[str, Any]) -> str | None:
    """missing_sent_at: sent_at falls back to created_at; without both the message is quarantined."""
    if row["sent_at"] is None:
        if row["created_at"] is None:
            return "missing_sent_at"
        row["sent_at"] = row["created_at"]
    return None


ROW_RULES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "maintenance_contracts": _period,
    "chat_messages": _sent_at,
}


class Oracle:
    """Reads legacy rows of every table by section 2 and section 3 rules 1-2, in one application time zone."""

    def __init__(self, zone: ZoneInfo) -> None:
        # Rows repeat a time across columns and rows: each is read once per zone. typed: 1 and
        # 1.0 read apart. Keyed on the value alone, the cache is cheaper to ask than with the zone.
        timestamp = lru_cache(maxsize=65536, typed=True)(partial(read_timestamp, zone=zone))
        day = partial(read_date, zone=zone)
        stamps = (("created_at", timestamp), ("updated_at", timestamp))
        text, integer = read_text, read_integer

        def enum(allowed: frozenset[str], default: str | None) -> Reader:
            return partial(read_enum, allowed=allowed, default=default)

        self.columns: dict[str, tuple[tuple[str, Reader], ...]] = {
            "users": (
                ("id", integer),
                ("name", text),
                ("email", partial(read_email, empty="")),
                ("role", enum(USER_ROLES, None)),
                ("phone", text),
                *stamps,
            ),
            "clients": (
                ("id", integer),
                ("name", text),
                ("email", partial(read_email, empty=None)),
                ("phone", text),
                ("address", text),
                *stamps,
            ),
            "equipment": (
                ("id", integer),
                ("serial_number", read_serial),
                ("name", text),
                ("brand", text),
                ("model", text),
                ("installed_on", day),
                ("status", enum(EQUIPMENT_STATUSES, "active")),
                *stamps,
            ),
            "maintenance_contracts": (
                ("id", integer),
                ("equipment_id", integer),
                ("reference", text),
                ("starts_on", day),
                ("ends_on", day),
                ("amount", read_money),
                ("status", enum(CONTRACT_STATUSES, "active")),
                *stamps,
            ),
            "maintenance_histories": (
                ("id", integer),
                ("equipment_id", integer),
                ("performed_at", timestamp),
                ("description", text),
                ("cost", read_money),
                *stamps,
            ),
            "interventions": (
                ("id", integer),
                ("client_id", integer),
                ("title", text),
                ("description", text),
                ("status", enum(INTERVENTION_STATUSES, "planned")),
                ("priority", enum(PRIORITIES, "normal")),
                ("scheduled_at", timestamp),
                ("completed_at", timestamp),
                *stamps,
            ),
            "tasks": (
                ("id", integer),
                ("intervention_id", integer),
                ("title", text),
                ("is_done", read_boolean),
                ("position", read_position),
                *stamps,
            ),
            "intervention_user": (
                ("intervention_id", integer),
                ("user_id", integer),
                ("role", enum(ASSIGNMENT_ROLES, "assistant")),
                ("created_at", timestamp),
            ),
            "chat_conversations": (
                ("id", integer),
                ("subject", text),
                ("participants", read_participants),
                *stamps,
            ),
            "chat_messages": (
                ("id", integer),
                ("conversation_id", integer),
                ("user_id", integer),
                ("body", text),
                ("sent_at", timestamp),
                ("read_at", timestamp),
                *stamps,
            ),
        }
        """Every legacy table's columns, in legacy column order, each with the reader section 2 gives it."""

    def legacy_columns(self, table: str) -> list[str]:
        """The legacy columns of `table`, in the order the rules read them."""
        return [name for name, _ in self.columns[table]]

    def read_row(self, table: str, row: Sequence[Legacy]) -> Outcome:
        """The target row the rules make of a legacy row, or the first reason that quarantines it."""
        values: dict[str, Any] = {}
        for (name, read), value in zip(self.columns[table], row, strict=True):
            try:
                values[name] = read(value)
            except Rejected as rejected:
                return rejected.reason(name)
        rule = ROW_RULES.get(table)
        reason = rule(values) if rule is not None else None
        return reason if reason is not None else values


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(row: dict[str, Any]) -> str:
    """A target row as the checks spell it (test_expected_outcomes): JSON with sorted keys, no spaces, UTF-8 kept."""
    return _CANONICAL.encode(row)
