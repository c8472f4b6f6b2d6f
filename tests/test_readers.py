"""Unit and property tests of the legacy value readers (MIGRATION_RULES.md sections 2 and 5).

Expected values are written by hand or computed by simple independent means (datetime,
zoneinfo, calendar, Decimal), never by the readers under test.
"""

from __future__ import annotations

import calendar
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migration_suite.readers import (
    Invalid,
    Legacy,
    read_boolean,
    read_date,
    read_email,
    read_enum,
    read_integer,
    read_money,
    read_participants,
    read_serial,
    read_text,
    read_timestamp,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
BIGINT_MAX = 9223372036854775807
INTERVENTION_STATUSES = frozenset({"planned", "in_progress", "done", "cancelled"})
PRIORITIES = frozenset({"low", "normal", "high", "urgent"})
USER_ROLES = frozenset({"admin", "dispatcher", "technician"})
# Every character str.isspace() accepts, so tests cover the same set as str.strip().
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    """Build an aware UTC datetime, the form every timestamp reader returns."""
    return datetime(year, month, day, hour, minute, second, micro, UTC)


def kind_of(read: Callable[[], object]) -> str:
    """Return the Invalid kind a read raises, failing the test when it reads instead."""
    with pytest.raises(Invalid) as caught:
        result = read()
        pytest.fail(f"expected Invalid, read {result!r}")
    return caught.value.kind


def case(*args: Any) -> Any:
    """Name a parametrised case after its legacy value, so a failure reads like the spec."""
    name = repr(args[0])
    if len(name) > 40:
        name = f"{name[:24]}...({len(args[0])} long)"
    return pytest.param(*args, id=name)


# --- section 5, row by row -----------------------------------------------------------


@dataclass(frozen=True)
class Quarantined:
    """A quarantine reason exactly as the spec spells it."""

    reason: str


READERS: dict[str, Callable[[Any], object]] = {
    "created_at": lambda value: read_timestamp(value, PARIS),
    "installed_on": lambda value: read_date(value, PARIS),
    "amount": read_money,
    "is_done": read_boolean,
    "status": lambda value: read_enum(value, INTERVENTION_STATUSES, "planned"),
    "serial_number": read_serial,
    "participants": read_participants,
}


def outcome(column: str, value: Legacy) -> object:
    """Read a value as the migration does: a target value or the spec's quarantine reason."""
    try:
        return READERS[column](value)
    except Invalid as exc:
        if exc.kind in ("empty_participants", "invalid_participants"):
            return Quarantined(exc.kind)
        return Quarantined(f"{exc.kind}:{column}")


def example(column: str, value: Legacy, expected: object) -> Any:
    """One row of section 5 with an id that reads like the row."""
    return pytest.param(column, value, expected, id=f"{column}={value!r}")


SECTION_5 = [
    example("created_at", "2023-07-14 10:00:00", utc(2023, 7, 14, 8)),
    example("created_at", "2023-01-05T10:00:00Z", utc(2023, 1, 5, 10)),
    example("created_at", "2023-01-05T10:00:00.5+02:00", utc(2023, 1, 5, 8, 0, 0, 500000)),
    example("created_at", "14/07/2023 10:00", utc(2023, 7, 14, 8)),
    example("created_at", "1700000000", utc(2023, 11, 14, 22, 13, 20)),
    example("created_at", "0000-00-00 00:00:00", None),
    example("created_at", "2023-02-30 10:00:00", Quarantined("invalid_timestamp:created_at")),
    example("installed_on", "14/07/2023", date(2023, 7, 14)),
    example("amount", "1 234,50 €", Decimal("1234.50")),
    example("amount", "1.234,50", Decimal("1234.50")),
    example("amount", "1,234.50", Decimal("1234.50")),
    example("amount", "99,9", Decimal("99.90")),
    example("amount", "12.345", Quarantined("invalid_amount:amount")),
    example("amount", "-5", Quarantined("invalid_amount:amount")),
    example("is_done", " Oui ", True),
    example("is_done", None, False),
    example("status", " In Progress", "in_progress"),
    example("serial_number", " sn-001 ", "SN-001"),
    example("participants", "[3, 1, 3]", [1, 3]),
    example("participants", '["7","5"]', [5, 7]),
    example("participants", "4, 2", [2, 4]),
    example("participants", "[]", Quarantined("empty_participants")),
    example("participants", "1;2", Quarantined("invalid_participants")),
    example("created_at", "2023-07-14t10:00+0200", utc(2023, 7, 14, 8)),
    example("created_at", "4/7/2023 9:05", utc(2023, 7, 4, 7, 5)),
    example("created_at", "1700000000000", utc(2023, 11, 14, 22, 13, 20)),
    example("created_at", "20230714", Quarantined("invalid_timestamp:created_at")),
    example("created_at", "2023-07-14 24:00", Quarantined("invalid_timestamp:created_at")),
    example("created_at", "2023-07-14Z", Quarantined("invalid_timestamp:created_at")),
    example("installed_on", "2023-07-14T23:30:00Z", date(2023, 7, 15)),
    example("amount", "1,234,567", Decimal("1234567.00")),
    example("amount", "12 eur", Decimal("12.00")),
    example("amount", "1,234,56", Quarantined("invalid_amount:amount")),
    example("amount", ".5", Quarantined("invalid_amount:amount")),
    example("amount", "12345678901", Quarantined("invalid_amount:amount")),
    example("status", "in - progress", "in_progress"),
    example("participants", "5", [5]),
    example("participants", "1 2", Quarantined("invalid_participants")),
    example("participants", "1,2,", Quarantined("invalid_participants")),
    example("participants", "[true]", Quarantined("invalid_participants")),
    example("participants", "[2.0]", Quarantined("invalid_participants")),
]


@pytest.mark.parametrize(("column", "value", "expected"), SECTION_5)
def test_section_5_example(column: str, value: Legacy, expected: object) -> None:
    actual = outcome(column, value)
    assert actual == expected
    if isinstance(expected, Decimal):
        assert str(actual) == str(expected), "numeric(12,2) keeps two decimal places"


# --- text, integers, emails, serial numbers ------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case("Dupont", "Dupont"),
        case("  padded \n", "  padded \n"),
        case("", ""),
        case("   ", "   "),
        case("Café crème ☕", "Café crème ☕"),
        case(None, None),
        case(42, "42"),
        case(-7, "-7"),
        case(1.5, "1.5"),
    ],
)
def test_read_text_copies_exactly(value: Legacy, expected: str | None) -> None:
    assert read_text(value) == expected


