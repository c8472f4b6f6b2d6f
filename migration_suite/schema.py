"""The target schema of MIGRATION_RULES.md section 1, as SQLAlchemy MetaData.

DDL, the finalize step (keys, checks, indexes and foreign keys built after the load),
schema-parity checks and test ids all come from this one definition.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
}

metadata = sa.MetaData(schema="public", naming_convention=NAMING_CONVENTION)

USER_ROLES = ("admin", "dispatcher", "technician")
EQUIPMENT_STATUSES = ("active", "inactive", "retired")
CONTRACT_STATUSES = ("active", "expired", "cancelled")
INTERVENTION_STATUSES = ("planned", "in_progress", "done", "cancelled")
PRIORITIES = ("low", "normal", "high", "urgent")
ASSIGNMENT_ROLES = ("lead", "assistant")

Timestamp = sa.DateTime(timezone=True)
Money = sa.Numeric(12, 2)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)


def _stamps() -> tuple[sa.Column[object], sa.Column[object]]:
    return sa.Column("created_at", Timestamp), sa.Column("updated_at", Timestamp)


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=column)


def _reference(column: str, parent: str) -> sa.Column[int]:
    return sa.Column(column, sa.BigInteger, sa.ForeignKey(f"public.{parent}.id"), nullable=False, index=True)


users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("role", sa.Text),
    sa.Column("phone", sa.Text),
    *_stamps(),
    _one_of("role", USER_ROLES),
)

clients = sa.Table(
    "clients",
    metadata,
    _id(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("address", sa.Text),
    *_stamps(),
)

equipment = sa.Table(
    "equipment",
    metadata,
    _id(),
    sa.Column("serial_number", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("brand", sa.Text),
    sa.Column("model", sa.Text),
    sa.Column("installed_on", sa.Date),
    sa.Column("status", sa.Text, nullable=False),
    *_stamps(),
    _one_of("status", EQUIPMENT_STATUSES),
)

maintenance_contracts = sa.Table(
    "maintenance_contracts",
    metadata,
    _id(),
    _reference("equipment_id", "equipment"),
    sa.Column("reference", sa.Text),
    sa.Column("starts_on", sa.Date),
    sa.Column("ends_on", sa.Date),
    sa.Column("amount", Money),
    sa.Column("status", sa.Text, nullable=False),
    *_stamps(),
    _one_of("status", CONTRACT_STATUSES),
    sa.CheckConstraint("ends_on >= starts_on", name="period"),
)

maintenance_histories = sa.Table(
    "maintenance_histories",
    metadata,
    _id(),
    _reference("equipment_id", "equipment"),
    sa.Column("performed_at", Timestamp),
    sa.Column("description", sa.Text),
    sa.Column("cost", Money),
    *_stamps(),
)

interventions = sa.Table(
    "interventions",
    metadata,
    _id(),
    _reference("client_id", "clients"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("scheduled_at", Timestamp),
    sa.Column("completed_at", Timestamp),
    *_stamps(),
    _one_of("status", INTERVENTION_STATUSES),
    _one_of("priority", PRIORITIES),
)

tasks = sa.Table(
    "tasks",
    metadata,
    _id(),
    _reference("intervention_id", "interventions"),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("is_done", sa.Boolean, nullable=False),
    sa.Column("position", sa.Integer),
    *_stamps(),
)

intervention_user = sa.Table(
    "intervention_user",
    metadata,
    sa.Column("intervention_id", sa.BigInteger, sa.ForeignKey("public.interventions.id"), primary_key=True),
    # The primary key's index leads with intervention_id; user_id needs its own.
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("public.users.id"), primary_key=True, index=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp),
    _one_of("role", ASSIGNMENT_ROLES),
)

chat_conversations = sa.Table(
    "chat_conversations",
    metadata,
    _id(),
    sa.Column("subject", sa.Text),
    sa.Column("participants", ARRAY(sa.BigInteger), nullable=False),
    *_stamps(),
    sa.CheckConstraint("cardinality(participants) > 0", name="participants_not_empty"),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    _id(),
    _reference("conversation_id", "chat_conversations"),
    _reference("user_id", "users"),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=False),
    sa.Column("read_at", Timestamp),
    *_stamps(),
)

# Parents first: core tables, then each related table after the tables it references
# (chat_conversations after users, whose ids its participants hold). A small table comes
# last: while a table finishes, the next one is staged (engine.load), and the last
# table's finish is the one that nothing overlaps.
TABLES = (
    equipment,
    clients,
    users,
    chat_conversations,
    chat_messages,
    interventions,
    tasks,
    intervention_user,
    maintenance_histories,
    maintenance_contracts,
)
