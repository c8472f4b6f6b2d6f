"""PostgreSQL writes a target row's canonical JSON exactly as Python does, character for character."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url

from fixtures.canonical import iso_text
from migration_suite.oracle import canonical_json
from migration_suite.spelling import canonical_texts

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

SPELLED = sa.Table(
    "spelled",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("label", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("on_day", sa.Date),
    sa.Column("amount", sa.Numeric(12, 2)),
    sa.Column("done", sa.Boolean),
    sa.Column("ids", ARRAY(sa.BigInteger)),
    sa.Column("position", sa.Integer),
)


def canonical(row: dict[str, Any]) -> dict[str, Any]:
    """The checks' canonical values, as spelling.py's docstring states them, written in plain Python."""
    at, on_day, amount = row["at"], row["on_day"], row["amount"]
    return {
        **row,
        "at": None if at is None else iso_text(at.astimezone(UTC)),
        "on_day": None if on_day is None else on_day.isoformat(),
        "amount": None if amount is None else f"{amount:.2f}",
    }


def test_postgresql_writes_the_canonical_json_that_python_writes(empty_target_url: str) -> None:
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
    rows.append({"id": 99, **{column.name: None for column in SPELLED.columns if column.name != "id"}})
    engine = sa.create_engine(make_url(empty_target_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.begin() as connection:
            SPELLED.create(connection)
            connection.execute(sa.insert(SPELLED), rows)
            written = list(canonical_texts(connection, SPELLED))
    finally:
        engine.dispose()
    assert written == [((row["id"],), canonical_json(canonical(row))) for row in rows]
