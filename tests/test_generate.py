"""The legacy data generator: schema, size, determinism, and expectations that can catch a wrong reader.

The checks here are independent of `fixtures`' own bookkeeping where they can be: plain SQL
on the generated file, the `.sql` schema, and expected values computed by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fixtures.anomalies import value_traits
from fixtures.canonical import row_writer
from fixtures.expected import Outcomes, resolve
from fixtures.factories import FACTORIES, PARIS, EquipmentFactory, UserFactory
from fixtures.generate import GeneratedDataset, generate
from fixtures.legacy_tables import SCHEMA_PATH, TABLES, Spelled
from fixtures.spellings import (
    MoneyForm,
    TimestampForm,
    render_money,
    render_timestamp,
    spell_date,
    spell_money,
    spell_participants,
)
from fixtures.values import dst_moment, dst_windows

ROOT = Path(__file__).resolve().parent.parent
ROWS = 3000
REASON_KINDS = {
    "invalid_text",
    "invalid_integer",
    "invalid_timestamp",
    "invalid_date",
    "invalid_amount",
    "invalid_boolean",
    "invalid_enum",
    "empty_participants",
    "invalid_participants",
    "invalid_period",
    "missing_sent_at",
    "missing_serial_number",
    "duplicate_serial_number",
    "duplicate_key",
    "orphan",
    "unknown_participant",
}
REFERENCES = {  # (child, column) -> parent, as MIGRATION_RULES.md section 1 lists the foreign keys
    ("maintenance_contracts", "equipment_id"): "equipment",
    ("maintenance_histories", "equipment_id"): "equipment",
    ("interventions", "client_id"): "clients",
    ("tasks", "intervention_id"): "interventions",
    ("intervention_user", "intervention_id"): "interventions",
    ("intervention_user", "user_id"): "users",
    ("chat_messages", "conversation_id"): "chat_conversations",
    ("chat_messages", "user_id"): "users",
}


def table_info(connection: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Describe every table of a SQLite database: PRAGMA table_info, in column order."""
    names = [
        name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    ]
    return {name: connection.execute(f"PRAGMA table_info({name})").fetchall() for name in names}


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Read every table of a SQLite file in rowid order, text as raw bytes (some is not UTF-8)."""
    with sqlite3.connect(path) as connection:
        names = list(table_info(connection))
        connection.text_factory = bytes
        return {name: connection.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall() for name in names}


def is_null(value: object) -> bool:
    """Tell whether a legacy timestamp is NULL by the rules: NULL, blank, or an all-zero date."""
    return value is None or str(value).strip() in ("", "0000-00-00", "0000-00-00 00:00:00", "00/00/0000")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDataset:
    """A small dataset with every kind of anomaly, generated once for the module."""
    return generate(tmp_path_factory.mktemp("legacy") / "legacy.db", ROWS)


@pytest.fixture(scope="module")
def source(dataset: GeneratedDataset) -> Iterator[sqlite3.Connection]:
    """The generated legacy database (invalid UTF-8 read with replacement characters)."""
    connection = sqlite3.connect(dataset.path)
    connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def expected(dataset: GeneratedDataset) -> Iterator[sqlite3.Connection]:
    """The sidecar with the expected outcome of every source row."""
    connection = sqlite3.connect(dataset.expected_path)
    yield connection
    connection.close()


def reasons_of(expected: sqlite3.Connection, table: str) -> dict[int, str | None]:
    """Map each source rowid of `table` to its expected reason (None: migrated)."""
    return dict(expected.execute("SELECT source_rowid, reason FROM expected WHERE source_table = ?", (table,)))


# --- the file ----------------------------------------------------------------------------------


def test_the_generated_database_has_exactly_the_legacy_tables_and_columns(source: sqlite3.Connection) -> None:
    reference = sqlite3.connect(":memory:")
    reference.executescript((ROOT / "migration_suite" / "legacy_schema.sql").read_text())
    assert table_info(source) == table_info(reference)
    assert {name: [info[1] for info in infos] for name, infos in table_info(reference).items()} == {
        table: [column.name for column in columns] for table, columns in sorted(TABLES.items())
    }, "fixtures.legacy_tables does not describe legacy_schema.sql"
    assert SCHEMA_PATH == ROOT / "migration_suite" / "legacy_schema.sql"


def test_the_row_count_is_the_one_asked_for(dataset: GeneratedDataset, source: sqlite3.Connection) -> None:
    counts = {table: source.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
    assert counts == dataset.rows_per_table
    assert sum(counts.values()) == ROWS
    assert counts["chat_messages"] > counts["tasks"] > counts["interventions"] > counts["clients"] > counts["users"]


def test_the_same_seed_writes_the_same_files_whatever_the_hash_seed(tmp_path: Path) -> None:
    def run(name: str, seed: int, hash_seed: str) -> tuple[dict[str, list[tuple[object, ...]]], ...]:
        path = tmp_path / f"{name}.db"
        command = [sys.executable, "-m", "fixtures.generate", str(path), "--rows", "2000", "--seed", str(seed)]
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        assert "rows/s" in done.stdout and "chat_messages" in done.stdout
        return dump(path), dump(path.with_suffix(".expected.sqlite"))

    first = run("first", 5, "1")
    assert run("again", 5, "2") == first
    other = run("other", 6, "1")
    assert all(other[0][table] != first[0][table] for table in TABLES)


# --- the expectations ----------------------------------------------------------------------------


def test_every_source_row_has_exactly_one_expected_row(
    source: sqlite3.Connection, expected: sqlite3.Connection
) -> None:
    assert {table for (table,) in expected.execute("SELECT DISTINCT source_table FROM expected")} == set(TABLES)
    for table in TABLES:
        rowids = [rowid for (rowid,) in source.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
        keys = dict(expected.execute("SELECT source_rowid, source_key FROM expected WHERE source_table = ?", (table,)))
        assert expected.execute("SELECT count(*) FROM expected WHERE source_table = ?", (table,)).fetchone()[0] == len(
            rowids
        )
        assert sorted(keys) == rowids
        if table == "intervention_user":
            for rowid, first, second in source.execute("SELECT rowid, intervention_id, user_id FROM intervention_user"):
                assert json.loads(keys[rowid]) == {"intervention_id": first, "user_id": second}
        else:
            assert all(json.loads(key) == {"id": rowid} for rowid, key in keys.items())


def test_expected_rows_are_canonical_json_of_every_target_column(expected: sqlite3.Connection) -> None:
    migrated = 0
    for table, key, reason, row in expected.execute("SELECT source_table, source_key, reason, row FROM expected"):
        assert json.dumps(json.loads(key), sort_keys=True, separators=(",", ":")) == key
        assert (reason is None) != (row is None), (table, key, reason, row)
        if row is not None:
            migrated += 1
            assert json.dumps(json.loads(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False) == row
            assert sorted(json.loads(row)) == sorted(column.name for column in TABLES[table])
    assert migrated > ROWS * 0.9


def test_segment_digests_are_the_md5_of_each_segment_of_expected_rows(expected: sqlite3.Connection) -> None:
    for table in TABLES:
        segments: dict[int, list[tuple[tuple[int, ...], str]]] = defaultdict(list)
        for key, row in expected.execute(
            "SELECT source_key, row FROM expected WHERE source_table = ? AND reason IS NULL", (table,)
        ):
            values = tuple(json.loads(key).values())  # {"id": n} or {"intervention_id": i, "user_id": u}
            segments[values[0] // 10_000].append((values, row))
        by_hand = {
            number: hashlib.md5("\n".join(row for _, row in sorted(rows)).encode()).hexdigest()
            for number, rows in segments.items()
        }
        stored = dict(expected.execute("SELECT segment, digest FROM expected_segment WHERE source_table = ?", (table,)))
        assert stored == by_hand, table


def test_every_kind_of_anomaly_is_planted(expected: sqlite3.Connection) -> None:
    planted = set(expected.execute("SELECT source_table, reason FROM expected WHERE reason IS NOT NULL"))
    assert {reason.split(":")[0] for _, reason in planted} == REASON_KINDS
    assert {(table, f"orphan:{column}") for table, column in REFERENCES} <= planted
    for table in TABLES:
        kinds = {reason.split(":")[0] for planted_in, reason in planted if planted_in == table}
        assert set(value_traits(table)) <= kinds, f"{table} lacks {set(value_traits(table)) - kinds}"


def test_text_that_cannot_be_stored_is_planted_three_ways(
    dataset: GeneratedDataset, expected: sqlite3.Connection
) -> None:
    ways = set()
    with sqlite3.connect(dataset.path) as raw:
        raw.text_factory = bytes
        for table, rowid, reason in expected.execute(
            "SELECT source_table, source_rowid, reason FROM expected WHERE reason LIKE 'invalid_text:%'"
        ):
            column = reason.split(":")[1]
            kind, value = raw.execute(
                f"SELECT typeof({column}), {column} FROM {table} WHERE rowid = ?", (rowid,)
            ).fetchone()
            if kind == b"blob":
                ways.add("blob")
            elif b"\x00" in value:
                ways.add("nul")
            else:
                with pytest.raises(UnicodeDecodeError):
                    value.decode("utf-8")
                ways.add("invalid_utf8")
    assert ways == {"blob", "nul", "invalid_utf8"}


def test_a_dirty_reference_always_expects_a_quarantine(
    source: sqlite3.Connection, expected: sqlite3.Connection
) -> None:
    for (child, column), parent in REFERENCES.items():
        reasons = reasons_of(expected, child)
        dangling = [
            rowid
            for (rowid,) in source.execute(
                f"SELECT rowid FROM {child} WHERE {column} IS NULL OR {column} NOT IN (SELECT id FROM {parent})"
            )
        ]
        assert dangling, f"no dangling {child}.{column} planted"
        assert all(reasons[rowid] is not None for rowid in dangling)


def test_clean_data_has_no_orphans_no_duplicates_and_no_quarantine(tmp_path: Path) -> None:
    dataset = generate(tmp_path / "clean.db", 2000, seed=3, dirty_share=0)
    with sqlite3.connect(dataset.path) as source, sqlite3.connect(dataset.expected_path) as expected:
        for (child, column), parent in REFERENCES.items():
            orphans = source.execute(
                f"SELECT count(*) FROM {child} WHERE {column} IS NULL OR {column} NOT IN (SELECT id FROM {parent})"
            ).fetchone()[0]
            assert orphans == 0, f"{child}.{column}"
        pairs = "SELECT 1 FROM intervention_user GROUP BY intervention_id, user_id HAVING count(*) > 1"
        assert source.execute(f"SELECT count(*) FROM ({pairs})").fetchone()[0] == 0
        assert expected.execute("SELECT count(*) FROM expected WHERE reason IS NOT NULL").fetchone()[0] == 0
        targets = defaultdict(list)
        for table, row in expected.execute("SELECT source_table, row FROM expected"):
            targets[table].append(json.loads(row))
    serials = [row["serial_number"] for row in targets["equipment"]]
    assert len(set(serials)) == len(serials)
    users = {row["id"] for row in targets["users"]}
    assert all(row["participants"] and set(row["participants"]) <= users for row in targets["chat_conversations"])


def test_a_duplicate_serial_keeps_the_lowest_id_that_passed_the_value_rules(
    source: sqlite3.Connection, expected: sqlite3.Connection
) -> None:
    reasons = reasons_of(expected, "equipment")
    groups = defaultdict(list)
    for rowid, serial in source.execute("SELECT rowid, serial_number FROM equipment ORDER BY rowid"):
        if serial is not None and serial.strip():
            groups[serial.strip().upper()].append(rowid)
    lowest_quarantined = 0
    for rowids in groups.values():
        if len(rowids) > 1:
            passed = [rowid for rowid in rowids if reasons[rowid] in (None, "duplicate_serial_number")]
            assert reasons[passed[0]] is None and all(reasons[r] == "duplicate_serial_number" for r in passed[1:])
            lowest_quarantined += passed[0] != rowids[0]
    assert lowest_quarantined, "no group whose lowest id fails a value rule"


def test_a_duplicate_pair_keeps_one_row_not_always_the_first(expected: sqlite3.Connection) -> None:
    groups = defaultdict(list)
    for key, rowid, reason in expected.execute(
        "SELECT source_key, source_rowid, reason FROM expected WHERE source_table = 'intervention_user' ORDER BY 2"
    ):
        groups[key].append((rowid, reason))
    kept_later = 0
    for rows in groups.values():
        duplicates = [rowid for rowid, reason in rows if reason == "duplicate_key"]
        if duplicates:
            kept = [rowid for rowid, reason in rows if reason is None or reason.startswith("orphan:")]
            assert len(kept) == 1, rows
            kept_later += kept[0] > min(duplicates)
    assert kept_later, "no pair whose earliest created_at is not its first row"


def test_a_message_without_sent_at_expects_its_created_at(
    source: sqlite3.Connection, expected: sqlite3.Connection
) -> None:
    targets = {
        rowid: json.loads(row)
        for rowid, row in expected.execute(
            "SELECT source_rowid, row FROM expected WHERE source_table = 'chat_messages' AND row IS NOT NULL"
        )
    }
    fallbacks = [rowid for rowid, sent in source.execute("SELECT rowid, sent_at FROM chat_messages") if is_null(sent)]
    migrated = [rowid for rowid in fallbacks if rowid in targets]
    assert migrated
    assert all(targets[rowid]["sent_at"] == targets[rowid]["created_at"] is not None for rowid in migrated)


# --- spellings, checked by hand --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "moment", "text", "instant"),
    [
        (
            TimestampForm("iso", "minute"),
            datetime(2023, 10, 29, 2, 30),
            "2023-10-29 02:30",
            "2023-10-29T00:30:00+00:00",
        ),
        (TimestampForm("iso", "minute"), datetime(2023, 3, 26, 2, 30), "2023-03-26 02:30", "2023-03-26T01:30:00+00:00"),
        (TimestampForm("iso", "second"), datetime(2023, 7, 14, 10), "2023-07-14 10:00:00", "2023-07-14T08:00:00+00:00"),
        (
            TimestampForm("iso", "second", "T", timedelta(0), "Z"),
            datetime(2023, 1, 5, 11),
            "2023-01-05T10:00:00Z",
            "2023-01-05T10:00:00+00:00",
        ),
        (
            TimestampForm("iso", 1, "T", timedelta(hours=2)),
            datetime(2023, 1, 5, 9, 0, 0, 567890),
            "2023-01-05T10:00:00.5+02:00",
            "2023-01-05T08:00:00.500000+00:00",
        ),
        (
            TimestampForm("iso", "minute", "t", timedelta(hours=2), "+HHMM"),
            datetime(2023, 7, 14, 10, 0, 59),
            "2023-07-14t10:00+0200",
            "2023-07-14T08:00:00+00:00",
        ),
        (
            TimestampForm("iso", "second", " ", timedelta(hours=-5), "+HH"),
            datetime(2023, 7, 14, 10),
            "2023-07-14 03:00:00-05",
            "2023-07-14T08:00:00+00:00",
        ),
        (
            TimestampForm("day_first", "minute", pad=False),
            datetime(2023, 7, 4, 9, 5),
            "4/7/2023 9:05",
            "2023-07-04T07:05:00+00:00",
        ),
        (TimestampForm("day_first", "none"), datetime(2023, 7, 4, 9, 5), "04/07/2023", "2023-07-03T22:00:00+00:00"),
        (TimestampForm("epoch_s"), datetime(2023, 11, 14, 23, 13, 20, 999), "1700000000", "2023-11-14T22:13:20+00:00"),
        (
            TimestampForm("epoch_ms"),
            datetime(2023, 11, 14, 23, 13, 20, 123456),
            "1700000000123",
            "2023-11-14T22:13:20.123000+00:00",
        ),
    ],
)
def test_a_timestamp_spelling_expects_the_instant_computed_by_hand(
    form: TimestampForm, moment: datetime, text: str, instant: str
) -> None:
    spelled = render_timestamp(form, moment, PARIS)
    assert spelled.legacy == text
    assert isinstance(spelled.truth, datetime) and spelled.truth.isoformat() == instant


@pytest.mark.parametrize(
    ("form", "cents", "text", "amount"),
    [
        (MoneyForm(",", " ", 2, " €"), 123450, "1 234,50 €", "1234.50"),
        (MoneyForm(",", "\xa0", 2, "\xa0€"), 123450, "1\xa0234,50\xa0€", "1234.50"),
        (MoneyForm(",", ".", 2), 123450, "1.234,50", "1234.50"),
        (MoneyForm(".", ","), 123450, "1,234.50", "1234.50"),
        (MoneyForm(",", "", 1), 9990, "99,9", "99.90"),
        (MoneyForm(".", "", 0, " EUR"), 1200, "12 EUR", "12.00"),
        (MoneyForm(".", ",", 0), 123456700, "1,234,567", "1234567.00"),
    ],
)
def test_a_money_spelling_expects_the_amount_computed_by_hand(
    form: MoneyForm, cents: int, text: str, amount: str
) -> None:
    assert render_money(form, cents) == text
    spelled = spell_money(random.Random(0), cents, form)
    assert isinstance(spelled.legacy, str) and spelled.legacy.strip() == text
    assert spelled.truth == Decimal(amount) and f"{spelled.truth:.2f}" == amount


def test_a_date_written_as_an_instant_expects_its_day_in_the_application_zone() -> None:
    in_utc = TimestampForm("iso", "second", "T", timedelta(0), "Z")
    spelled = [spell_date(random.Random(seed), date(2023, 7, 15), PARIS, in_utc) for seed in range(200)]
    assert all(one.truth == date(2023, 7, 15) for one in spelled)
    assert any(str(one.legacy).strip().startswith("2023-07-14T") for one in spelled), "no late evening in UTC"
    written, day = spell_date(random.Random(0), date(2023, 7, 14), PARIS, TimestampForm("day_first", "none"))
    assert (str(written).strip(), day) == ("14/07/2023", date(2023, 7, 14))


def test_the_application_zone_decides_wall_clock_times() -> None:
    new_york = ZoneInfo("America/New_York")
    ambiguous = render_timestamp(TimestampForm("iso", "minute"), datetime(2023, 11, 5, 1, 30), new_york)
    assert ambiguous.legacy == "2023-11-05 01:30"
    assert isinstance(ambiguous.truth, datetime) and ambiguous.truth.isoformat() == "2023-11-05T05:30:00+00:00"


def test_participants_expect_distinct_ids_ascending() -> None:
    for seed in range(20):
        assert spell_participants(random.Random(seed), [3, 1, 3]).truth == (1, 3)


def test_dst_changes_are_found_where_they_are() -> None:
    assert dst_windows(PARIS)[:2] == (
        (datetime(2016, 3, 27, 2), timedelta(hours=1)),
        (datetime(2016, 10, 30, 2), timedelta(hours=1)),
    )
    moment = dst_moment(random.Random(0), PARIS)
    assert moment is not None and moment.hour == 2 and moment.month in (3, 10)


def test_a_hand_built_row_expects_the_canonical_target_row() -> None:
    row = UserFactory.build(
        id=Spelled.same(7),
        name=Spelled.same("Zoé Martin"),
        email=Spelled(" Zoe.MARTIN@Example.FR ", "zoe.martin@example.fr"),
        role=Spelled(" Dispatcher", "dispatcher"),
        phone=Spelled.same(None),
        created_at=render_timestamp(TimestampForm("iso", "minute"), datetime(2023, 10, 29, 2, 30), PARIS),
        updated_at=render_timestamp(TimestampForm("epoch_ms"), datetime(2023, 11, 14, 23, 13, 20), PARIS),
    )
    assert row.values == [
        7,
        "Zoé Martin",
        " Zoe.MARTIN@Example.FR ",
        " Dispatcher",
        None,
        "2023-10-29 02:30",
        "1700000000000",
    ]
    assert row_writer("users")(row.truth) == (
        '{"created_at":"2023-10-29T00:30:00+00:00","email":"zoe.martin@example.fr","id":7,'
        '"name":"Zoé Martin","phone":null,"role":"dispatcher","updated_at":"2023-11-14T22:13:20+00:00"}'
    )


# --- factory traits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "trait"), [(table, trait) for table in TABLES for trait in value_traits(table)], ids=str
)
def test_a_value_trait_plants_its_reason_in_one_column(table: str, trait: str) -> None:
    row = FACTORIES[table].build(**{trait: True})
    [(column, reason)] = row.errors.items()
    assert reason in (trait, f"{trait}:{column}")
    assert row.truth[[c.name for c in TABLES[table]].index(column)] is None


@pytest.mark.parametrize(
    ("table", "trait", "reason"),
    [
        ("equipment", "missing_serial_number", "missing_serial_number"),
        ("maintenance_contracts", "invalid_period", "invalid_period"),
        ("chat_messages", "missing_sent_at", "missing_sent_at"),
    ],
)
def test_a_row_trait_makes_the_rules_quarantine_the_row(table: str, trait: str, reason: str) -> None:
    outcomes = Outcomes()
    for parent in ("users", "equipment", "chat_conversations"):
        outcomes.record(parent, [FACTORIES[parent].build(id=Spelled.same(1))], [None])
    assert resolve(table, [FACTORIES[table].build(**{trait: True})], outcomes) == [reason]
    assert resolve(table, [FACTORIES[table].build()], outcomes) == [None]


def test_rule_order_gives_the_first_failing_column() -> None:
    row = EquipmentFactory.build(missing_serial_number=True, invalid_enum=True)
    assert resolve("equipment", [row], Outcomes()) == ["invalid_enum:status"]
