"""The source is the legacy schema; the target is exactly the schema the suite defines."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from pytest_migration.checks import catalog
from pytest_migration.engine.context import MigrationContext

from .schema import TABLES, metadata
from .steps import source_schema_problems


@pytest.mark.preparation
def test_source_matches_the_legacy_schema(migration_context: MigrationContext) -> None:
    problems = source_schema_problems(migration_context.source)
    assert not problems, "\n".join(problems)


@pytest.mark.integrity
def test_target_columns_match_the_definitions(target: sa.Connection) -> None:
    problems = catalog.column_differences(target, metadata)
    assert not problems, "\n".join(problems)


@pytest.mark.integrity
def test_every_constraint_is_present(target: sa.Connection) -> None:
    problems = catalog.missing_constraints(target, metadata)
    assert not problems, "\n".join(problems)


@pytest.mark.integrity
def test_every_index_is_present_and_every_foreign_key_indexed(target: sa.Connection) -> None:
    problems = catalog.missing_indexes(target, metadata) + catalog.unindexed_foreign_keys(target, metadata)
    assert not problems, "\n".join(problems)


@pytest.mark.integrity
def test_sequences_are_past_the_largest_legacy_id(target: sa.Connection, source: sqlite3.Connection) -> None:
    floors = {
        table.name: source.execute(f'SELECT coalesce(max(id), 0) FROM "{table.name}"').fetchone()[0]
        for table in TABLES
        if "id" in table.c
    }
    problems = catalog.sequences_behind(target, metadata, floors)
    assert not problems, "\n".join(problems)