CANNOT_BE_STORED = [
    case("a\x00b"),
    case("\x00"),
    case(b"plain ascii blob"),
    case(b"\xff\xfe not utf-8"),
    case(bytearray(b"abc")),
    case("lone surrogate \udcff"),
]


@pytest.mark.parametrize("value", CANNOT_BE_STORED)
@pytest.mark.parametrize(
    "read",
    [
        pytest.param(read_text, id="text"),
        pytest.param(read_integer, id="integer"),
        pytest.param(lambda v: read_email(v, empty=""), id="email"),
        pytest.param(read_serial, id="serial"),
        pytest.param(lambda v: read_timestamp(v, PARIS), id="timestamp"),
        pytest.param(lambda v: read_date(v, PARIS), id="date"),
        pytest.param(read_money, id="money"),
        pytest.param(read_boolean, id="boolean"),
        pytest.param(lambda v: read_enum(v, PRIORITIES, "normal"), id="enum"),
        pytest.param(read_participants, id="participants"),
    ],
)
def test_text_that_cannot_be_stored_is_invalid_text_in_every_reader(
    read: Callable[[Legacy], object], value: Legacy
) -> None:
    assert kind_of(lambda: read(value)) == "invalid_text"


def test_a_type_sqlite3_never_returns_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="bool"):
        read_text(True)


def test_invalid_survives_pickling_for_worker_processes() -> None:
    restored = pickle.loads(pickle.dumps(Invalid("invalid_amount")))
    assert isinstance(restored, Invalid)
    assert restored.kind == "invalid_amount"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case(42, 42),
        case(0, 0),
        case(-7, -7),
        case(BIGINT_MAX, BIGINT_MAX),
        case(-BIGINT_MAX - 1, -BIGINT_MAX - 1),
        case("42", 42),
        case(" 42 \n", 42),
        case("+42", 42),
        case("-42", -42),
        case("007", 7),
        case("9223372036854775807", BIGINT_MAX),
        case("-9223372036854775808", -BIGINT_MAX - 1),
        case("0" * 5000 + "1", 1),
        case(None, None),
        case("", None),
        case(" \t ", None),
    ],
)
def test_read_integer_accepts(value: Legacy, expected: int | None) -> None:
    assert read_integer(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        case(BIGINT_MAX + 1),
        case(-BIGINT_MAX - 2),
        case("9223372036854775808"),
        case("-9223372036854775809"),
        case("9" * 5000),
        case("4.0"),
        case(4.0),
        case(4.5),
        case("1e3"),
        case("1_000"),
        case("1 000"),
        case("0x10"),
        case("--1"),
        case("+-1"),
        case("+"),
        case("-"),
        case("abc"),
        case("١٢"),
        case("\uff11\uff12"),  # fullwidth 12
        case("12abc"),
    ],
)
def test_read_integer_rejects(value: Legacy) -> None:
    assert kind_of(lambda: read_integer(value)) == "invalid_integer"


@pytest.mark.parametrize(
    ("value", "empty", "expected"),
    [
        pytest.param(" John.Doe@Example.COM ", "", "john.doe@example.com", id="users-mixed-case"),
        pytest.param("a@b.fr", None, "a@b.fr", id="clients-plain"),
        pytest.param(None, "", "", id="users-null-stays-empty"),
        pytest.param("   ", "", "", id="users-blank-stays-empty"),
        pytest.param(None, None, None, id="clients-null"),
        pytest.param("", None, None, id="clients-empty-is-null"),
        pytest.param("ÉLODIE@EXEMPLE.FR", None, "élodie@exemple.fr", id="non-ascii"),
    ],
)
def test_read_email(value: Legacy, empty: str | None, expected: str | None) -> None:
    assert read_email(value, empty=empty) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case(" sn-001 ", "SN-001"),
        case("\tab c\n", "AB C"),
        case("SN-002", "SN-002"),
        case(12345, "12345"),
        case(None, None),
        case("", None),
        case(" \u00a0 ", None),
    ],
)
def test_read_serial(value: Legacy, expected: str | None) -> None:
    assert read_serial(value) == expected


