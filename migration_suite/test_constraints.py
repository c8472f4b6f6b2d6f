"""Each constraint of the target rejects a write that breaks it, naming itself in the error.

A violating write is a copy of a migrated row changed in one place; identity columns take
new values and unique columns fresh ones, so that only the constraint under test can object.
(The pivot's copy repeats its key, which has no fresh value; PostgreSQL checks NOT NULL and
CHECK constraints before unique indexes, and its reference tests change a key column.)
Every write runs in a savepoint of `target_transaction`, which is rolled back at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import Any, NamedTuple

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors

from pytest_migration.checks import catalog

from . import guards
from .schema import TABLES, chat_conversations, users

# Table.constraints is a set: sorted, so that every xdist worker collects the same order.
CONSTRAINTS = [constraint for table in TABLES for constraint in sorted(table.constraints, key=lambda c: str(c.name))]
NOT_NULL = [column for table in TABLES for column in table.columns if not column.nullable]
CHECKS = [constraint for constraint in CONSTRAINTS if isinstance(constraint, sa.CheckConstraint)]
# Keys that an identity does not fill: a copy of a row repeats them.
UNIQUE_KEYS = [
    constraint
    for constraint in CONSTRAINTS
    if isinstance(constraint, (sa.PrimaryKeyConstraint, sa.UniqueConstraint))
    and constraint.columns
    and all(column.identity is None for column in constraint.columns)
]
FOREIGN_KEYS = [constraint for constraint in CONSTRAINTS if isinstance(constraint, sa.ForeignKeyConstraint)]
FOREIGN_KEY_IDS = [f"{fk.table.name}.{','.join(column.name for column in fk.columns)}" for fk in FOREIGN_KEYS]

VIOLATING: dict[str, dict[str, Any]] = {
    "users_role_check": {"role": "superuser"},
    "equipment_status_check": {"status": "broken"},
    "maintenance_contracts_status_check": {"status": "pending"},
    "maintenance_contracts_period_check": {"starts_on": date(2024, 6, 2), "ends_on": date(2024, 6, 1)},
    "interventions_status_check": {"status": "paused"},
    "interventions_priority_check": {"priority": "critical"},
    "intervention_user_role_check": {"role": "observer"},
    "chat_conversations_participants_not_empty_check": {"participants": []},
}
"""Values that break each check constraint, by constraint name."""


class KnownUsers(NamedTuple):
    """Two existing user ids, low < high, and an id that no user has."""

    low: int
    high: int
    unknown: int


PARTICIPANTS: dict[str, tuple[Callable[[KnownUsers], list[Any]], str]] = {
    "null_element": (lambda known: [known.low, None], "hold a NULL element"),
    "duplicate": (lambda known: [known.low, known.low], "hold duplicates"),
    "unsorted": (lambda known: [known.high, known.low], "are not sorted ascending"),
    "unknown_user": (lambda known: [known.low, known.unknown], "name users that do not exist"),
    "two_dimensional": (lambda known: [[known.low, known.high]] * 2, "must be a one-dimensional array"),
}
"""Participants the guard refuses, made from existing users, with the words of its refusal."""


def copy_of_a_row(table: sa.Table, changes: Mapping[str, Any] | None = None, keep: Collection[str] = ()) -> sa.Insert:
    """Insert a copy of the table's first row, with `changes`; unique columns get fresh values unless kept."""
    changes = changes or {}
    original = sa.select(table).order_by(*table.primary_key.columns).limit(1).subquery("original")
    fresh = uuid.uuid4().hex
    values: dict[str, Any] = {}
    for column in table.columns:
        if column.name in changes:
            change = changes[column.name]
            values[column.name] = change if isinstance(change, sa.ColumnElement) else sa.literal(change, column.type)
        elif column.unique and column.name not in keep:
            values[column.name] = original.c[column.name] + f"-{fresh}"
        elif column.identity is None:
            values[column.name] = original.c[column.name]
    return sa.insert(table).from_select(list(values), sa.select(*values.values()))


def missing_id(column: sa.Column[int]) -> sa.ScalarSelect[int]:
    """An id below every id of `column`: no row has it and no identity will give it."""
    return sa.select(sa.func.coalesce(sa.func.min(column), 0) - 1).scalar_subquery()


def assert_rejected(
    connection: sa.Connection,
    write: sa.Executable,
    expected: type[psycopg.Error],
    name: str,
    *,
    naming: str = "constraint_name",
) -> psycopg.Error:
    """Run `write` in a savepoint; check it fails with `expected`, whose diagnostic `naming` is `name`."""
    try:
        with connection.begin_nested():
            connection.execute(write)
    except sa.exc.DBAPIError as failure:
        error = failure.orig
    else:
        statement = str(write).splitlines()[0]
        pytest.fail(f"expected {expected.__name__} naming {name}, but the write was accepted: {statement} ...")
    assert isinstance(error, psycopg.Error), f"expected {expected.__name__} naming {name}, got {error!r}"
    found = getattr(error.diag, naming)
    assert (type(error), found) == (expected, name), (
        f"expected {expected.__name__} naming {name}, got {type(error).__name__} naming {found}: {error}"
    )
    return error


