"""Checks that read PostgreSQL's catalog against a suite's MetaData; they never write.

They prove a target given by URL is complete even when the checks may not write to it:
a dropped constraint or index, a changed column, or a sequence left behind is caught here.
Each returns the list of problems, empty when all is well.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# pg_trigger.tgenabled of a trigger that fires in an ordinary session ('R' fires only on replicas).
FIRING = ("O", "A")


def column_differences(connection: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """Columns missing, extra, or of another type or nullability than the MetaData says."""
    inspector = sa.inspect(connection)
    dialect = postgresql.dialect()
    problems: list[str] = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name, schema=table.schema):
            problems.append(f"{table.name}: table is missing")
            continue
        found = {column["name"]: column for column in inspector.get_columns(table.name, schema=table.schema)}
        for column in table.columns:
            actual = found.pop(column.name, None)
            if actual is None:
                problems.append(f"{table.name}.{column.name}: column is missing")
                continue
            wanted_type = column.type.compile(dialect=dialect)
            actual_type = actual["type"].compile(dialect=dialect)
            if wanted_type != actual_type:
                problems.append(f"{table.name}.{column.name}: type {actual_type}, expected {wanted_type}")
            if bool(actual["nullable"]) != bool(column.nullable):
                wanted = "NULL" if column.nullable else "NOT NULL"
                problems.append(f"{table.name}.{column.name}: nullability differs, expected {wanted}")
        problems.extend(f"{table.name}.{name}: column is not in the definition" for name in found)
    return problems


def missing_constraints(connection: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """Named constraints of the MetaData (keys, uniques, checks, foreign keys) absent from the target."""
    present = set(
        connection.execute(
            sa.text(
                "SELECT n.nspname || '.' || c.conname FROM pg_constraint c"
                " JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.convalidated"
            )
        ).scalars()
    )
    problems = []
    for table in metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, sa.PrimaryKeyConstraint) and not constraint.columns:
                continue
            if f"{table.schema or 'public'}.{constraint.name}" not in present:
                problems.append(f"{table.name}: constraint {constraint.name} is missing")
    return sorted(problems)


def missing_indexes(connection: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """Indexes of the MetaData absent from the target."""
    present = set(
        connection.execute(sa.text("SELECT schemaname || '.' || indexname FROM pg_indexes")).scalars()
    )
    return sorted(
        f"{table.name}: index {index.name} is missing"
        for table in metadata.sorted_tables
        for index in table.indexes
        if f"{table.schema or 'public'}.{index.name}" not in present
    )


def unindexed_foreign_keys(connection: sa.Connection, metadata: sa.MetaData) -> list[str]:
    """Foreign-key columns of the target that no index leads with."""
    leading = set(
        connection.execute(
            sa.text(
                "SELECT t.relname || '.' || a.attname FROM pg_index i"
                " JOIN pg_class t ON t.oid = i.indrelid"
                " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]"
            )
        ).scalars()
    )
    return sorted(
        f"{table.name}.{column.name}: foreign key without an index"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.foreign_keys and f"{table.name}.{column.name}" not in leading
    )


def sequences_behind(connection: sa.Connection, metadata: sa.MetaData, floors: dict[str, int]) -> list[str]:
    """Identity sequences whose next value would not pass the largest id (or the given floor)."""
    problems = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if column.identity is None:
                continue
            sequence = connection.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": f'"{table.schema or "public"}"."{table.name}"', "column": column.name},
            ).scalar()
            if sequence is None:
                problems.append(f"{table.name}.{column.name}: no identity sequence")
                continue
            last_value = connection.execute(
                sa.text("SELECT coalesce(last_value, 0) FROM pg_sequences WHERE schemaname || '.' || sequencename = :s"),
                {"s": sequence.replace('"', "")},
            ).scalar() or 0
            largest = max(connection.execute(sa.select(sa.func.max(column))).scalar() or 0, floors.get(table.name, 0))
            if last_value < largest:
                problems.append(
                    f"{table.name}.{column.name}: sequence at {last_value}, below the largest legacy id {largest}"
                )
    return problems


def missing_triggers(connection: sa.Connection, triggers: Iterable[tuple[sa.Table, str]]) -> list[str]:
    """Triggers, named with their table, that are absent or would not fire in an ordinary session."""
    states: dict[str, str] = {
        name: state
        for name, state in connection.execute(
            sa.text(
                "SELECT n.nspname || '.' || c.relname || '.' || t.tgname, t.tgenabled FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT t.tgisinternal"
            )
        )
    }
    problems = []
    for table, name in triggers:
        state = states.get(f"{table.schema or 'public'}.{table.name}.{name}")
        if state is None:
            problems.append(f"{table.name}: trigger {name} is missing")
        elif state not in FIRING:
            problems.append(f"{table.name}: trigger {name} is disabled (pg_trigger.tgenabled = {state!r})")
    return sorted(problems)