# --- timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # ISO, wall-clock in Paris (UTC+2 in July, UTC+1 in January)
        case("2023-07-14", utc(2023, 7, 13, 22)),
        case("2023-07-14T10:00", utc(2023, 7, 14, 8)),
        case("2023-07-14t10:00", utc(2023, 7, 14, 8)),
        case("2023-07-14 10:00", utc(2023, 7, 14, 8)),
        case("2023-07-14 10:00:05", utc(2023, 7, 14, 8, 0, 5)),
        case("2023-07-14 10:00:05.5", utc(2023, 7, 14, 8, 0, 5, 500000)),
        case("2023-07-14 10:00:05.05", utc(2023, 7, 14, 8, 0, 5, 50000)),
        case("2023-07-14 10:00:05.123456", utc(2023, 7, 14, 8, 0, 5, 123456)),
        case("2023-07-14 10:00:05.000001", utc(2023, 7, 14, 8, 0, 5, 1)),
        case("2023-01-15 12:00", utc(2023, 1, 15, 11)),
        case("2023-12-31 23:59:59", utc(2023, 12, 31, 22, 59, 59)),
        case("2024-01-01 00:30", utc(2023, 12, 31, 23, 30)),
        case("2024-02-29 12:00", utc(2024, 2, 29, 11)),
        case("2000-02-29 12:00", utc(2000, 2, 29, 11)),
        # ISO instants
        case("2023-07-14T10:00Z", utc(2023, 7, 14, 10)),
        case("2023-07-14T10:00z", utc(2023, 7, 14, 10)),
        case("2023-07-14T10:00:00Z", utc(2023, 7, 14, 10)),
        case("2023-07-14T10:00:00.25Z", utc(2023, 7, 14, 10, 0, 0, 250000)),
        case("2023-07-14T10:00+02", utc(2023, 7, 14, 8)),
        case("2023-07-14T10:00+0200", utc(2023, 7, 14, 8)),
        case("2023-07-14T10:00+02:00", utc(2023, 7, 14, 8)),
        case("2023-07-14T10:00-05:30", utc(2023, 7, 14, 15, 30)),
        case("2023-07-14T10:00-0530", utc(2023, 7, 14, 15, 30)),
        case("2023-07-14T10:00:00-00:00", utc(2023, 7, 14, 10)),
        case("2023-07-14 01:00+05:00", utc(2023, 7, 13, 20)),
        case("2023-07-14 10:00:00.1+01:00", utc(2023, 7, 14, 9, 0, 0, 100000)),
        case("2023-12-31T23:30:00-01:00", utc(2024, 1, 1, 0, 30)),
        # day first, wall-clock in Paris
        case("14/07/2023", utc(2023, 7, 13, 22)),
        case("4/7/2023", utc(2023, 7, 3, 22)),
        case("04/07/2023 09:05", utc(2023, 7, 4, 7, 5)),
        case("4/7/2023 9:05:07", utc(2023, 7, 4, 7, 5, 7)),
        case("31/12/2023 23:59:59", utc(2023, 12, 31, 22, 59, 59)),
        case("29/2/2024 0:00", utc(2024, 2, 28, 23)),
        # epoch, always UTC
        case("999999999", utc(2001, 9, 9, 1, 46, 39)),
        case("000000000", utc(1970, 1, 1)),
        case("1700000000", utc(2023, 11, 14, 22, 13, 20)),
        case("1700000000123", utc(2023, 11, 14, 22, 13, 20, 123000)),
        case("0000000000001", utc(1970, 1, 1, 0, 0, 0, 1000)),
        case(1700000000, utc(2023, 11, 14, 22, 13, 20)),
        # whitespace around the value
        case(" 2023-07-14 10:00 \n", utc(2023, 7, 14, 8)),
        case("\t14/07/2023 10:00\u00a0", utc(2023, 7, 14, 8)),
        # the 1900-2100 bounds
        case("1900-01-01 12:00", utc(1900, 1, 1, 11, 50, 39)),  # Paris Mean Time, +0:09:21
        case("2100-12-31 23:59:59", utc(2100, 12, 31, 22, 59, 59)),
        case("1899-12-31T23:30:00-01:00", utc(1900, 1, 1, 0, 30)),
        case("2101-01-01T00:30:00+01:00", utc(2100, 12, 31, 23, 30)),
        case("4133980799", utc(2100, 12, 31, 23, 59, 59)),
    ],
)
def test_read_timestamp_accepts(value: Legacy, expected: datetime) -> None:
    actual = read_timestamp(value, PARIS)
    assert actual == expected
    assert actual is not None and actual.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        case("0000-00-00"),
        case("0000-00-00 00:00:00"),
        case("0000-00-00T00:00"),
        case("0000-00-00 00:00:00.000"),
        case("0000-00-00T00:00:00Z"),
        case("0000-00-00 25:99"),  # no date to put a time on: the time is not checked
        case("00/00/0000"),
        case("0/0/0000"),
        case("00/00/0000 00:00"),
        case("0/0/0000 0:00:00"),
        case(None),
        case(""),
        case("   "),
        case("\n\t"),
    ],
)
def test_read_timestamp_reads_null_and_zero_dates_as_null(value: Legacy) -> None:
    assert read_timestamp(value, PARIS) is None


@pytest.mark.parametrize(
    "value",
    [
        # grammar
        case("2023-07-14Z"),
        case("2023-07-14+02:00"),
        case("2023-07-14T"),
        case("20230714"),
        case("2023-7-14"),
        case("2023-07-4"),
        case("23-07-14"),
        case("02023-07-14"),
        case("2023/07/14"),
        case("2023-07-14T10"),
        case("2023-07-14T1:00"),
        case("2023-07-14T10:0"),
        case("2023-07-14T10:00:0"),
        case("2023-07-14T10:00:00."),
        case("2023-07-14T10:00:00.1234567"),
        case("2023-07-14T10:00.5"),
        case("2023-07-14T10:00:00,5"),
        case("2023-07-14  10:00"),
        case("2023-07-14_10:00"),
        case("2023-07-14\t10:00"),
        case("2023-07-14 10:00 +02:00"),
        case("2023-07-14T10:00+2"),
        case("2023-07-14T10:00+020"),
        case("2023-07-14T10:00+02:0"),
        case("2023-07-14T10:00+02:00Z"),
        case("2023-07-14T10:00ZZ"),
        case("2023-07-14T10:00 Z"),
        case("2023-07-14T10:00UTC"),
        case("2023-07-14 10:00 PM"),
        case("14/07/2023T10:00"),
        case("14-07-2023"),
        case("14/07/23"),
        case("014/07/2023"),
        case("14/007/2023"),
        case("14/07/2023 10:00:00.5"),
        case("14/07/2023 10:00Z"),
        case("14/07/2023 10:00+02:00"),
        case("14/07/2023 10:5"),
        case("14/07/2023 010:00"),
        case("14/07/2023  10:00"),
        case("14/07/2023 10"),
        case("12345678"),
        case("12345678901"),
        case("123456789012"),
        case("12345678901234"),
        case("-1700000000"),
        case("+1700000000"),
        case("1700000000.5"),
        case(1.5),
        case(1700000000.0),
        case(-1),
        case("\uff11\uff17" + "\uff10" * 8),  # fullwidth 1700000000
        case("\u0662\u0660\u0662\u0663-\u0660\u0667-\u0661\u0664"),  # Arabic-Indic digits
        case("2023-07-1٤ 10:00"),
        case("now"),
        case("T10:00"),
        case("10:00"),
        # impossible dates and times
        case("2023-02-30 10:00:00"),
        case("2023-02-29"),
        case("1900-02-29"),
        case("2100-02-29"),
        case("2023-04-31"),
        case("2023-13-01"),
        case("2023-00-10"),
        case("2023-07-00"),
        case("0000-07-14"),
        case("2023-00-00"),
        case("0000-00-14"),
        case("00/07/2023"),
        case("14/00/2023"),
        case("14/07/0000"),
        case("31/4/2023"),
        case("29/2/2023 10:00"),
        case("2023-07-14 24:00"),
        case("2023-07-14 23:60"),
        case("2023-07-14 23:59:60"),
        case("2023-07-14 99:00"),
        case("14/07/2023 24:00"),
        case("14/07/2023 9:60"),
        case("2023-07-14T10:00+24:00"),
        case("2023-07-14T10:00+02:60"),
        # outside 1900-2100
        case("1899-12-31 23:59:59"),
        case("2101-01-01 00:00"),
        case("31/12/1899 23:00"),
        case("1/1/2101"),
        case("0001-01-01 00:00"),
        case("9999-12-31 23:59"),
        case("1900-01-01T00:30:00+01:00"),
        case("2100-12-31T23:30:00-01:00"),
        case("4133980800"),
        case("9999999999"),
        case("9999999999999"),
    ],
)
def test_read_timestamp_rejects(value: Legacy) -> None:
    assert kind_of(lambda: read_timestamp(value, PARIS)) == "invalid_timestamp"


