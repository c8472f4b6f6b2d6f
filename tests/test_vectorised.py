"""The vectorised conversion gives exactly what the per-row readers give, and loads it exactly.

The per-row `RowConverter` (readers.py) is the oracle: on random batches of every legacy
table, mixing every accepted spelling, wall-clock times in DST gaps and folds, invalid
values and values of odd Python types, the `VectorisedConverter` must give the same rows,
values and Python types, and the same (index, reason) list. Zone offsets are checked
against zoneinfo itself, and the COPY of a frame against what PostgreSQL stores.
"""

from __future__ import annotations

import calendar
import json
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from fixtures.generate import generate
from migration_suite import schema
from migration_suite.columns import (
    _PYTHON_WHITESPACE,
    Boolean,
    ColumnRule,
    Date,
    Email,
    Enum,
    Integer,
    Money,
    Participants,
    Serial,
    Text,
    Timestamp,
)
from migration_suite.rules import RowConverter, table_migrations
from migration_suite.vectorised import VectorisedConverter
from migration_suite.zones import zone_offsets
from pytest_migration.engine.binary_copy import FrameCopier, frame_type, open_target
from pytest_migration.engine.load import _copy
from pytest_migration.engine.source import SqliteSource
from pytest_migration.engine.spec import ConvertedBatch, Row, TableMigration

PARIS = "Europe/Paris"
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
TABLES: dict[str, dict[str, TableMigration]] = {
    zone: {table.name: table for table in table_migrations(zone)} for zone in (PARIS, "America/New_York")
}
BIGINT_MAX = 2**63 - 1


def converters(table: TableMigration) -> tuple[VectorisedConverter, RowConverter]:
    """The table's vectorised converter and its per-row reference."""
    convert = table.convert
    assert isinstance(convert, VectorisedConverter)
    return convert, convert.reference


def comparable(value: Any) -> tuple[Any, ...]:
    """Reduce a converted value to what must be equal on both paths, type included.

    polars gives UTC datetimes with ZoneInfo("UTC"), readers with datetime.UTC: both are
    the same instant at offset 0. Decimals compare with their exponent (numeric(12,2)).
    """
    if isinstance(value, datetime):
        return datetime, value.utcoffset(), value.replace(tzinfo=None)
    if isinstance(value, Decimal):
        return Decimal, str(value)
    if isinstance(value, list):
        return list, tuple((type(item), item) for item in value)
    return type(value), value


def outcome(converted: ConvertedBatch) -> tuple[dict[int, tuple[Any, ...]], list[tuple[int, str]]]:
    """Every converted row by rowid, from `rows` and the frame alike, and the rejections."""
    rows = list(converted.rows) + (converted.frame.rows() if converted.frame is not None else [])
    by_rowid = {row[0]: tuple(map(comparable, row)) for row in rows}
    assert len(by_rowid) == len(rows), "a row was converted twice"
    return by_rowid, converted.rejected


def assert_same_as_reference(table: TableMigration, batch: list[Row]) -> ConvertedBatch:
    vectorised, reference = converters(table)
    converted = vectorised(batch)
    expected = reference(batch)
    assert outcome(converted) == outcome(expected)
    return converted


# --- legacy spellings ------------------------------------------------------------------

