"""Target DDL from the suite's MetaData: bare tables for the load, constraints after it.

Loading into tables without keys, indexes and foreign keys, then building those once,
is much faster than maintaining them row by row; both come from the same MetaData, so
the schema that the checks compare against is the schema that was built.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from . import store
from .identifiers import quote_pg


def create_bare_tables(connection: sa.Connection, metadata: sa.MetaData) -> None:
    """Create each target table with its columns only (types, identity).

    Columns stay nullable but for identities: rows that the key and reference rules will
    quarantine (a missing serial number, a NULL reference) may be loaded first.
    """
    for table in metadata.sorted_tables:
        if sa.inspect(connection).has_table(table.name, schema=table.schema):
            continue
        bare = sa.Table(
            table.name,
            sa.MetaData(),
            *(
                sa.Column(c.name, c.type, *([_same_identity(c.identity)] if c.identity else []),
                          nullable=c.identity is None)
                for c in table.columns
            ),
            schema=table.schema,
        )
        connection.execute(CreateTable(bare))


_IDENTITY_OPTIONS = (
    "always", "on_null", "start", "increment", "minvalue", "maxvalue", "nominvalue", "nomaxvalue", "cycle", "cache",
    "order",
)


def _same_identity(identity: sa.Identity) -> sa.Identity:
    """A new identity with the options of `identity`, for another table (one belongs to one column)."""
    return sa.Identity(**{option: getattr(identity, option) for option in _IDENTITY_OPTIONS})


def create_stage_tables(connection: sa.Connection, tables: Iterable[sa.Table]) -> None:
    """Create the unlogged stage table of each of `tables` in schema `migration`."""
    for table in tables:
        stage = stage_table(table)
        if not sa.inspect(connection).has_table(stage.name, schema=stage.schema):
            connection.execute(CreateTable(stage))


_stages: dict[str, sa.Table] = {}
_stage_metadata = sa.MetaData(schema=store.SCHEMA)
STAGE_ROWID = "_legacy_rowid"
STAGE_REASON = "_reason"


def stage_table(table: sa.Table) -> sa.Table:
    """Return the stage of `table`: its columns, all nullable, plus source rowid and reason.

    Rows that passed the value and row rules wait here until the key and reference rules,
    which need the whole table, decide whether they move to the target or to quarantine.
    """
    name = f"stage_{table.name}"
    if name not in _stages:
        _stages[name] = sa.Table(
            name,
            _stage_metadata,
            sa.Column(STAGE_ROWID, sa.BigInteger, nullable=False),
            sa.Column(STAGE_REASON, sa.Text),
            *(sa.Column(column.name, column.type) for column in table.columns),
            prefixes=["UNLOGGED"],
        )
    return _stages[name]


def add_table_constraints(connection: sa.Connection, table: sa.Table) -> None:
    """Add the NOT NULLs, keys, checks, indexes and foreign keys of one loaded table.

    Its parents must have their keys already: tables are finished parents first.
    """
    required = [column for column in table.columns if not column.nullable and column.identity is None]
    if required:  # one statement, one scan of the table
        settings = ", ".join(f"ALTER COLUMN {quote_pg(column.name)} SET NOT NULL" for column in required)
        connection.execute(sa.text(f"ALTER TABLE {quote_pg(table.schema, table.name)} {settings}"))
    for constraint in sorted(table.constraints, key=_constraint_order):
        if isinstance(constraint, sa.ForeignKeyConstraint):
            continue  # added last, after the indexes
        if isinstance(constraint, sa.PrimaryKeyConstraint) and not constraint.columns:
            continue
        connection.execute(AddConstraint(constraint))
    for index in sorted(table.indexes, key=lambda index: str(index.name)):
        connection.execute(CreateIndex(index))
    for foreign_key in sorted(table.foreign_key_constraints, key=lambda fk: str(fk.name)):
        connection.execute(AddConstraint(foreign_key))


def reset_sequences(connection: sa.Connection, metadata: sa.MetaData, floors: dict[str, int]) -> None:
    """Set each identity sequence past the largest id migrated or in `floors` (e.g. quarantined)."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if column.identity is None:
                continue
            largest = connection.execute(sa.select(sa.func.max(column))).scalar() or 0
            largest = max(largest, floors.get(table.name, 0))
            connection.execute(
                sa.text("SELECT setval(pg_get_serial_sequence(:table, :column), :value, :called)"),
                {
                    "table": quote_pg(table.schema, table.name),
                    "column": column.name,
                    "value": max(largest, 1),
                    "called": largest > 0,
                },
            )


def drop_tables(connection: sa.Connection, metadata: sa.MetaData) -> None:
    """Drop the target tables of `metadata` that exist, dependents first."""
    metadata.drop_all(connection, checkfirst=True)


def _constraint_order(constraint: sa.Constraint) -> tuple[int, str]:
    kinds = (sa.PrimaryKeyConstraint, sa.UniqueConstraint, sa.CheckConstraint)
    rank = next((i for i, kind in enumerate(kinds) if isinstance(constraint, kind)), len(kinds))
    return rank, str(constraint.name)