@pytest.mark.parametrize(
    ("tz", "value", "expected"),
    [
        # Paris, spring 2023: 02:00-03:00 does not exist; fold=0 keeps the offset before (+1).
        pytest.param(PARIS, "2023-03-26 01:59", utc(2023, 3, 26, 0, 59), id="paris-before-gap"),
        pytest.param(PARIS, "2023-03-26 02:00", utc(2023, 3, 26, 1), id="paris-gap-start"),
        pytest.param(PARIS, "2023-03-26 02:30", utc(2023, 3, 26, 1, 30), id="paris-in-gap"),
        pytest.param(
            PARIS, "26/3/2023 2:59:59", utc(2023, 3, 26, 1, 59, 59), id="paris-gap-day-first"
        ),
        pytest.param(PARIS, "2023-03-26 03:00", utc(2023, 3, 26, 1), id="paris-after-gap"),
        pytest.param(PARIS, "2023-03-26 12:00", utc(2023, 3, 26, 10), id="paris-gap-day-noon"),
        pytest.param(PARIS, "2023-03-25 23:00", utc(2023, 3, 25, 22), id="paris-eve-of-gap"),
        pytest.param(PARIS, "2023-03-27 00:00", utc(2023, 3, 26, 22), id="paris-day-after-gap"),
        # Paris, autumn 2023: 02:00-03:00 happens twice; fold=0 takes the first (+2).
        pytest.param(PARIS, "2023-10-29 01:59", utc(2023, 10, 28, 23, 59), id="paris-before-fold"),
        pytest.param(PARIS, "2023-10-29 02:00", utc(2023, 10, 29, 0), id="paris-fold-start"),
        pytest.param(PARIS, "2023-10-29 02:30", utc(2023, 10, 29, 0, 30), id="paris-in-fold"),
        pytest.param(PARIS, "29/10/2023 2:30", utc(2023, 10, 29, 0, 30), id="paris-fold-day-first"),
        pytest.param(PARIS, "2023-10-29 03:00", utc(2023, 10, 29, 2), id="paris-after-fold"),
        pytest.param(PARIS, "2023-10-29", utc(2023, 10, 28, 22), id="paris-fold-day-midnight"),
        pytest.param(PARIS, "2023-10-30 00:00", utc(2023, 10, 29, 23), id="paris-day-after-fold"),
        # An instant is never shifted by the zone, even inside the gap or the fold.
        pytest.param(
            PARIS, "2023-03-26T02:30:00Z", utc(2023, 3, 26, 2, 30), id="paris-gap-instant"
        ),
        pytest.param(
            PARIS, "2023-10-29T02:30+01:00", utc(2023, 10, 29, 1, 30), id="paris-fold-instant"
        ),
        # New York, spring 2023: 02:00-03:00 does not exist; fold=0 keeps EST (-5).
        pytest.param(NEW_YORK, "2023-03-12 01:59", utc(2023, 3, 12, 6, 59), id="ny-before-gap"),
        pytest.param(NEW_YORK, "2023-03-12 02:30", utc(2023, 3, 12, 7, 30), id="ny-in-gap"),
        pytest.param(NEW_YORK, "2023-03-12 03:00", utc(2023, 3, 12, 7), id="ny-after-gap"),
        # New York, autumn 2023: 01:00-02:00 happens twice; fold=0 takes EDT (-4).
        pytest.param(NEW_YORK, "2023-11-05 00:59", utc(2023, 11, 5, 4, 59), id="ny-before-fold"),
        pytest.param(NEW_YORK, "2023-11-05 01:30", utc(2023, 11, 5, 5, 30), id="ny-in-fold"),
        pytest.param(NEW_YORK, "5/11/2023 1:30", utc(2023, 11, 5, 5, 30), id="ny-fold-day-first"),
        pytest.param(NEW_YORK, "2023-11-05 02:00", utc(2023, 11, 5, 7), id="ny-after-fold"),
        pytest.param(NEW_YORK, "2023-07-14 10:00", utc(2023, 7, 14, 14), id="ny-summer"),
        pytest.param(NEW_YORK, "2023-01-15 10:00", utc(2023, 1, 15, 15), id="ny-winter"),
        # Lord Howe moves by 30 minutes: 02:00-02:30 does not exist on 2023-10-01 (+10:30).
        pytest.param(LORD_HOWE, "2023-10-01 02:15", utc(2023, 9, 30, 15, 45), id="lord-howe-gap"),
        pytest.param(
            LORD_HOWE, "2023-10-01 02:30", utc(2023, 9, 30, 15, 30), id="lord-howe-after-gap"
        ),
    ],
)
def test_wall_clock_resolves_gaps_and_folds_with_fold_0(
    tz: ZoneInfo, value: str, expected: datetime
) -> None:
    assert read_timestamp(value, tz) == expected


