"""The application can create, read, update and delete rows of every table of the migrated target.

Each test writes only rows it creates (unique values from a fresh tag), inside
`target_transaction`, which is rolled back: tests neither see nor wait on each other's
rows, also under xdist.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_migration.engine.identifiers import quote_sqlite

from .schema import (
    TABLES,
    chat_conversations,
    chat_messages,
    clients,
    intervention_user,
    interventions,
    tasks,
    users,
)

WHEN = datetime(2025, 3, 14, 8, 30, tzinfo=timezone.utc)
LATER = datetime(2025, 3, 14, 9, 45, tzinfo=timezone.utc)


def new_values(tag: str) -> dict[str, dict[str, Any]]:
    """Values of a new row of each table, as the application writes them (references aside)."""
    stamps = {"created_at": WHEN, "updated_at": WHEN}
    return {
        "equipment": {
            "serial_number": f"CRUD-{tag}",
            "name": "Heat pump",
            "brand": "Atlantic",
            "model": "Alfea",
            "installed_on": date(2025, 3, 1),
            "status": "active",
            **stamps,
        },
        "clients": {
            "name": f"Client {tag}",
            "email": f"client-{tag}@example.com",
            "phone": "+33 1 23 45 67 89",
            "address": "1 rue de la Paix, Paris",
            **stamps,
        },
        "users": {
            "name": f"Technician {tag}",
            "email": f"tech-{tag}@example.com",
            "role": "technician",
            "phone": "+33 6 12 34 56 78",
            **stamps,
        },
        "maintenance_contracts": {
            "reference": f"MC-{tag}",
            "starts_on": date(2025, 1, 1),
            "ends_on": date(2025, 12, 31),
            "amount": Decimal("1234.50"),
            "status": "active",
            **stamps,
        },
        "maintenance_histories": {
            "performed_at": WHEN,
            "description": "Annual service",
            "cost": Decimal("180.00"),
            **stamps,
        },
        "interventions": {
            "title": f"Repair {tag}",
            "description": "No heating",
            "status": "planned",
            "priority": "high",
            "scheduled_at": WHEN,
            "completed_at": None,
            **stamps,
        },
        "tasks": {"title": "Check pressure", "is_done": False, "position": 1, **stamps},
        "intervention_user": {"role": "lead", "created_at": WHEN},
        "chat_conversations": {"subject": f"Site visit {tag}", **stamps},
        "chat_messages": {"body": "On my way", "sent_at": WHEN, "read_at": None, **stamps},
    }


UPDATES: dict[str, dict[str, Any]] = {
    "equipment": {"status": "retired", "updated_at": LATER},
    "clients": {"address": "2 avenue Foch, Lyon", "updated_at": LATER},
    "users": {"role": "dispatcher", "updated_at": LATER},
    "maintenance_contracts": {"ends_on": date(2026, 6, 30), "amount": Decimal("1500.00"), "updated_at": LATER},
    "maintenance_histories": {"cost": Decimal("210.40"), "updated_at": LATER},
    "interventions": {"status": "done", "completed_at": LATER, "updated_at": LATER},
    "tasks": {"is_done": True, "updated_at": LATER},
    "intervention_user": {"role": "assistant"},
    "chat_conversations": {"subject": "Site visit, rescheduled", "updated_at": LATER},
    "chat_messages": {"read_at": LATER, "updated_at": LATER},
}
"""A change the application makes to a row of each table."""


class NewRows:
    """Rows one test creates, each after the rows it references, to delete children first."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.tag = uuid.uuid4().hex[:12]
        self.created: list[tuple[sa.Table, dict[str, Any]]] = []

    def create(self, table: sa.Table, **values: Any) -> sa.RowMapping:
        """Insert a row without an id, creating the parents it needs; return the row as stored."""
        row = {**new_values(self.tag)[table.name], **values}
        for column in table.columns:
            for fk in column.foreign_keys:
                if column.name not in row:
                    row[column.name] = self.create(fk.column.table)[fk.column.name]
        if table is chat_conversations and "participants" not in row:
            row["participants"] = sorted(self.create(users)["id"] for _ in range(2))
        stored = self.connection.execute(sa.insert(table).values(**row).returning(*table.columns)).mappings().one()
        self.created.append((table, key_of(table, stored)))
        return stored

    def delete_all(self) -> None:
        """Delete what was created, children before their parents, checking each delete."""
        for table, key in reversed(self.created):
            deleted = self.connection.execute(sa.delete(table).where(matching(table, key))).rowcount
            assert deleted == 1, f"{table.name}: deleting {key} removed {deleted} rows, expected 1"


def key_of(table: sa.Table, row: sa.RowMapping) -> dict[str, Any]:
    """The primary key of `row`."""
    return {column.name: row[column.name] for column in table.primary_key.columns}


def matching(table: sa.Table, key: dict[str, Any]) -> sa.ColumnElement[bool]:
    """The condition that selects the row with primary key `key`."""
    return sa.and_(*(table.c[name] == value for name, value in key.items()))