@pytest.mark.constraint
@pytest.mark.parametrize("column", NOT_NULL, ids=[f"{column.table.name}.{column.name}" for column in NOT_NULL])
def test_not_null_is_enforced(column: sa.Column[Any], target_transaction: sa.Connection) -> None:
    write = copy_of_a_row(column.table, {column.name: None})
    error = assert_rejected(target_transaction, write, errors.NotNullViolation, column.name, naming="column_name")
    assert error.diag.table_name == column.table.name


@pytest.mark.constraint
@pytest.mark.parametrize("check", CHECKS, ids=[str(check.name) for check in CHECKS])
def test_check_is_enforced(check: sa.CheckConstraint, target_transaction: sa.Connection) -> None:
    write = copy_of_a_row(check.table, VIOLATING[str(check.name)])
    assert_rejected(target_transaction, write, errors.CheckViolation, str(check.name))


@pytest.mark.constraint
@pytest.mark.parametrize("key", UNIQUE_KEYS, ids=[str(key.name) for key in UNIQUE_KEYS])
def test_unique_key_is_enforced(
    key: sa.PrimaryKeyConstraint | sa.UniqueConstraint, target_transaction: sa.Connection
) -> None:
    write = copy_of_a_row(key.table, keep=[column.name for column in key.columns])
    assert_rejected(target_transaction, write, errors.UniqueViolation, str(key.name))


@pytest.mark.constraint
@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=FOREIGN_KEY_IDS)
def test_a_child_of_a_missing_parent_is_refused(fk: sa.ForeignKeyConstraint, target_transaction: sa.Connection) -> None:
    (reference,) = fk.elements
    write = copy_of_a_row(fk.table, {reference.parent.name: missing_id(reference.column)})
    assert_rejected(target_transaction, write, errors.ForeignKeyViolation, str(fk.name))


@pytest.mark.constraint
@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=FOREIGN_KEY_IDS)
def test_a_parent_with_children_cannot_be_deleted(
    fk: sa.ForeignKeyConstraint, target_transaction: sa.Connection
) -> None:
    (reference,) = fk.elements
    parents = reference.column.table
    # A new parent with one new child: no other reference can be the one that objects.
    parent = target_transaction.execute(copy_of_a_row(parents).returning(reference.column)).scalar_one()
    target_transaction.execute(copy_of_a_row(fk.table, {reference.parent.name: parent}))
    write = sa.delete(parents).where(reference.column == parent)
    assert_rejected(target_transaction, write, errors.ForeignKeyViolation, str(fk.name))


@pytest.mark.constraint
@pytest.mark.parametrize("operation", ["insert", "update"])
@pytest.mark.parametrize("case", PARTICIPANTS)
def test_participants_guard_refuses_invalid_participants(
    case: str, operation: str, target_transaction: sa.Connection
) -> None:
    low, high = target_transaction.execute(sa.select(users.c.id).order_by(users.c.id).limit(2)).scalars().all()
    unknown = target_transaction.execute(sa.select(sa.func.max(users.c.id) + 1_000_000)).scalar_one()
    make, refusal = PARTICIPANTS[case]
    participants = make(KnownUsers(low, high, unknown))
    if operation == "insert":
        write: sa.Executable = copy_of_a_row(chat_conversations, {"participants": participants})
    else:
        conversation = target_transaction.execute(
            copy_of_a_row(chat_conversations, {"participants": [low, high]}).returning(chat_conversations.c.id)
        ).scalar_one()
        write = (
            sa.update(chat_conversations)
            .where(chat_conversations.c.id == conversation)
            .values(participants=participants)
        )
    error = assert_rejected(target_transaction, write, errors.RaiseException, guards.PARTICIPANTS_GUARD)
    assert refusal in str(error.diag.message_primary), f"expected a refusal saying {refusal!r}, got {error}"


@pytest.mark.constraint
@pytest.mark.parametrize("operation", ["delete", "renumber"])
def test_a_participant_cannot_be_deleted_or_renumbered(operation: str, target_transaction: sa.Connection) -> None:
    user = target_transaction.execute(copy_of_a_row(users).returning(users.c.id)).scalar_one()
    target_transaction.execute(copy_of_a_row(chat_conversations, {"participants": [user]}))
    write = (
        sa.delete(users).where(users.c.id == user)
        if operation == "delete"
        else sa.update(users).where(users.c.id == user).values(id=missing_id(users.c.id))
    )
    error = assert_rejected(target_transaction, write, errors.RaiseException, guards.USERS_GUARD)
    assert f"user {user} is a participant" in str(error.diag.message_primary), str(error)


@pytest.mark.constraint
def test_participants_guards_are_present(target: sa.Connection) -> None:
    problems = catalog.missing_triggers(target, guards.TRIGGERS)
    indexes = sa.inspect(target).get_indexes(chat_conversations.name, schema=chat_conversations.schema)
    if guards.PARTICIPANTS_INDEX not in {index["name"] for index in indexes}:
        problems.append(f"{chat_conversations.name}: index {guards.PARTICIPANTS_INDEX} is missing")
    assert not problems, "\n".join(problems)