# --- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "value", "expected"),
    [
        pytest.param(PARIS, "14/07/2023", date(2023, 7, 14), id="day-first"),
        pytest.param(PARIS, "4/7/2023 23:59", date(2023, 7, 4), id="day-first-with-time"),
        pytest.param(PARIS, "2023-07-14", date(2023, 7, 14), id="iso"),
        pytest.param(
            PARIS, "2023-07-14 23:30", date(2023, 7, 14), id="wall-clock-keeps-written-date"
        ),
        pytest.param(PARIS, "2023-07-14 00:30", date(2023, 7, 14), id="wall-clock-early"),
        pytest.param(PARIS, "2023-03-26 02:30", date(2023, 3, 26), id="wall-clock-in-gap"),
        pytest.param(
            PARIS, "2023-07-14T23:30:00Z", date(2023, 7, 15), id="instant-next-day-in-paris"
        ),
        pytest.param(PARIS, "2023-07-14T21:30:00Z", date(2023, 7, 14), id="instant-same-day"),
        pytest.param(
            PARIS, "2023-07-14T23:30:00+02:00", date(2023, 7, 14), id="instant-paris-offset"
        ),
        pytest.param(
            PARIS, "2023-07-14T01:00:00+05:00", date(2023, 7, 13), id="instant-previous-day"
        ),
        pytest.param(PARIS, "1700000000", date(2023, 11, 14), id="epoch"),
        pytest.param(PARIS, "1700002800", date(2023, 11, 15), id="epoch-paris-midnight"),
        pytest.param(PARIS, " 2024-02-29 ", date(2024, 2, 29), id="leap-day"),
        pytest.param(NEW_YORK, "2023-07-15T02:00:00Z", date(2023, 7, 14), id="instant-in-new-york"),
        pytest.param(NEW_YORK, "2023-07-15 02:00", date(2023, 7, 15), id="wall-clock-in-new-york"),
        pytest.param(
            PARIS, "2100-12-31T23:30:00Z", date(2101, 1, 1), id="instant-in-2100-utc-2101-in-paris"
        ),
        pytest.param(PARIS, "0000-00-00", None, id="zero-date"),
        pytest.param(PARIS, "00/00/0000", None, id="zero-date-day-first"),
        pytest.param(PARIS, None, None, id="null"),
        pytest.param(PARIS, "  ", None, id="blank"),
    ],
)
def test_read_date(tz: ZoneInfo, value: Legacy, expected: date | None) -> None:
    actual = read_date(value, tz)
    assert actual == expected
    if expected is not None:
        assert type(actual) is date, "a date, not a datetime"


@pytest.mark.parametrize(
    "value",
    [
        case("2023-02-30"),
        case("2023-02-29"),
        case("31/04/2023"),
        case("00/07/2023"),
        case("2023-07-14 24:00"),
        case("2023-07-14Z"),
        case("20230714"),
        case("1899-12-31"),
        case("2101-01-01"),
        case("14.07.2023"),
        case("July 14, 2023"),
        case(14.5),
    ],
)
def test_read_date_rejects(value: Legacy) -> None:
    assert kind_of(lambda: read_date(value, PARIS)) == "invalid_date"


# --- money ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case("1234.50", "1234.50"),
        case("1234,5", "1234.50"),
        case("0", "0.00"),
        case("0,5", "0.50"),
        case("007", "7.00"),
        case("12", "12.00"),
        case("12€", "12.00"),
        case("12 €", "12.00"),
        case("12EUR", "12.00"),
        case("12 Eur", "12.00"),
        case("12 eUr", "12.00"),
        case("12,50 EUR", "12.50"),
        case("1\u00a0234,50\u202f€", "1234.50"),
        case("1\u2009234,50 €", "1234.50"),
        case("1 2 3 4", "1234.00"),
        case("\t12,50\n", "12.50"),
        case("1 234 567,89", "1234567.89"),
        case("1.234.567,89", "1234567.89"),
        case("1,234,567.89", "1234567.89"),
        case("1.234.567", "1234567.00"),
        case("1,234,567", "1234567.00"),
        case("9999999999.99", "9999999999.99"),
        case("9 999 999 999,99 €", "9999999999.99"),
        case("9.999.999.999,99", "9999999999.99"),
        case("0000000000000000000012.3", "12.30"),
        # Both separators: the last one is the decimal separator and the other is dropped,
        # wherever it stands (the rule checks groups only when one kind occurs).
        case("1,23,4.50", "1234.50"),
        case("1.,5", "1.50"),
        # Several of one kind: the groups after the first have 3 digits, the first any.
        case("1234,567,890", "1234567890.00"),
        case(12, "12.00"),
        case(12.5, "12.50"),
        case(0.1, "0.10"),
    ],
)
def test_read_money_accepts(value: Legacy, expected: str) -> None:
    actual = read_money(value)
    assert str(actual) == expected


@pytest.mark.parametrize("value", [case(None), case(""), case("   "), case("\u00a0\u202f")])
def test_read_money_reads_blank_as_null(value: Legacy) -> None:
    assert read_money(value) is None