def read(connection: sa.Connection, table: sa.Table, key: dict[str, Any]) -> sa.RowMapping | None:
    """Read one row back by its key."""
    return connection.execute(sa.select(table).where(matching(table, key))).mappings().one_or_none()


def read_back(
    connection: sa.Connection, table: sa.Table, key: dict[str, Any], columns: Iterable[str]
) -> dict[str, Any]:
    """Read `columns` of the row with `key` back, failing when the row is gone."""
    found = read(connection, table, key)
    assert found is not None, f"{table.name}: the row {key} just written is not there"
    return {column: found[column] for column in columns}


@pytest.mark.functional
@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_create_read_update_delete(
    table: sa.Table, target_transaction: sa.Connection, source: sqlite3.Connection
) -> None:
    rows = NewRows(target_transaction)
    written = new_values(rows.tag)[table.name]
    created = rows.create(table)
    if "id" in table.c:
        (largest,) = source.execute(f"SELECT coalesce(max(id), 0) FROM {quote_sqlite(table.name)}").fetchone()
        assert created["id"] > largest, (
            f"{table.name}: a new row got id {created['id']}, not past the largest legacy id {largest}"
        )
    key = key_of(table, created)
    assert read_back(target_transaction, table, key, written) == written

    changes = UPDATES[table.name]
    target_transaction.execute(sa.update(table).where(matching(table, key)).values(**changes))
    assert read_back(target_transaction, table, key, changes) == changes

    rows.delete_all()
    assert read(target_transaction, table, key) is None


@pytest.mark.functional
def test_read_an_intervention_with_its_client_tasks_and_technicians(target_transaction: sa.Connection) -> None:
    rows = NewRows(target_transaction)
    intervention = rows.create(interventions)
    for position in (3, 1, 2):
        rows.create(tasks, intervention_id=intervention["id"], title=f"step {position}", position=position)
    lead, assistant = (rows.create(users, name=f"{name} {rows.tag}") for name in ("Lea", "Sam"))
    rows.create(intervention_user, intervention_id=intervention["id"], user_id=lead["id"], role="lead")
    rows.create(intervention_user, intervention_id=intervention["id"], user_id=assistant["id"], role="assistant")

    title, client = target_transaction.execute(
        sa.select(interventions.c.title, clients.c.name)
        .join(clients, clients.c.id == interventions.c.client_id)
        .where(interventions.c.id == intervention["id"])
    ).one()
    steps = (
        target_transaction.execute(
            sa.select(tasks.c.title).where(tasks.c.intervention_id == intervention["id"]).order_by(tasks.c.position)
        )
        .scalars()
        .all()
    )
    technicians = target_transaction.execute(
        sa.select(users.c.name, intervention_user.c.role)
        .join(intervention_user, intervention_user.c.user_id == users.c.id)
        .where(intervention_user.c.intervention_id == intervention["id"])
        .order_by(users.c.name)
    ).all()
    assert (title, client) == (f"Repair {rows.tag}", f"Client {rows.tag}")
    assert steps == ["step 1", "step 2", "step 3"]
    assert [tuple(technician) for technician in technicians] == [
        (f"Lea {rows.tag}", "lead"),
        (f"Sam {rows.tag}", "assistant"),
    ]
    rows.delete_all()


@pytest.mark.functional
def test_read_a_conversation_with_its_messages_and_participants_names(target_transaction: sa.Connection) -> None:
    rows = NewRows(target_transaction)
    ana, bruno = (rows.create(users, name=f"{name} {rows.tag}") for name in ("Ana", "Bruno"))
    conversation = rows.create(chat_conversations, participants=sorted([ana["id"], bruno["id"]]))
    rows.create(
        chat_messages, conversation_id=conversation["id"], user_id=bruno["id"], body="See you there", sent_at=LATER
    )
    rows.create(
        chat_messages, conversation_id=conversation["id"], user_id=ana["id"], body="Can you come at 10?", sent_at=WHEN
    )

    messages = target_transaction.execute(
        sa.select(users.c.name, chat_messages.c.body)
        .join(users, users.c.id == chat_messages.c.user_id)
        .where(chat_messages.c.conversation_id == conversation["id"])
        .order_by(chat_messages.c.sent_at)
    ).all()
    names = (
        target_transaction.execute(
            sa.select(users.c.name)
            .join(chat_conversations, users.c.id == sa.any_(chat_conversations.c.participants))
            .where(chat_conversations.c.id == conversation["id"])
            .order_by(users.c.name)
        )
        .scalars()
        .all()
    )
    assert [tuple(message) for message in messages] == [
        (f"Ana {rows.tag}", "Can you come at 10?"),
        (f"Bruno {rows.tag}", "See you there"),
    ]
    assert names == [f"Ana {rows.tag}", f"Bruno {rows.tag}"]
    rows.delete_all()
