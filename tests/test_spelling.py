"""PostgreSQL writes a target row's canonical JSON exactly as Python does, character for character,
and digests segments of such rows as Python does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from fixtures.canonical import iso_text
from migration_suite.oracle import canonical_json
from migration_suite.spelling import canonical_texts, segment_digests, spelled_rows
from pytest_migration.checks import segments

TEXTS = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash",
    "new\nline\r\ttab\bbell\f",
    "controls \x01 \x1f \x7f",
    "unicode é ☕ 𝔘 \u2028 \u2029",
    "\\u0000 spelled out",
    "</script>",
]

def canonical(row: dict[str, Any]) -> dict[str, Any]:
    """The checks' canonical values, as spelling.py's docstring states them, written in plain Python."""
    at, on_day, amount = row["at"], row["on_day"], row["amount"]
    return {
        **row,
        "at": None if at is None else iso_text(at.astimezone(UTC)),
        "on_day": None if on_day is None else on_day.isoformat(),
        "amount": None if amount is None else f"{amount:.2f}",
    }


def test_postgresql_spells_values_and_writes_json_as_python_does(
    empty_target_url: str, table_of_every_kind: Callable[[str], sa.Table]
) -> None:
    spelled = table_of_every_kind("spelled")
    rows: list[dict[str, Any]] = [
        {
            "id": index,
            "label": text,
            "at": datetime(2023, 10, 29, 0, 30, index * 7 % 60, (0, 500000, 120, 123456)[index % 4], tzinfo=UTC),
            "on_day": date(1999 + index, 12, 31),
            "amount": Decimal(index * 12345) / 100,
            "done": index % 2 == 0,
            "ids": list(range(1, index + 2)),
            "position": -(2**31) if index == 1 else index,
        }
        for index, text in enumerate(TEXTS, start=1)
    ]
    # A row of NULLs, with a key in a negative segment: segments are floored, in Python as in SQL.
    rows.insert(0, {"id": -20_001, **{column.name: None for column in spelled.columns if column.name != "id"}})
    rows.append({**rows[1], "id": 20_000})
    engine = sa.create_engine(make_url(empty_target_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.begin() as connection:
            spelled.create(connection)
            connection.execute(sa.insert(spelled), rows)
            # Sessions of this database write timestamps far from UTC and dates day first.
            database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
            connection.execute(sa.text(f'ALTER DATABASE "{database}" SET TimeZone = \'Pacific/Chatham\''))
            connection.execute(sa.text(f'ALTER DATABASE "{database}" SET DateStyle = \'SQL, DMY\''))
        engine.dispose()
        with engine.connect() as connection:
            texts = list(canonical_texts(connection, spelled))
            values = list(spelled_rows(connection, spelled))
            digests = segment_digests(connection, spelled)
    finally:
        engine.dispose()
    expected = [canonical(row) for row in rows]
    assert texts == [((row["id"],), canonical_json(row)) for row in expected]
    assert digests == segments.digests(((row["id"],), canonical_json(row)) for row in expected)
    assert sorted(digests) == [-3, 0, 2]
    names = sorted(expected[0])
    assert values == [((row["id"],), tuple(row[name] for name in names)) for row in expected]