@pytest.mark.parametrize(
    "value",
    [
        case("12.345"),
        case("1,234"),  # a single "," is the decimal separator: three decimals
        case(",234,567"),  # a leading thousands separator
        case("1,234,56"),
        case("1.234.56"),
        case("1.2.3"),
        case("1,2.3,4"),
        case(".5"),
        case(",5"),
        case("5."),
        case("5,"),
        case("-5"),
        case("+5"),
        case("(5)"),
        case("5-"),
        case("1e3"),
        case("1E3"),
        case("12345678901"),
        case("10000000000"),
        case("10000000000.00"),
        case("9999999999.999"),
        case("12.5.0"),
        case("12€€"),
        case("12 € €"),
        case("12EUR€"),
        case("12€EUR"),
        case("€12"),
        case("EUR 12"),
        case("12 euros"),
        case("12 USD"),
        case("12$"),
        case("€"),
        case("EUR"),
        case("abc"),
        case("١٢"),
        case("\uff11\uff12"),  # fullwidth 12
        case("12\u200b"),
        case("nan"),
        case("Infinity"),
        case(-5),
        case(float("nan")),
        case(float("inf")),
        case(-0.5),
        case(1e16),
        case(0.30000000000000004),
    ],
)
def test_read_money_rejects(value: Legacy) -> None:
    assert kind_of(lambda: read_money(value)) == "invalid_amount"


# --- booleans and enumerations -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case("1", True),
        case("true", True),
        case("TRUE", True),
        case("True", True),
        case(" Yes ", True),
        case("oui", True),
        case("OUI", True),
        case("\tOui\n", True),
        case(1, True),
        case("0", False),
        case("false", False),
        case("False", False),
        case("no", False),
        case("NO", False),
        case("Non", False),
        case(" non\u00a0", False),
        case(0, False),
        case(None, False),
        case("", False),
        case("  ", False),
    ],
)
def test_read_boolean_accepts(value: Legacy, expected: bool) -> None:
    assert read_boolean(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        case("2"),
        case("y"),
        case("n"),
        case("t"),
        case("f"),
        case("vrai"),
        case("faux"),
        case("on"),
        case("off"),
        case("truee"),
        case("yes!"),
        case("o ui"),
        case("01"),
        case("\uff39\uff25\uff33"),  # fullwidth YES
        case(2),
        case(-1),
        case(1.0),
    ],
)
def test_read_boolean_rejects(value: Legacy) -> None:
    assert kind_of(lambda: read_boolean(value)) == "invalid_boolean"


@pytest.mark.parametrize(
    ("value", "allowed", "default", "expected"),
    [
        case(" In Progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in - progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("IN_PROGRESS", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in-progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in--progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in__progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("In   Progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in_-_progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in\tprogress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("in\u00a0progress", INTERVENTION_STATUSES, "planned", "in_progress"),
        case("Done", INTERVENTION_STATUSES, "planned", "done"),
        case(None, INTERVENTION_STATUSES, "planned", "planned"),
        case("", INTERVENTION_STATUSES, "planned", "planned"),
        case(" \n ", INTERVENTION_STATUSES, "planned", "planned"),
        case("URGENT", PRIORITIES, "normal", "urgent"),
        case(None, PRIORITIES, "normal", "normal"),
        case("Admin", USER_ROLES, None, "admin"),
        case(None, USER_ROLES, None, None),
        case("", USER_ROLES, None, None),
    ],
)
def test_read_enum_accepts(
    value: Legacy, allowed: frozenset[str], default: str | None, expected: str | None
) -> None:
    assert read_enum(value, allowed, default) == expected


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        case("inprogress", INTERVENTION_STATUSES),
        case("in progress!", INTERVENTION_STATUSES),
        case("_in_progress", INTERVENTION_STATUSES),
        case("in_progress-", INTERVENTION_STATUSES),
        case("in.progress", INTERVENTION_STATUSES),
        case("progress", INTERVENTION_STATUSES),
        case("-", INTERVENTION_STATUSES),
        case("super admin", USER_ROLES),
        case("admin\u200b", USER_ROLES),
        case(1, PRIORITIES),
    ],
)
def test_read_enum_rejects(value: Legacy, allowed: frozenset[str]) -> None:
    assert kind_of(lambda: read_enum(value, allowed, None)) == "invalid_enum"


# --- participants --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case("[3, 1, 3]", [1, 3]),
        case('["7","5"]', [5, 7]),
        case('["7"]', [7]),
        case('[" 7 "]', [7]),
        case('["\\t7\\n", 7, "007"]', [7]),
        case('[5, "5", 2]', [2, 5]),
        case("[\n  4,\n  2\n]", [2, 4]),
        case(" [1] ", [1]),
        case(f"[{BIGINT_MAX}]", [BIGINT_MAX]),
        case("4, 2", [2, 4]),
        case("4,2", [2, 4]),
        case("5", [5]),
        case(" 5 ", [5]),
        case("2,2,2", [2]),
        case("10, 9, 100", [9, 10, 100]),
        case("007", [7]),
        case(f"1, {BIGINT_MAX}", [1, BIGINT_MAX]),
        case("0" * 5000 + "1", [1]),
        case(5, [5]),
    ],
)
def test_read_participants_accepts(value: Legacy, expected: list[int]) -> None:
    assert read_participants(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        case(None),
        case(""),
        case("   "),
        case("null"),
        case(" null "),
        case("[]"),
        case("[ ]"),
        case("[\n]"),
    ],
)
def test_read_participants_empty(value: Legacy) -> None:
    assert kind_of(lambda: read_participants(value)) == "empty_participants"


@pytest.mark.parametrize(
    "value",
    [
        case("1;2"),
        case("1 2"),
        case("1,2,"),
        case(",1"),
        case("1,,2"),
        case(","),
        case("[true]"),
        case("[false]"),
        case("[2.0]"),
        case("[1e2]"),
        case("[NaN]"),
        case("[null]"),
        case("[[1]]"),
        case('[{"id": 1}]'),
        case('[""]'),
        case('["1 2"]'),
        case('["+1"]'),
        case('["-1"]'),
        case('["1.0"]'),
        case('["٣"]'),
        case("[0]"),
        case("[-1]"),
        case("[01]"),
        case("[1,]"),
        case("[1, 2"),
        case("[1] [2]"),
        case("[1],2"),
        case("[" * 100000 + "]" * 100000),
        case(f"[{'9' * 5000}]"),
        case("0"),
        case("-1"),
        case("+1"),
        case("1.0"),
        case("9223372036854775808"),
        case(f"[{BIGINT_MAX + 1}]"),
        case('["9223372036854775808"]'),
        case("9" * 5000),
        case("٣"),
        case("1|2"),
        case("{1,2}"),
        case("1\n2"),
        case("Null"),
        case("NULL"),
        case("none"),
        case(0),
        case(-3),
        case(2.0),
    ],
)
def test_read_participants_invalid(value: Legacy) -> None:
    assert kind_of(lambda: read_participants(value)) == "invalid_participants"


