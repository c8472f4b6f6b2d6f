"""Relationships survive the migration: references resolve, cardinalities match the source, keys
are unique, and chat participants are valid users.

Cardinalities are recounted from the legacy file with this module's own SQL, minus the rows
this run quarantined, never with the migration's readers or rules.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa

from pytest_migration.checks import relations
from pytest_migration.engine.context import MigrationContext
from pytest_migration.engine.identifiers import quote_sqlite

from .schema import TABLES, chat_conversations, users

# Table.constraints and foreign_key_constraints are sets: sorted, for one order in every xdist worker.
CONSTRAINTS = [constraint for table in TABLES for constraint in sorted(table.constraints, key=lambda c: str(c.name))]
FOREIGN_KEYS = [constraint for constraint in CONSTRAINTS if isinstance(constraint, sa.ForeignKeyConstraint)]
FOREIGN_KEY_IDS = [f"{fk.table.name}.{','.join(column.name for column in fk.columns)}" for fk in FOREIGN_KEYS]
KEYS = [
    constraint
    for constraint in CONSTRAINTS
    if isinstance(constraint, (sa.PrimaryKeyConstraint, sa.UniqueConstraint)) and constraint.columns
]

participants = chat_conversations.c.participants
element = sa.func.unnest(participants).column_valued("element")


def _listed(alias: str) -> sa.TableValuedAlias:
    """The participants of a conversation as rows (element, position), named `alias`."""
    return sa.func.unnest(participants).table_valued("element", with_ordinality="position").render_derived(alias)


_earlier, _later = _listed("earlier"), _listed("later")
PARTICIPANT_RULES: dict[str, sa.ColumnElement[bool]] = {
    "non_empty": sa.func.cardinality(participants) > 0,
    "no_null_element": ~sa.exists(sa.select(element).where(element.is_(None))),
    "distinct": sa.select(sa.func.count(element.distinct())).scalar_subquery() == sa.func.cardinality(participants),
    "sorted_ascending": ~sa.exists().where(
        _later.c.position == _earlier.c.position + 1, _later.c.element < _earlier.c.element
    ),
    "existing_users": ~sa.exists(sa.select(element).where(~sa.exists().where(users.c.id == element))),
}
"""The participants rules of MIGRATION_RULES.md section 1, each a predicate on a conversation."""


@pytest.mark.relationship
@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=FOREIGN_KEY_IDS)
def test_no_orphans(fk: sa.ForeignKeyConstraint, target: sa.Connection) -> None:
    result = relations.orphans(target, fk)
    assert result.count == 0, str(result)


@pytest.mark.relationship
@pytest.mark.parametrize("fk", FOREIGN_KEYS, ids=FOREIGN_KEY_IDS)
def test_children_per_parent_match_the_source(
    fk: sa.ForeignKeyConstraint, migrated: MigrationContext, source: sqlite3.Connection, target: sa.Connection
) -> None:
    (reference,) = fk.elements  # the suite's references are single columns
    child, parent_table = reference.parent, reference.column.table.name
    table = child.table.name
    quarantined = (
        target.execute(
            sa.text("SELECT source_rowid FROM migration.quarantine WHERE run_id = :run AND source_table = :table"),
            {"run": migrated.run_id, "table": table},
        )
        .scalars()
        .all()
    )
    in_source: dict[Any, int] = dict(
        source.execute(
            f"SELECT CAST({quote_sqlite(child.name)} AS INTEGER), count(*) FROM {quote_sqlite(table)}"
            " WHERE rowid NOT IN (SELECT value FROM json_each(?)) GROUP BY 1",
            (json.dumps(quarantined),),
        ).fetchall()
    )
    in_target: dict[Any, int] = dict(target.execute(sa.select(child, sa.func.count()).group_by(child)).all())
    differing = sorted(
        (parent for parent in in_source.keys() | in_target.keys() if in_source.get(parent) != in_target.get(parent)),
        key=lambda parent: (parent is None, parent),
    )
    shown = "; ".join(
        f"{parent_table} {parent}: expected {in_source.get(parent, 0)}, found {in_target.get(parent, 0)}"
        for parent in differing[: relations.SAMPLE_SIZE]
    )
    assert not differing, (
        f"{table}.{child.name}: {len(differing)} parents have another number of children than in the source"
        f" after quarantine (expected {sum(in_source.values())} children in all, found {sum(in_target.values())});"
        f" first {min(len(differing), relations.SAMPLE_SIZE)}: {shown}"
    )


@pytest.mark.relationship
@pytest.mark.parametrize(
    "key", KEYS, ids=[f"{key.table.name}.{','.join(column.name for column in key.columns)}" for key in KEYS]
)
def test_no_duplicate_keys(key: sa.PrimaryKeyConstraint | sa.UniqueConstraint, target: sa.Connection) -> None:
    result = relations.duplicates(target, list(key.columns))
    assert result.count == 0, str(result)


@pytest.mark.relationship
@pytest.mark.parametrize("rule", PARTICIPANT_RULES)
def test_participants_are_valid(rule: str, target: sa.Connection) -> None:
    result = relations.violations(
        target,
        chat_conversations,
        PARTICIPANT_RULES[rule],
        rule=f"participants {rule}",
        key=[chat_conversations.c.id, participants],
    )
    assert result.count == 0, str(result)
