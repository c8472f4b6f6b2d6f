"""The field-service migration's steps, in the phases of the migration plan.

prepare: the source matches legacy_schema.sql, a run is opened, the target schema is
created; core tables (equipment, clients, users); related tables, each after the tables
it references; finalize: keys, checks, indexes, foreign keys, sequences.
"""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

import sqlalchemy as sa

from pytest_migration.engine import ddl, runs
from pytest_migration.engine.context import MigrationContext
from pytest_migration.engine.identifiers import quote_pg
from pytest_migration.engine.load import migrate_table
from pytest_migration.engine.source import SqliteSource
from pytest_migration.engine.store import quarantine
from pytest_migration.steps import Step, StepRegistry

from . import guards, schema

LEGACY_SCHEMA = Path(__file__).with_name("legacy_schema.sql")
CORE_TABLES = ("equipment", "clients", "users")

registry: StepRegistry[MigrationContext] = StepRegistry(phases=("prepare", "core", "related", "finalize"))


def source_schema_problems(source: SqliteSource) -> list[str]:
    """List how the source's tables and columns differ from legacy_schema.sql, naming each column."""
    expected = sqlite3.connect(":memory:")
    expected.executescript(LEGACY_SCHEMA.read_text())
    problems: list[str] = []
    found_tables = set(source.tables())
    for (table,) in expected.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        if table not in found_tables:
            problems.append(f"table {table} is missing")
            continue
        wanted = {name: (kind.upper(), bool(notnull)) for _, name, kind, notnull, _, _ in
                  expected.execute("SELECT * FROM pragma_table_info(?)", (table,))}
        found = {name: (kind.upper(), notnull) for name, kind, notnull in source.columns(table)}
        differences = [
            *(f"column {table}.{name} is missing" for name in wanted if name not in found),
            *(f"column {table}.{name} is not in the legacy schema" for name in found if name not in wanted),
            *(f"column {table}.{name} is {_spelled(found[name])}, expected {_spelled(kind)}"
              for name, kind in wanted.items() if name in found and found[name] != kind),
        ]
        if not differences and list(found) != list(wanted):
            differences.append(f"the columns of {table} are in another order: {', '.join(found)}")
        problems += differences
    return problems


def _spelled(kind: tuple[str, bool]) -> str:
    declared, not_null = kind
    return f"{declared or 'untyped'}{' NOT NULL' if not_null else ''}"


@registry.step(phase="prepare")
def check_source_schema(context: MigrationContext) -> None:
    """Check that the source has the tables and columns of legacy_schema.sql."""
    problems = source_schema_problems(context.source)
    if problems:
        raise AssertionError("the source does not match legacy_schema.sql: " + "; ".join(problems))


@registry.step(phase="prepare", requires=["check_source_schema"])
def open_run(context: MigrationContext) -> str:
    """Start a run on an empty target, or resume the target's run of this same source."""
    run = runs.open_run(
        context.target,
        schema.metadata,
        source=context.source_label,
        fingerprint=context.source.fingerprint(),
        settings=context.settings(),
        fresh=context.config.fresh,
    )
    context.run_id = run.id
    if run.finished:
        return f"run {run.id} already finished: nothing to do"
    return f"run {run.id} {'resumed' if run.resumed else 'started'}"


@registry.step(phase="prepare", requires=["open_run"])
def create_target_schema(context: MigrationContext) -> None:
    """Create the target tables (columns only), and stage tables for those not keyed by the legacy rowid."""

    def create(connection: sa.Connection) -> None:
        ddl.create_bare_tables(connection, schema.metadata)
        ddl.create_stage_tables(connection, [table.target for table in context.tables if table.rowid_column is None])

    runs.run_once(context, "create_target_schema", create)


def _migrate(name: str, context: MigrationContext) -> None:
    migrate_table(context, context.table(name))


def _references(table: sa.Table) -> list[str]:
    return sorted({fk.column.table.name for fk in table.foreign_keys})


for _table in schema.TABLES:
    _parents = _references(_table)
    if _table.name == "chat_conversations":
        _parents.append("users")  # participants are user ids: checked against migrated users
    registry.add(
        Step(
            name=f"migrate_{_table.name}",
            phase="core" if _table.name in CORE_TABLES else "related",
            requires=("create_target_schema", *(f"migrate_{parent}" for parent in _parents)),
            run=partial(_migrate, _table.name),
            doc=f"Migrate {_table.name}: value and row rules, then key and reference rules.",
        )
    )


@registry.step(phase="finalize", requires=[f"migrate_{table.name}" for table in schema.TABLES])
def build_constraints(context: MigrationContext) -> None:
    """Add the participants guards (each table got its keys, checks, indexes and foreign keys as it was finished)."""
    runs.run_once(context, "build_constraints", guards.create_guards)


@registry.step(phase="finalize", requires=["build_constraints"])
def reset_sequences(context: MigrationContext) -> None:
    """Set every id sequence past the largest legacy id, quarantined rows included."""

    def reset(connection: sa.Connection) -> None:
        floors = {
            table.name: context.source.largest_rowid(table.name)
            for table in schema.metadata.sorted_tables
            if table.c.get("id") is not None
        }
        ddl.reset_sequences(connection, schema.metadata, floors)

    runs.run_once(context, "reset_sequences", reset)


@registry.step(phase="finalize", requires=["reset_sequences"])
def finish_run(context: MigrationContext) -> None:
    """Record the run as finished and give the planner the quarantine's statistics.

    Each target table was analyzed as it was finished; the quarantine grew until the end.
    Only the columns that queries select and join on are analyzed: the JSON payloads
    would take three quarters of the time, and autovacuum analyzes them later.
    """
    runs.finish_run(context.target, context.require_run())
    searched = ", ".join(quote_pg(name) for name in ("run_id", "source_table", "source_rowid", "reason"))
    with context.target.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f"ANALYZE {quote_pg(quarantine.schema, quarantine.name)} ({searched})"))