# --- properties ----------------------------------------------------------------------

INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59, 999999)
)
NAIVE = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59, 999999)
)
ZONES = st.one_of(st.sampled_from([PARIS, NEW_YORK, LORD_HOWE, ZoneInfo("UTC")]), st.timezones())
SPACES = st.text(alphabet=WHITESPACE, max_size=3)


def iso_clock(moment: datetime, style: int) -> str:
    """Render HH:MM, adding seconds and a fraction when needed, in one of the allowed ways."""
    clock = f"{moment.hour:02}:{moment.minute:02}"
    if moment.second or moment.microsecond or style % 2:
        clock += f":{moment.second:02}"
        if moment.microsecond:
            fraction = f"{moment.microsecond:06}"
            clock += "." + (fraction if style % 3 == 0 else fraction.rstrip("0"))
    return clock


@PROPERTY
@given(
    instant=INSTANTS,
    offset_minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    separator=st.sampled_from("Tt "),
    clock_style=st.integers(0, 5),
    offset_style=st.integers(0, 3),
    padding=SPACES,
)
def test_property_iso_with_offset_reads_back_the_instant(
    instant: datetime,
    offset_minutes: int,
    separator: str,
    clock_style: int,
    offset_style: int,
    padding: str,
) -> None:
    local = instant + timedelta(minutes=offset_minutes)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    if offset_minutes == 0 and offset_style < 2:
        offset = "Zz"[offset_style]
    elif minutes == 0 and offset_style == 0:
        offset = f"{sign}{hours:02}"
    elif offset_style % 2:
        offset = f"{sign}{hours:02}{minutes:02}"
    else:
        offset = f"{sign}{hours:02}:{minutes:02}"
    text = f"{padding}{local:%Y-%m-%d}{separator}{iso_clock(local, clock_style)}{offset}{padding}"
    expected = instant.replace(tzinfo=UTC)
    assert read_timestamp(text, PARIS) == expected
    assert read_date(text, PARIS) == expected.astimezone(PARIS).date()


@PROPERTY
@given(
    naive=NAIVE,
    tz=ZONES,
    separator=st.sampled_from("Tt "),
    clock_style=st.integers(0, 5),
    padding=SPACES,
)
def test_property_iso_wall_clock_reads_back_with_fold_0(
    naive: datetime, tz: ZoneInfo, separator: str, clock_style: int, padding: str
) -> None:
    text = f"{padding}{naive:%Y-%m-%d}{separator}{iso_clock(naive, clock_style)}{padding}"
    expected = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    assert read_timestamp(text, tz) == expected
    assert read_date(text, tz) == naive.date()


@PROPERTY
@given(
    naive=NAIVE,
    tz=ZONES,
    pad_day=st.booleans(),
    pad_month=st.booleans(),
    pad_hour=st.booleans(),
    style=st.integers(0, 2),
)
def test_property_day_first_wall_clock_reads_back_with_fold_0(
    naive: datetime, tz: ZoneInfo, pad_day: bool, pad_month: bool, pad_hour: bool, style: int
) -> None:
    naive = naive.replace(microsecond=0)
    day = f"{naive.day:02}" if pad_day else str(naive.day)
    month = f"{naive.month:02}" if pad_month else str(naive.month)
    hour = f"{naive.hour:02}" if pad_hour else str(naive.hour)
    text = f"{day}/{month}/{naive.year}"
    if style == 0 or naive.second:
        text += f" {hour}:{naive.minute:02}:{naive.second:02}"
    elif style == 1:
        text += f" {hour}:{naive.minute:02}"
    else:
        naive = naive.replace(hour=0, minute=0, second=0)
    expected = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    assert read_timestamp(text, tz) == expected
    assert read_date(text, tz) == naive.date()


@PROPERTY
@given(
    instant=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59)
    ),
    milliseconds=st.booleans(),
    nine_digits=st.booleans(),
)
def test_property_epoch_reads_back_the_instant(
    instant: datetime, milliseconds: bool, nine_digits: bool
) -> None:
    seconds = calendar.timegm(instant.timetuple())
    expected = instant.replace(tzinfo=UTC)
    if milliseconds:
        millis = instant.microsecond // 1000
        text = f"{seconds * 1000 + millis:013}"
        expected = expected.replace(microsecond=millis * 1000)
    else:
        text = f"{seconds:09}" if nine_digits and seconds < 10**9 else f"{seconds:010}"
        expected = expected.replace(microsecond=0)
    assert read_timestamp(text, NEW_YORK) == expected


@PROPERTY
@given(year=st.integers(1900, 2100), month=st.integers(1, 12), day=st.integers(1, 31))
def test_property_a_written_date_is_valid_exactly_when_the_calendar_has_it(
    year: int, month: int, day: int
) -> None:
    text = f"{year:04}-{month:02}-{day:02}"
    if day <= calendar.monthrange(year, month)[1]:
        assert read_date(text, PARIS) == date(year, month, day)
        assert read_date(f"{day}/{month}/{year}", PARIS) == date(year, month, day)
    else:
        assert kind_of(lambda: read_date(text, PARIS)) == "invalid_date"
        assert kind_of(lambda: read_timestamp(f"{text} 12:00", PARIS)) == "invalid_timestamp"


THOUSANDS = st.sampled_from([".", ",", " ", "\u00a0", "\u202f", ""])
SUFFIXES = st.sampled_from(["", "€", " €", "\u00a0€", "EUR", " eur", " Eur", "eUR"])


