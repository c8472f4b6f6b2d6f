"""The oracle of the row-by-row checks: section 5 of the rules by hand, and agreement with the readers.

The oracle (migration_suite/oracle.py) and the migration's readers (migration_suite/readers.py)
are two independent readings of MIGRATION_RULES.md section 2. The property tests here are the
one place where both meet: on random legacy values they must agree, and a disagreement means
one of them misreads the spec.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.canonical import iso_text
from migration_suite import readers
from migration_suite.oracle import (
    INTERVENTION_STATUSES,
    USER_ROLES,
    Legacy,
    Oracle,
    Rejected,
    canonical_json,
    decode_text,
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
ZONES = [PARIS, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]
ORACLE = Oracle(PARIS)
LEGACY_SCHEMA = Path(__file__).parent.parent / "migration_suite" / "legacy_schema.sql"
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(table: str, column: str, value: Legacy) -> object:
    """What the oracle makes of one legacy value: the target value, or 'quarantine <reason>'."""
    read = dict(ORACLE.columns[table])[column]
    try:
        return read(value)
    except Rejected as rejected:
        return f"quarantine {rejected.reason(column)}"


def example(table: str, column: str, value: Legacy, expected: object) -> Any:
    """One row of section 5, named like the row."""
    return pytest.param(table, column, value, expected, id=f"{column}={value!r}")


# Every example of MIGRATION_RULES.md section 5, expected values typed by hand in the checks'
# canonical spelling: instants in UTC as ISO text, dates as ISO text, money with two decimals.
SECTION_5 = [
    example("users", "created_at", "2023-07-14 10:00:00", "2023-07-14T08:00:00+00:00"),
    example("users", "created_at", "2023-01-05T10:00:00Z", "2023-01-05T10:00:00+00:00"),
    example("users", "created_at", "2023-01-05T10:00:00.5+02:00", "2023-01-05T08:00:00.5+00:00"),
    example("users", "created_at", "14/07/2023 10:00", "2023-07-14T08:00:00+00:00"),
    example("users", "created_at", "1700000000", "2023-11-14T22:13:20+00:00"),
    example("users", "created_at", "0000-00-00 00:00:00", None),
    example("users", "created_at", "2023-02-30 10:00:00", "quarantine invalid_timestamp:created_at"),
    example("equipment", "installed_on", "14/07/2023", "2023-07-14"),
    example("maintenance_contracts", "amount", "1 234,50 €", "1234.50"),
    example("maintenance_contracts", "amount", "1.234,50", "1234.50"),
    example("maintenance_contracts", "amount", "1,234.50", "1234.50"),
    example("maintenance_contracts", "amount", "99,9", "99.90"),
    example("maintenance_contracts", "amount", "12.345", "quarantine invalid_amount:amount"),
    example("maintenance_contracts", "amount", "-5", "quarantine invalid_amount:amount"),
    example("tasks", "is_done", " Oui ", True),
    example("tasks", "is_done", None, False),
    example("interventions", "status", " In Progress", "in_progress"),
    example("equipment", "serial_number", " sn-001 ", "SN-001"),
    example("chat_conversations", "participants", "[3, 1, 3]", [1, 3]),
    example("chat_conversations", "participants", '["7","5"]', [5, 7]),
    example("chat_conversations", "participants", "4, 2", [2, 4]),
    example("chat_conversations", "participants", "[]", "quarantine empty_participants"),
    example("chat_conversations", "participants", "1;2", "quarantine invalid_participants"),
    example("users", "created_at", "2023-07-14t10:00+0200", "2023-07-14T08:00:00+00:00"),
    example("users", "created_at", "4/7/2023 9:05", "2023-07-04T07:05:00+00:00"),
    example("users", "created_at", "1700000000000", "2023-11-14T22:13:20+00:00"),
    example("users", "created_at", "20230714", "quarantine invalid_timestamp:created_at"),
    example("users", "created_at", "2023-07-14 24:00", "quarantine invalid_timestamp:created_at"),
    example("users", "created_at", "2023-07-14Z", "quarantine invalid_timestamp:created_at"),
    example("equipment", "installed_on", "2023-07-14T23:30:00Z", "2023-07-15"),
    example("maintenance_contracts", "amount", "1,234,567", "1234567.00"),
    example("maintenance_contracts", "amount", "12 eur", "12.00"),
    example("maintenance_contracts", "amount", "1,234,56", "quarantine invalid_amount:amount"),
    example("maintenance_contracts", "amount", ".5", "quarantine invalid_amount:amount"),
    example("maintenance_contracts", "amount", "12345678901", "quarantine invalid_amount:amount"),
    example("interventions", "status", "in - progress", "in_progress"),
    example("chat_conversations", "participants", "5", [5]),
    example("chat_conversations", "participants", "1 2", "quarantine invalid_participants"),
    example("chat_conversations", "participants", "1,2,", "quarantine invalid_participants"),
    example("chat_conversations", "participants", "[true]", "quarantine invalid_participants"),
    example("chat_conversations", "participants", "[2.0]", "quarantine invalid_participants"),
]


@pytest.mark.parametrize(("table", "column", "value", "expected"), SECTION_5)
def test_section_5_example(table: str, column: str, value: Legacy, expected: object) -> None:
    assert outcome(table, column, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2023-10-29 02:30", "2023-10-29T00:30:00+00:00", id="ambiguous: fold=0, summer time"),
        pytest.param("2023-03-26 02:30", "2023-03-26T01:30:00+00:00", id="non-existent: the offset before"),
        pytest.param("1900-01-01 00:00", "1899-12-31T23:50:39+00:00", id="Paris mean time in 1900"),
        pytest.param("2100-12-31T23:59:59-23:59", "quarantine invalid_timestamp:created_at", id="UTC year 2101"),
        pytest.param("1900-01-01T00:30+01:00", "quarantine invalid_timestamp:created_at", id="UTC year 1899"),
        pytest.param("4133980799", "2100-12-31T23:59:59+00:00", id="last epoch"),
        pytest.param("4133980800", "quarantine invalid_timestamp:created_at", id="epoch in 2101"),
        pytest.param("2023-07-14T10:00+05:75", "quarantine invalid_timestamp:created_at", id="offset minutes 75"),
        pytest.param("2023-07-14 10:00:00,5", "quarantine invalid_timestamp:created_at", id="comma fraction"),
        pytest.param("00/00/0000", None, id="day-first zero date"),
        pytest.param("00/07/2023", "quarantine invalid_timestamp:created_at", id="partly zero date"),
        pytest.param("2023-07-14 23:59:60", "quarantine invalid_timestamp:created_at", id="leap second"),
        pytest.param("２０２３-07-14", "quarantine invalid_timestamp:created_at", id="fullwidth digits"),
    ],
)
def test_timestamp_edges(value: str, expected: object) -> None:
    assert outcome("users", "created_at", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"abc", "quarantine invalid_text:name", id="BLOB"),
        pytest.param("a\x00b", "quarantine invalid_text:name", id="NUL"),
        pytest.param(42, "42", id="integer as decimal text"),
        pytest.param(12.5, "12.5", id="REAL by repr"),
        pytest.param("  kept as it is ", "  kept as it is ", id="free text not stripped"),
    ],
)
def test_free_text(value: Legacy, expected: object) -> None:
    assert outcome("users", "name", value) == expected


def test_text_that_is_not_utf8_stays_bytes_and_cannot_be_stored() -> None:
    assert decode_text("é".encode()) == "é"
    assert decode_text(b"\xff") == b"\xff"
    assert outcome("clients", "address", decode_text(b"\xff")) == "quarantine invalid_text:address"


def test_users_email_empty_stays_empty_and_clients_email_is_null() -> None:
    assert outcome("users", "email", "  ") == ""
    assert outcome("users", "email", None) == ""  # as empty: the target column is NOT NULL
    assert outcome("users", "email", " A@B.FR ") == "a@b.fr"
    assert outcome("clients", "email", "  ") is None


def test_text_that_cannot_be_stored_names_its_column_in_every_reader() -> None:
    assert outcome("chat_conversations", "participants", "1\x002") == "quarantine invalid_text:participants"
    assert outcome("tasks", "is_done", b"1") == "quarantine invalid_text:is_done"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" +0012 ", 12, id="sign and leading zeros"),
        pytest.param("2147483647", 2147483647, id="largest integer"),
        pytest.param("2147483648", "quarantine invalid_integer:position", id="past the integer column"),
        pytest.param(-2147483649, "quarantine invalid_integer:position", id="SQLite integer past it"),
        pytest.param("4.0", "quarantine invalid_integer:position", id="REAL text"),
    ],
)
def test_a_position_must_fit_the_target_integer_column(value: Legacy, expected: object) -> None:
    assert outcome("tasks", "position", value) == expected


def test_legacy_columns_are_the_legacy_schemas_in_its_order() -> None:
    legacy = sqlite3.connect(":memory:")
    legacy.executescript(LEGACY_SCHEMA.read_text())
    for table in ORACLE.columns:
        assert ORACLE.legacy_columns(table) == [row[1] for row in legacy.execute(f"PRAGMA table_info({table})")]


def test_the_first_broken_rule_in_legacy_column_order_names_the_reason() -> None:
    # chat_messages: id, conversation_id, user_id, body, sent_at, read_at, created_at, updated_at
    assert ORACLE.read_row("chat_messages", (1, "x", 2, "hi", None, "2023-02-30", None, None)) == (
        "invalid_integer:conversation_id"
    )
    assert ORACLE.read_row("chat_messages", (1, 1, 2, "hi", None, None, "bad", None)) == (
        "invalid_timestamp:created_at"
    )
    assert ORACLE.read_row("chat_messages", (1, 1, 2, "hi", None, None, None, None)) == "missing_sent_at"


def test_sent_at_falls_back_to_created_at() -> None:
    row = ORACLE.read_row("chat_messages", (1, 1, 2, "hi", " ", None, "2023-07-14 10:00", None))
    assert isinstance(row, dict)
    assert row["sent_at"] == row["created_at"] == "2023-07-14T08:00:00+00:00"


def test_a_contract_that_ends_before_it_starts_has_an_invalid_period() -> None:
    # maintenance_contracts: id, equipment_id, reference, starts_on, ends_on, amount, status, created_at, updated_at
    base = (1, 7, "CTR-1", "2023-07-14", "13/07/2023", "10", "active", None, None)
    assert ORACLE.read_row("maintenance_contracts", base) == "invalid_period"
    assert ORACLE.read_row("maintenance_contracts", base[:4] + ("2023-07-14",) + base[5:]) == {
        "id": 1,
        "equipment_id": 7,
        "reference": "CTR-1",
        "starts_on": "2023-07-14",
        "ends_on": "2023-07-14",
        "amount": "10.00",
        "status": "active",
        "created_at": None,
        "updated_at": None,
    }


def test_a_row_reads_as_the_canonical_json_of_the_checks() -> None:
    row = ORACLE.read_row("tasks", (5, " 12 ", "Vérifier", "yes", "3", "2023-07-14 10:00", "0000-00-00"))
    assert isinstance(row, dict)
    assert canonical_json(row) == (
        '{"created_at":"2023-07-14T08:00:00+00:00","id":5,"intervention_id":12,"is_done":true,'
        '"position":3,"title":"Vérifier","updated_at":null}'
    )
    assert json.loads(canonical_json(row))["title"] == "Vérifier"


# --- the oracle and the migration's readers agree ---------------------------------------

SPACES = st.sampled_from(["", "", " ", "\t", "\n", "\xa0", "\u202f", "\u200b", "\ufeff"])
OTHER_LEGACY = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.binary(max_size=4),
    st.text(max_size=8),
    st.just("1\x002"),
)


def digits(least: int, most: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=least, max_size=most)


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[Legacy]:
    """Legacy values: a spelling between whitespace, or any other value sqlite3 may return."""
    return st.one_of(st.tuples(SPACES, values, SPACES).map("".join), OTHER_LEGACY)


@st.composite
def iso_spellings(draw: st.DrawFn) -> str:
    """ISO-like spellings, right and wrong: digit counts, separators, fractions, offsets."""
    near = st.sampled_from
    text = f"{draw(st.one_of(digits(4, 4), digits(1, 5), near(['1899', '1900', '2100', '2101', '0000'])))}-"
    text += f"{draw(st.one_of(digits(2, 2), digits(1, 3), near(['00', '02', '12', '13'])))}-"
    text += draw(st.one_of(digits(2, 2), digits(1, 3), near(["00", "29", "30", "31", "32"])))
    if draw(st.booleans()):
        text += draw(near(["T", "t", " ", "  ", "_"]))
        text += draw(st.one_of(digits(2, 2), digits(1, 3), near(["00", "23", "24"])))
        text += ":" + draw(st.one_of(digits(2, 2), digits(1, 3), near(["00", "59", "60"])))
        if draw(st.booleans()):
            text += ":" + draw(st.one_of(digits(2, 2), digits(1, 3), near(["59", "60", "61"])))
            if draw(st.booleans()):
                text += draw(near([".", ","])) + draw(digits(0, 8))
    if draw(st.booleans()):
        offsets = near(["Z", "z", "+00", "-00", "+02:00", "-05:30", "+0545", "+24:00", "+23:59", "-00:60", "UTC"])
        any_offset = st.tuples(near("+-"), digits(1, 2), near(["", ":"]), digits(0, 2)).map("".join)
        text += draw(st.one_of(offsets, any_offset))
    return text


@st.composite
def day_first_spellings(draw: st.DrawFn) -> str:
    text = f"{draw(digits(0, 3))}/{draw(digits(0, 3))}/{draw(digits(2, 5))}"
    if draw(st.booleans()):
        text += draw(st.sampled_from([" ", "T", "  "])) + draw(digits(1, 3)) + ":" + draw(digits(1, 3))
        if draw(st.booleans()):
            text += ":" + draw(digits(1, 3))
    return text


CHANGES = [datetime(2023, 3, 26, 2), datetime(2023, 10, 29, 2), datetime(2023, 3, 12, 2), datetime(2023, 11, 5, 1)]
CHANGES += [datetime(2023, 4, 2, 2), datetime(2023, 10, 1, 2), datetime(1911, 3, 11), datetime(1900, 1, 1)]
CHANGES += [datetime(2101, 1, 1)]
"""DST changes of the zones tested (Paris, New York, Lord Howe), Paris mean time's end, the years' bounds."""


@st.composite
def near_changes(draw: st.DrawFn) -> str:
    """Wall-clock and offset spellings within a few hours of a DST change or a bound of the years."""
    moment = draw(st.sampled_from(CHANGES)) + timedelta(seconds=draw(st.integers(-4 * 3600, 4 * 3600)))
    spelling = draw(st.sampled_from(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d"]))
    text = moment.strftime(spelling)
    if "H" in spelling and "/" not in spelling and draw(st.booleans()):
        text += draw(st.sampled_from(["Z", "+01:00", "-05:00", "+14:00", "-23:59", "+0030"]))
    return text


MOMENTS = padded(
    st.one_of(
        iso_spellings(),
        day_first_spellings(),
        near_changes(),
        digits(8, 14),
        st.sampled_from(["0000-00-00", "0/0/0000", "00/00/0000 00:00", "0000-00-00T25:99", "0000-00-00 00:00Z"]),
        st.text(st.sampled_from("0123456789-/:Tt Zz+.,\xa0٣０"), max_size=25),
    )
)


@st.composite
def amounts(draw: st.DrawFn) -> str:
    """Amounts with separators in and out of place, and currency marks."""
    separator = draw(st.sampled_from([",", ".", " ", "\xa0"]))
    text = draw(digits(0, 4)) + "".join(separator + group for group in draw(st.lists(digits(0, 4), max_size=3)))
    if draw(st.booleans()):
        text += draw(st.sampled_from([",", "."])) + draw(digits(0, 3))
    return text + draw(st.sampled_from(["", "€", " €", "EUR", " eur", "€€", "eur€", " EuR ", "-", "e5"]))


MONEY = padded(
    st.one_of(
        amounts(),
        st.lists(st.sampled_from([*"0123456789,.€ -+e", "EUR", "eur", "\xa0", "\u200b", "٣"]), max_size=12).map(
            "".join
        ),
    )
)

ENUMS = padded(
    st.one_of(
        st.sampled_from(["In Progress", "in - progress", "IN__PROGRESS", "_in_progress", "in_progress_", "DONE"]),
        st.sampled_from(["in\xa0progress", "in\u200bprogress", "-", "İn progress", "ın_progress", "planned "]),
        st.text(st.sampled_from("inprogesd _-\t\xa0IPKk"), max_size=14),
    )
)

BOOLEANS = padded(
    st.one_of(
        st.sampled_from(["1", "0", "true", "FALSE", "Yes", "no", "OUI", "non", "y", "on", "01", "ſ", "falſe", "vrai"]),
        st.text(st.sampled_from("truefalsyonui01 "), max_size=6),
    )
)

INTEGERS = padded(
    st.one_of(
        st.tuples(st.sampled_from(["", "+", "-", "--", "+-"]), digits(0, 22)).map("".join),
        st.sampled_from(["9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809"]),
        st.sampled_from(["0" * 30 + "1", "1_000", "٣", "1e3", "1.0", "0x10", "1" * 5000]),
    )
)

JSON_ITEMS = st.one_of(
    st.integers(-5, 2**64).map(str),
    st.sampled_from(["true", "false", "null", "2.0", "1e2", "01", "NaN", "Infinity", "-1", "[1]", '""', '" 7 "']),
    st.text("0123456789 \t-+", max_size=6).map(json.dumps),
)


@st.composite
def participant_spellings(draw: st.DrawFn) -> str:
    """JSON arrays, comma-separated lists, the empty spellings, and near misses."""
    kind = draw(st.sampled_from(["json", "list", "fixed", "noise"]))
    if kind == "json":
        items = draw(st.lists(JSON_ITEMS, max_size=4))
        inside = draw(st.sampled_from([",", ", ", " ,"])).join(items) + draw(st.sampled_from(["", " ", ","]))
        return "[" + inside + "]" + draw(st.sampled_from(["", "", " ", "]", "x"]))
    if kind == "list":
        items = draw(st.lists(st.tuples(SPACES, digits(0, 4), SPACES).map("".join), min_size=1, max_size=4))
        return draw(st.sampled_from([",", ";", ", "])).join(items)
    if kind == "fixed":
        return draw(st.sampled_from(["null", "NULL", "[ ]", "[\n]", "[null]", "{}", "0", "9223372036854775808"]))
    return draw(st.text(st.sampled_from('[]0123456789, "-.tn'), max_size=12))


def agree(oracle_read: Callable[[Legacy], object], migration_read: Callable[[Legacy], object], value: Legacy) -> None:
    """Both readings give the same target value (in canonical spelling) or the same reason."""
    assert _oracle_outcome(oracle_read, value) == _readers_outcome(migration_read, value)


def _oracle_outcome(read: Callable[[Legacy], object], value: Legacy) -> object:
    try:
        return read(value)
    except Rejected as rejected:
        return f"quarantine {rejected.kind}"


def _readers_outcome(read: Callable[[Legacy], object], value: Legacy) -> object:
    try:
        result = read(value)
    except readers.Invalid as invalid:
        return f"quarantine {invalid.kind}"
    if isinstance(result, datetime):
        return iso_text(result.astimezone(UTC))
    if isinstance(result, date):
        return result.isoformat()
    if isinstance(result, Decimal):
        return f"{result:.2f}"
    return result


@PROPERTY
@given(MOMENTS, st.sampled_from(ZONES))
def test_timestamps_agree_with_the_readers(value: Legacy, zone: ZoneInfo) -> None:
    agree(lambda v: read_timestamp(v, zone), lambda v: readers.read_timestamp(v, zone), value)


@PROPERTY
@given(MOMENTS, st.sampled_from(ZONES))
def test_dates_agree_with_the_readers(value: Legacy, zone: ZoneInfo) -> None:
    agree(lambda v: read_date(v, zone), lambda v: readers.read_date(v, zone), value)


@PROPERTY
@given(MONEY)
def test_money_agrees_with_the_readers(value: Legacy) -> None:
    agree(read_money, readers.read_money, value)


@PROPERTY
@given(ENUMS, st.sampled_from([(INTERVENTION_STATUSES, "planned"), (USER_ROLES, None)]))
def test_enumerations_agree_with_the_readers(value: Legacy, enum: tuple[frozenset[str], str | None]) -> None:
    allowed, default = enum
    agree(lambda v: read_enum(v, allowed, default), lambda v: readers.read_enum(v, allowed, default), value)


@PROPERTY
@given(BOOLEANS)
def test_booleans_agree_with_the_readers(value: Legacy) -> None:
    agree(read_boolean, readers.read_boolean, value)


@PROPERTY
@given(INTEGERS)
def test_integers_agree_with_the_readers(value: Legacy) -> None:
    agree(read_integer, readers.read_integer, value)


@PROPERTY
@given(padded(participant_spellings()))
def test_participants_agree_with_the_readers(value: Legacy) -> None:
    agree(read_participants, readers.read_participants, value)


@PROPERTY
@given(padded(st.text(max_size=10)), st.sampled_from(["", None]))
def test_text_emails_and_serials_agree_with_the_readers(value: Legacy, empty: str | None) -> None:
    agree(read_text, readers.read_text, value)
    agree(read_serial, readers.read_serial, value)
    agree(lambda v: read_email(v, empty=empty), lambda v: readers.read_email(v, empty=empty), value)


@PROPERTY
@given(
    st.lists(
        st.datetimes(
            min_value=datetime(1900, 1, 2), max_value=datetime(2100, 12, 30), timezones=st.none() | st.just(UTC)
        ),
        min_size=2,
    ),
    st.sampled_from(ZONES),
)
def test_canonical_instants_sort_as_text_as_they_do_in_time(moments: list[datetime], zone: ZoneInfo) -> None:
    # The row-by-row key rule check orders the pivot's created_at by its canonical text.
    # Naive moments are wall-clock times in `zone`: around a DST change their order and
    # their instants' differ, which only the instants' order may follow.
    texts = [read_timestamp(moment.isoformat(), zone) for moment in moments]
    assert sorted(texts, key=str) == sorted(texts, key=lambda text: datetime.fromisoformat(str(text)))