# Padding the readers strip; rarely, characters Python strips and polars does not (U+001C-1F).
PADDING = st.integers(0, 99).flatmap(
    lambda draw: st.sampled_from(["", "", "", " ", "  ", "\t", "\n", "\xa0", "\u3000", "\u2028"])
    if draw < 95
    else st.sampled_from(["\x1c", " \x1f"])
)
CASES: list[Callable[[str], str]] = [str, str.lower, str.upper, str.title, str.swapcase]
ODD_VALUES = st.one_of(
    st.binary(max_size=6),
    st.floats(allow_nan=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from(["a\x00b", "\x00", "lone \udcff surrogate"]),
)


def padded(core: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(PADDING, core, PADDING).map("".join)


def cased(words: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(words, st.sampled_from(CASES)).map(lambda pair: pair[1](pair[0]))


def column(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A column's values: mostly valid spellings, so most rows are valid, else anything else.

    Per value: 85% valid, 5% NULL, 7% invalid or borderline, 3% of a type the column
    should not hold. With seven or eight columns, about half of the rows are valid.
    """
    return st.integers(0, 99).flatmap(
        lambda draw: valid if draw < 85 else st.none() if draw < 90 else invalid if draw < 97 else ODD_VALUES
    )


@st.composite
def iso_text(draw: st.DrawFn, dates: st.SearchStrategy[date | tuple[int, int, int]], anything: bool) -> str:
    """An ISO timestamp; `anything` draws fields out of their ranges too."""
    when = draw(dates)
    year, month, day = (when.year, when.month, when.day) if isinstance(when, date) else when
    text = f"{year:04d}-{month:02d}-{day:02d}"
    precision = draw(st.sampled_from(["date", "minute", "second", "fraction"]))
    if precision == "date":
        return text + (draw(st.sampled_from(["", "Z", "+02:00"])) if anything else "")  # offsets need a time
    hours, sixty = (st.integers(0, 25), st.integers(0, 61)) if anything else (st.integers(0, 23), st.integers(0, 59))
    text += f"{draw(st.sampled_from('Tt '))}{draw(hours):02d}:{draw(sixty):02d}"
    if precision != "minute":
        text += f":{draw(sixty):02d}"
    if precision == "fraction":
        text += "." + draw(st.text("0123456789", min_size=1, max_size=7 if anything else 6))
    sign, offset_hours, offset_minutes = draw(st.sampled_from("+-")), draw(hours), draw(sixty)
    offsets = ["", "", "", "Z", "z", f"{sign}{offset_hours:02d}", f"{sign}{offset_hours:02d}{offset_minutes:02d}",
               f"{sign}{offset_hours:02d}:{offset_minutes:02d}"]
    return text + draw(st.sampled_from([*offsets, f"{sign}{offset_hours}"] if anything else offsets))


@st.composite
def day_first_text(draw: st.DrawFn, dates: st.SearchStrategy[date | tuple[int, int, int]], anything: bool) -> str:
    """A day-first timestamp, days, months and hours with or without a leading zero."""
    when = draw(dates)
    year, month, day = (when.year, when.month, when.day) if isinstance(when, date) else when
    text = f"{day:02d}/{month:02d}/{year:04d}" if draw(st.booleans()) else f"{day}/{month}/{year}"
    if draw(st.booleans()):
        hour = draw(st.integers(0, 25) if anything else st.integers(0, 23))
        sixty = st.integers(0, 61) if anything else st.integers(0, 59)
        text += (f" {hour:02d}" if draw(st.booleans()) else f" {hour}") + f":{draw(sixty):02d}"
        if draw(st.booleans()):
            text += f":{draw(sixty):02d}"
    return text


def last_sunday(year: int, month: int) -> int:
    days = range(22, calendar.monthrange(year, month)[1] + 1)
    return max(day for day in days if calendar.weekday(year, month, day) == calendar.SUNDAY)


# The Sundays of months with DST changes (Europe: the last of March and October; United
# States: the second of March, the first of November; older rules in April and September).
DST_DATE = st.tuples(st.integers(1900, 2100), st.sampled_from([3, 4, 9, 10, 11])).flatmap(
    lambda year_month: st.sampled_from([last_sunday(*year_month) - 7 * weeks for weeks in range(4)]).map(
        lambda day: date(year_month[0], year_month[1], day)
    )
)


@st.composite
def dst_wall_clock(draw: st.DrawFn) -> str:
    """A wall-clock time between 00:00 and 04:00 of a day that may change DST, in either layout."""
    moment = datetime.combine(draw(DST_DATE), datetime.min.time()) + timedelta(
        minutes=draw(st.integers(0, 4 * 60)), seconds=draw(st.integers(0, 59))
    )
    if draw(st.booleans()):
        return moment.strftime(draw(st.sampled_from(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"])))
    return f"{moment.day}/{moment.month}/{moment.year} {moment.hour}:{moment.minute:02d}"


VALID_DATES = st.dates(date(1900, 1, 1), date(2100, 12, 31))
ANY_DATES = st.tuples(
    st.one_of(st.integers(1890, 2110), st.sampled_from([0, 1899, 1900, 2100, 2101])),
    st.integers(0, 13),
    st.integers(0, 32),
)
ZERO_DATES = st.sampled_from(
    ["0000-00-00", "0000-00-00 00:00:00", "0000-00-00T99:99", "00/00/0000", "0/0/0000", "00/0/0000 25:61",
     "0000-00-00 00:00+02:00"]
)
TIMESTAMPS = column(
    padded(
        st.one_of(
            iso_text(VALID_DATES, anything=False),
            day_first_text(VALID_DATES, anything=False),
            dst_wall_clock(),
            st.integers(10**8, 4_133_980_799).map(str),  # epoch seconds, 9 or 10 digits
            st.integers(10**12, 4_133_980_799_999).map(str),  # epoch milliseconds
            ZERO_DATES,
        )
    ),
    padded(
        st.one_of(
            iso_text(ANY_DATES, anything=True),
            day_first_text(ANY_DATES, anything=True),
            st.integers(0, 10**15).map(str),
            st.integers(0, 10**9).map(lambda seconds: f"{seconds:09d}"),
            st.sampled_from(
                ["hier", "2023-07-14  10:00", "2023-7-14", "14.07.2023", "1700000000.5", "٢٠٢٣-٠٧-١٤", "0000-07-14",
                 "00/07/2023", "2023-07-14T10", "", " "]
            ),
        )
    ),
)


@st.composite
def money_text(draw: st.DrawFn, anything: bool) -> str:
    """An amount with thousands groups, a decimal separator and a currency, as people write them."""
    units = draw(st.integers(0, 10**12 if anything else 10**10 - 1))
    decimal = draw(st.sampled_from(".,"))
    other = "." if decimal == "," else ","
    groups: list[str] = ["", "", " ", "\xa0", "\u202f", *((".", ",") if anything else (other,))]
    group = draw(st.sampled_from(groups))
    digits = ("0" * draw(st.integers(0, 2))) + str(units)
    text = group.join(reversed([digits[max(0, end - 3) : end] for end in range(len(digits), 0, -3)]))
    decimals = draw(st.sampled_from([0, 1, 2, 3] if anything else [0, 1, 2, 2]))
    if decimals:
        text += decimal + "".join(draw(st.sampled_from("0123456789")) for _ in range(decimals))
    sign: str = draw(st.sampled_from(["", "-", "+"])) if anything else ""
    suffixes = ["", "", "€", " €", "\xa0€", "EUR", " eur", " Eur"]
    suffix: str = draw(st.sampled_from([*suffixes, "€€", " USD", "eur€"] if anything else suffixes))
    return sign + text + suffix


MONEY = column(
    padded(money_text(anything=False)),
    st.one_of(
        padded(money_text(anything=True)),
        st.sampled_from(
            [".5", "5.", "1e3", "12.3.4", "1,234,56", "1.2.3,45", "..,5", ",5", "€", "gratuit", "1 234,567"]
        ),
    ),
)
BOOLEANS = column(
    padded(cased(st.sampled_from(["1", "0", "true", "false", "yes", "no", "oui", "non"]))),
    st.sampled_from(["maybe", "2", "y", "vrai", "truee", "o", "-1", "", " "]),
)


def enum_spellings(values: tuple[str, ...]) -> st.SearchStrategy[Any]:
    separators = st.sampled_from(["_", " ", "-", " - ", "__", "\t", "-_", "\x1c", "\u3000"])
    spelled = st.tuples(st.sampled_from(values), separators).map(lambda pair: pair[0].replace("_", pair[1]))
    return column(padded(cased(spelled)), st.sampled_from(["unknown", "n/a", "?", "-", "in progress!", "", " "]))


@st.composite
def participants_text(draw: st.DrawFn, ids: st.SearchStrategy[int]) -> str:
    """Ids as a comma-separated list or a JSON array of numbers and digit strings."""
    chosen = draw(st.lists(ids, min_size=1, max_size=5))
    spaces = st.sampled_from(["", "", " ", "  "])
    if draw(st.booleans()):
        zeros = st.sampled_from(["", "", "0", "00"])
        return ",".join(draw(spaces) + draw(zeros) + str(n) + draw(spaces) for n in chosen)
    items = [str(n) if draw(st.booleans()) else json.dumps(draw(spaces) + str(n) + draw(spaces)) for n in chosen]
    return "[" + draw(spaces) + (draw(spaces) + "," + draw(spaces)).join(items) + draw(spaces) + "]"


PARTICIPANTS = column(
    padded(participants_text(st.integers(1, 10**6))),
    st.one_of(
        padded(participants_text(st.one_of(st.integers(-3, 2**64), st.sampled_from([0, BIGINT_MAX, 10**18])))),
        st.sampled_from(["null", "[]", " [] ", "", "1;2", "1 2", "1,2,", "[true]", "[2.0]", '["a"]', "[1, null]", "[1",
                         "[01]", "{1,2}", "1,,2", "[\t1]", "1,\t2"]),
    ),
)
INTEGERS = column(
    st.integers(-(2**63), BIGINT_MAX),
    st.sampled_from([" 12 ", "", "  ", "abc", "+5", "-3", "007", "12a", "9223372036854775808", 2**63, -(2**63) - 1]),
)
EMAILS = column(
    padded(cased(st.from_regex(r"[a-z0-9._%+-]{1,8}@[a-z0-9.-]{1,8}\.[a-z]{2,3}", fullmatch=True))),
    padded(st.sampled_from(["ÉLODIE@EXEMPLE.FR", "İ@x.tr", "STRASSE@ß.de", "ΟΔΟΣ@x.gr", "a\tb@c.d", "", " "])),
)
SERIALS = column(
    padded(cased(st.from_regex(r"[a-z]{2,3}-[0-9]{3,6}", fullmatch=True))),
    padded(st.sampled_from(["ßn-1", "ﬁ-2", "é-3", "", " "])),
)
TEXTS = column(
    st.text(max_size=12),
    st.sampled_from(['quote " and , comma', "new\nline\r\n", "back\\slash \\N", "", "  ", "\\.", "café ☕"]),
)


def values_of(rule: ColumnRule) -> st.SearchStrategy[Any]:
    """The legacy values a column of this rule may hold."""
    strategies: dict[type[ColumnRule], st.SearchStrategy[Any]] = {
        Text: TEXTS,
        Integer: INTEGERS,
        Email: EMAILS,
        Serial: SERIALS,
        Timestamp: TIMESTAMPS,
        Date: TIMESTAMPS,
        Money: MONEY,
        Boolean: BOOLEANS,
        Participants: PARTICIPANTS,
    }
    if isinstance(rule, Enum):
        return enum_spellings(rule.values)
    return strategies[type(rule)]


def batches(table: TableMigration) -> st.SearchStrategy[list[Row]]:
    """Batches of (rowid, *legacy values), rowids increasing as the source reads them."""
    columns = [values_of(rule) for _, rule in converters(table)[1].columns]
    rows = st.lists(st.tuples(*columns), min_size=1, max_size=40)
    return rows.map(lambda values: [(rowid, *row) for rowid, row in enumerate(values, start=1)])


# --- the vectorised converter against the per-row reference ----------------------------


@pytest.mark.parametrize("name", [table.name for table in schema.TABLES])
def test_vectorised_equals_per_row_on_random_batches(name: str) -> None:
    table = TABLES[PARIS][name]

    @PROPERTY
    @given(batches(table))
    def check(batch: list[Row]) -> None:
        assert_same_as_reference(table, batch)

    check()


@pytest.mark.parametrize("name", ["chat_messages", "equipment", "maintenance_contracts"])
def test_vectorised_equals_per_row_in_another_zone(name: str) -> None:
    table = TABLES["America/New_York"][name]

    @PROPERTY
    @given(batches(table))
    def check(batch: list[Row]) -> None:
        assert_same_as_reference(table, batch)

    check()


@PROPERTY
@given(st.lists(padded(st.one_of(dst_wall_clock(), iso_text(DST_DATE, anything=False))), min_size=1, max_size=60))
def test_dst_gaps_and_folds_read_like_zoneinfo_fold_0(texts: list[str]) -> None:
    table = TABLES[PARIS]["intervention_user"]
    assert_same_as_reference(table, [(rowid, 1, 2, "lead", text) for rowid, text in enumerate(texts, start=1)])


HALF_WAY_FAILURE = textwrap.dedent(
    """
    import gc
    import migration_suite.vectorised as vectorised
    from migration_suite.rules import table_migrations

    table = {t.name: t for t in table_migrations("Europe/Paris")}["chat_messages"]
    batch = [(i, i, 1, 1, "body", "2023-07-14 12:00", None, "2023-07-14", "14/07/2023") for i in range(1, 2001)]
    build, calls = vectorised._column, []

    def failing(*arguments):
        calls.append(1)
        if len(calls) == 6:  # after the timestamps' query has started
            raise RuntimeError("boom")
        return build(*arguments)

    vectorised._column = failing
    try:
        table.convert(batch)
    except RuntimeError as error:
        print(error)
    vectorised._column = build
    gc.collect()
    print(table.convert(batch).frame.height)
    """
)


def test_a_conversion_failing_half_way_still_waits_for_its_queries() -> None:
    # polars panics (and may abort the process) when a background query outlives its
    # handle: the scenario runs in its own interpreter.
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", HALF_WAY_FAILURE]
    result = subprocess.run(command, check=False, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "panicked" not in result.stderr
    assert result.stdout.split() == ["boom", "2000"]


def test_empty_batch() -> None:
    converted = TABLES[PARIS]["tasks"].convert([])
    assert (converted.rows, converted.rejected, converted.frame) == ([], [], None)


# --- valid spellings are read by the columns, not row by row ---------------------------

UTC_NOON = datetime(2023, 7, 14, 10, tzinfo=UTC)
# (sent_at spelling, its instant), Europe/Paris; expectations written by hand.
CERTAIN_TIMESTAMPS = [
    ("2023-07-14 12:00:00", UTC_NOON),
    (" 2023-07-14T12:00 ", UTC_NOON),
    ("\xa02023-07-14t12:00:00.000000\t", UTC_NOON),
    ("2023-07-14 10:00:00Z", UTC_NOON),
    ("2023-07-14 10:00:00.5z", UTC_NOON + timedelta(microseconds=500_000)),
    ("2023-07-14T12:00+02", UTC_NOON),
    ("2023-07-14T07:30:00-0230", UTC_NOON),
    ("2023-07-14 12:00:00.123456+02:00", UTC_NOON + timedelta(microseconds=123_456)),
    ("14/07/2023 12:00", UTC_NOON),
    ("14/7/2023 12:00:00", UTC_NOON),
    ("1689328800", UTC_NOON),
    ("1689328800000", UTC_NOON),
    ("2023-07-14", datetime(2023, 7, 13, 22, tzinfo=UTC)),
    ("2023-03-26 02:30", datetime(2023, 3, 26, 1, 30, tzinfo=UTC)),  # gap: offset before
    ("2023-10-29 02:30", datetime(2023, 10, 29, 0, 30, tzinfo=UTC)),  # fold: first
    ("29/10/2023 2:30", datetime(2023, 10, 29, 0, 30, tzinfo=UTC)),
    ("1900-01-01 00:00", datetime(1899, 12, 31, 23, 50, 39, tzinfo=UTC)),  # Paris mean time, +00:09:21
    ("2100-12-31 23:59:59", datetime(2100, 12, 31, 22, 59, 59, tzinfo=UTC)),
    ("1899-12-31T23:30:00-01:00", datetime(1900, 1, 1, 0, 30, tzinfo=UTC)),
]


def test_valid_spellings_of_every_form_are_read_in_columns() -> None:
    table = TABLES[PARIS]["chat_messages"]
    batch = [
        (rowid, rowid, 1, 1, "body", text, "0000-00-00", None, "00/00/0000")
        for rowid, (text, _) in enumerate(CERTAIN_TIMESTAMPS, start=1)
    ]
    converted = assert_same_as_reference(table, batch)
    assert converted.rows == [] and converted.rejected == []
    assert converted.frame is not None
    sent_at = converted.frame.get_column("sent_at").to_list()
    assert sent_at == [instant for _, instant in CERTAIN_TIMESTAMPS]


def test_other_columns_valid_spellings_are_read_in_columns() -> None:
    contracts = TABLES[PARIS]["maintenance_contracts"]
    batch = [
        (1, 1, 1, "R-1", "14/07/2023", "2023-07-14T23:30:00Z", "1 234,50 €", " Active ", None, None),
        (2, 2, 1, "R-2", None, None, "1,234,567", "EXPIRED", None, None),
        (3, 3, 1, "R-3", "2023-01-01", None, "99,9", None, None, None),
        (4, 4, 1, "R-4", None, None, "0.5 EUR", "cancelled", None, None),
    ]
    converted = assert_same_as_reference(contracts, batch)
    assert converted.rows == [] and converted.frame is not None
    assert converted.frame.select("starts_on", "ends_on", "amount", "status").rows() == [
        (date(2023, 7, 14), date(2023, 7, 15), Decimal("1234.50"), "active"),
        (None, None, Decimal("1234567.00"), "expired"),
        (date(2023, 1, 1), None, Decimal("99.90"), "active"),
        (None, None, Decimal("0.50"), "cancelled"),
    ]
    conversations = TABLES[PARIS]["chat_conversations"]
    converted = assert_same_as_reference(
        conversations,
        [
            (1, 1, "s", "[3, 1, 3]", None, None),
            (2, 2, None, ' ["7", " 5 "] ', None, None),
            (3, 3, "", "4, 2", None, None),
        ],
    )
    assert converted.rows == [] and converted.frame is not None
    assert converted.frame.get_column("participants").to_list() == [[1, 3], [5, 7], [2, 4]]


def test_rows_failing_a_rule_keep_their_first_reason() -> None:
    table = TABLES[PARIS]["chat_messages"]
    batch = [
        (1, 1, "n/a", 1, "body", "2023-02-30", None, None, None),  # user_id is read before sent_at
        (2, 2, 1, 1, b"\xff", "hier", None, None, None),
        (3, 3, 1, 1, "body", None, None, None, "2023-07-14"),  # no sent_at, no created_at
        (4, 4, 1, 1, "body", None, None, "2023-07-14 12:00", None),  # sent_at falls back
        (5, 5, 1, 2.0, "body", "2023-07-14", None, None, None),
    ]
    converted = assert_same_as_reference(table, batch)
    assert converted.rejected == [
        (0, "invalid_integer:conversation_id"),
        (1, "invalid_text:body"),
        (2, "missing_sent_at"),
        (4, "invalid_integer:user_id"),
    ]
    assert converted.frame is not None
    assert converted.frame.get_column("sent_at").to_list() == [UTC_NOON]


def test_generated_legacy_data_is_read_like_the_reference_and_mostly_in_columns(tmp_path: Path) -> None:
    dataset = generate(tmp_path / "legacy.db", 3000, seed=7)
    source = SqliteSource(f"sqlite:///{dataset.path}")
    rows = in_columns = 0
    try:
        for table in TABLES[PARIS].values():
            for batch in source.batches(table.name, table.source_columns, 0, 500):
                converted = assert_same_as_reference(table, batch)
                rows += len(batch)
                in_columns += 0 if converted.frame is None else converted.frame.height
    finally:
        source.close()
    # Only rows with a planted defect (a few percent) may need the per-row readers.
    assert in_columns >= 0.95 * rows


# --- zone offsets ----------------------------------------------------------------------


def sampled_seconds(zone: ZoneInfo) -> Iterator[int]:
    """Seconds around every offset change (every 10 minutes, 3 hours either side) and all along."""
    table = zone_offsets(zone)
    for change in table.utc_starts.to_list():
        yield from range(change // 10**6 - 3 * 3600, change // 10**6 + 3 * 3600, 600)
    first, last = int(datetime(1899, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2102, 12, 31, tzinfo=UTC).timestamp())
    yield from range(first, last, 7 * 3600 + 13)


@pytest.mark.parametrize(
    "name",
    [PARIS, "America/New_York", "Australia/Lord_Howe", "Africa/Casablanca", "Pacific/Apia", "Europe/Dublin", "UTC"],
)
def test_zone_offsets_are_zoneinfos(name: str) -> None:
    zone = ZoneInfo(name)
    table = zone_offsets(zone)
    seconds = list(sampled_seconds(zone))
    frame = pl.DataFrame({"second": pl.Series(seconds, dtype=pl.Int64) * 10**6})
    of_instant = frame.select(table.of_instant(pl.col("second"))).to_series().to_list()
    of_wall_clock = frame.select(table.of_wall_clock(pl.col("second"))).to_series().to_list()
    epoch = datetime(1970, 1, 1)
    for second, instant_offset, wall_offset in zip(seconds, of_instant, of_wall_clock, strict=True):
        expected_instant = datetime.fromtimestamp(second, zone).utcoffset()
        expected_wall = (epoch + timedelta(seconds=second)).replace(tzinfo=zone).utcoffset()  # fold=0
        assert (timedelta(microseconds=instant_offset), timedelta(microseconds=wall_offset)) == (
            expected_instant,
            expected_wall,
        ), second


# --- COPY of a frame into PostgreSQL -----------------------------------------------------

TRICKY_TEXTS = [
    "",
    " ",
    "plain",
    'a "quoted" word',
    "comma, inside",
    "new\nline",
    "crlf\r\nend",
    "back\\slash",
    "\\N",
    "\\.",
    "a\n\\.\nb",
    "NULL",
    "tab\tinside",
    "  padded  ",
    "unicode é ☕ 𝔘 \u2028",
    '"',
    ",",
]


def test_copy_of_a_frame_stores_exactly_its_values(
    empty_target_url: str, table_of_every_kind: Callable[[str], sa.Table]
) -> None:
    rng = random.Random(3)
    rows: list[Row] = []
    for rowid, label in enumerate([*TRICKY_TEXTS, None], start=1):
        rows.append(
            (
                rowid,
                label,
                datetime(1899, 12, 31, 23, 50, 39, 123456, tzinfo=UTC)
                + timedelta(days=rng.randint(0, 73000), microseconds=rng.randint(0, 10**6)),
                date(1900, 1, 1) + timedelta(days=rng.randint(0, 73000)),
                Decimal(rng.randint(0, 999999999999)) / 100,
                rng.random() < 0.5,
                sorted({rng.randint(1, BIGINT_MAX) for _ in range(rng.randint(1, 4))}),
                rng.randint(-(2**31), 2**31 - 1),
            )
        )
    rows.append((len(rows) + 1, None, None, None, None, None, None, None))
    table, written = table_of_every_kind("loaded"), table_of_every_kind("written")
    columns = [column.name for column in table.columns]
    frame = pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "label": pl.String,
            "at": pl.Datetime("us", "UTC"),
            "on_day": pl.Date,
            "amount": pl.Decimal(12, 2),
            "done": pl.Boolean,
            "ids": pl.List(pl.Int64),
            "position": pl.Int64,
        },
        orient="row",
    )
    url = make_url(empty_target_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as connection:
        engine = sa.create_engine(make_url(empty_target_url).set(drivername="postgresql+psycopg"))
        with engine.begin() as setup:
            table.create(setup)
            written.create(setup)
        engine.dispose()
        target = open_target(empty_target_url)
        try:
            with FrameCopier(target) as copier:
                copier.append(table, columns, frame)
        finally:
            target.close()
        with connection.cursor() as cursor:
            _copy(cursor, written, columns, rows)  # the row-by-row path, as a second witness
            loaded = cursor.execute("SELECT * FROM loaded ORDER BY id").fetchall()
            by_rows = cursor.execute("SELECT * FROM written ORDER BY id").fetchall()
    assert loaded == rows
    assert loaded == by_rows
    assert [type(value) for value in loaded[0]] == [int, str, datetime, date, Decimal, bool, list, int]
    assert [str(row[4]) for row in loaded[:-1]] == [str(row[4].quantize(Decimal("0.01"))) for row in rows[:-1]]


def test_a_column_type_without_a_binary_copy_is_refused() -> None:
    with pytest.raises(TypeError, match="JSON cannot be loaded"):
        frame_type(sa.JSON())


@pytest.mark.parametrize("position", [2**31, -(2**31) - 1, 2**40])
def test_a_position_the_integer_column_cannot_hold_is_quarantined(position: int) -> None:
    table = TABLES[PARIS]["tasks"]
    batch: list[Row] = [
        (1, 1, 1, "fits", "1", 2**31 - 1, None, None),
        (2, 2, 1, "too large", "0", position, None, None),
    ]
    converted = assert_same_as_reference(table, batch)
    assert converted.rejected == [(1, "invalid_integer:position")]


def test_python_whitespace_lies_in_the_basic_multilingual_plane() -> None:
    every = "".join(filter(str.isspace, map(chr, range(sys.maxunicode + 1))))
    assert _PYTHON_WHITESPACE == every
    assert "\u3000" in every and "\x1c" in every