def group_thousands(units: int, separator: str) -> str:
    """Write an integer with a thousands separator, by hand rather than with format()."""
    digits = str(units)
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return separator.join(groups)


@PROPERTY
@given(
    cents=st.integers(0, 999_999_999_999),
    thousands=THOUSANDS,
    suffix=SUFFIXES,
    padding=SPACES,
    decimals=st.integers(0, 2),
)
def test_property_money_reads_back_with_any_separators_and_suffix(
    cents: int, thousands: str, suffix: str, padding: str, decimals: int
) -> None:
    units, hundredths = divmod(cents, 100)
    # A lone "." or "," would read as the decimal separator, so group separators of that
    # kind always come with a decimal part of the other kind.
    decimal_separator = {".": ",", ",": "."}.get(thousands, ",."[decimals % 2])
    if hundredths == 0 and decimals == 0 and thousands not in (".", ","):
        fraction = ""
    elif hundredths % 10 == 0 and decimals == 1:
        fraction = f"{decimal_separator}{hundredths // 10}"
    else:
        fraction = f"{decimal_separator}{hundredths:02}"
    text = f"{padding}{group_thousands(units, thousands)}{fraction}{suffix}{padding}"
    expected = Decimal(f"{units}.{hundredths:02}")
    actual = read_money(text)
    assert actual == expected
    assert actual is not None and actual.as_tuple().exponent == -2


@PROPERTY
@given(
    ids=st.lists(st.integers(1, BIGINT_MAX), min_size=1, max_size=8),
    data=st.data(),
    form=st.sampled_from(["json-int", "json-str", "json-mixed", "csv"]),
)
def test_property_participants_read_back_sorted_and_distinct(
    ids: list[int], data: st.DataObject, form: str
) -> None:
    written = data.draw(st.permutations(ids + ids[: data.draw(st.integers(0, len(ids)))]))
    spaces = st.text(alphabet=" \t\n", max_size=2)
    if form == "csv":
        text = ",".join(f"{data.draw(spaces)}{n}{data.draw(spaces)}" for n in written)
    else:
        items: list[object] = []
        for n in written:
            as_text = form == "json-str" or (form == "json-mixed" and data.draw(st.booleans()))
            items.append(f"{data.draw(spaces)}{n}{data.draw(spaces)}" if as_text else n)
        text = json.dumps(items)
    expected = sorted(set(ids))
    assert read_participants(text) == expected


def respell(name: str, data: st.DataObject) -> str:
    """Write a name in random case with each `_` as a random run of separators."""
    runs = st.text(alphabet=" \t\u00a0-_", min_size=1, max_size=3)
    letters = [
        data.draw(runs) if c == "_" else (c.upper() if data.draw(st.booleans()) else c)
        for c in name
    ]
    return data.draw(SPACES) + "".join(letters) + data.draw(SPACES)


@PROPERTY
@given(
    name=st.sampled_from(sorted(INTERVENTION_STATUSES | PRIORITIES | USER_ROLES)), data=st.data()
)
def test_property_enum_ignores_case_spaces_and_separator_runs(
    name: str, data: st.DataObject
) -> None:
    allowed = INTERVENTION_STATUSES | PRIORITIES | USER_ROLES
    assert read_enum(respell(name, data), allowed, None) == name


@PROPERTY
@given(
    word=st.sampled_from(["1", "true", "yes", "oui", "0", "false", "no", "non"]),
    data=st.data(),
)
def test_property_boolean_ignores_case_and_surrounding_spaces(
    word: str, data: st.DataObject
) -> None:
    expected = word in ("1", "true", "yes", "oui")
    assert read_boolean(respell(word, data)) is expected


@PROPERTY
@given(
    number=st.integers(-(2**63), BIGINT_MAX),
    zeros=st.integers(0, 3),
    plus=st.booleans(),
    padding=SPACES,
)
def test_property_integer_reads_back(number: int, zeros: int, plus: bool, padding: str) -> None:
    sign = "-" if number < 0 else ("+" if plus else "")
    text = f"{padding}{sign}{'0' * zeros}{abs(number)}{padding}"
    assert read_integer(text) == number
    assert read_integer(number) == number


@PROPERTY
@given(number=st.one_of(st.integers(max_value=-(2**63) - 1), st.integers(min_value=2**63)))
def test_property_integer_outside_bigint_is_invalid(number: int) -> None:
    assert kind_of(lambda: read_integer(str(number))) == "invalid_integer"
    assert kind_of(lambda: read_integer(number)) == "invalid_integer"


@PROPERTY
@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")))
def test_property_free_text_is_copied_exactly(text: str) -> None:
    assert read_text(text) == text


LEGACY_VALUES = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.binary(max_size=8),
    st.text(max_size=40),
    st.text(alphabet='0123456789-/:.,+ TtZz[]"€EURe', max_size=30),
)


@PROPERTY
@given(value=LEGACY_VALUES, tz=st.sampled_from([PARIS, NEW_YORK]))
def test_property_readers_only_ever_return_or_raise_invalid(value: Legacy, tz: ZoneInfo) -> None:
    reads: list[Callable[[], object]] = [
        lambda: read_text(value),
        lambda: read_integer(value),
        lambda: read_email(value, empty=""),
        lambda: read_serial(value),
        lambda: read_timestamp(value, tz),
        lambda: read_date(value, tz),
        lambda: read_money(value),
        lambda: read_boolean(value),
        lambda: read_enum(value, INTERVENTION_STATUSES, "planned"),
        lambda: read_participants(value),
    ]
    for read in reads:
        try:
            result = read()
        except Invalid as exc:
            assert exc.kind in {
                "invalid_text",
                "invalid_integer",
                "invalid_timestamp",
                "invalid_date",
                "invalid_amount",
                "invalid_boolean",
                "invalid_enum",
                "empty_participants",
                "invalid_participants",
            }
        else:
            if isinstance(result, datetime):
                assert result.utcoffset() == timedelta(0)
                assert 1900 <= result.year <= 2100
