"""Moving one legacy table into the target: stage in batches, then decide by set rules.

1. Stage: source batches in storage order go through the table's converter (value and
   row rules); rows that pass are COPYed into the table's stage, rows that fail into
   `migration.quarantine`, and the checkpoint moves on, all in one transaction per batch.
2. Finish: in one transaction, the key and reference rules mark the staged rows that
   break them (in order, first reason wins), those rows go to quarantine, the others are
   copied into the target table, and the table is marked finished.

Either phase can be killed at any moment: a batch is committed whole or not at all, and
the finish is one transaction, so a new run with the same arguments continues exactly.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from psycopg import sql

from . import store
from .context import MigrationContext
from .ddl import STAGE_REASON, STAGE_ROWID, stage_table
from .identifiers import quote_pg
from .spec import Row, TableMigration


FINISH_WORK_MEM = "256MB"


def migrate_table(context: MigrationContext, table: TableMigration) -> None:
    """Stage and finish `table` for the current run, continuing from its checkpoint."""
    run_id = context.require_run()
    state = _progress(context, run_id, table.name)
    if not state.loaded:
        _stage(context, run_id, table, state.last_rowid)
    if not state.finished:
        _finish(context, run_id, table)


def _progress(context: MigrationContext, run_id: int, name: str) -> Any:
    progress = store.progress
    with context.target.begin() as connection:
        key = (progress.c.run_id == run_id) & (progress.c.table_name == name)
        state = connection.execute(sa.select(progress).where(key)).first()
        if state is None:
            connection.execute(sa.insert(progress).values(run_id=run_id, table_name=name))
            state = connection.execute(sa.select(progress).where(key)).one()
        return state


def _stage(context: MigrationContext, run_id: int, table: TableMigration, after_rowid: int) -> None:
    stage = stage_table(table.target)
    stage_columns = [STAGE_ROWID, *(column.name for column in table.target.columns)]
    total = context.source.count(table.name)
    done = context.source.count(table.name, up_to_rowid=after_rowid) if after_rowid else 0
    context.progress(table.name, done, total)
    for batch in context.source.batches(table.name, table.source_columns, after_rowid, context.config.batch_size):
        started = time.perf_counter()
        converted = table.convert(batch)
        with context.target.begin() as connection:
            cursor = _driver(connection).cursor()
            _copy(cursor, stage, stage_columns, converted.rows)
            _copy_quarantine(
                cursor,
                run_id,
                table,
                ((batch[index], reason) for index, reason in converted.rejected),
            )
            connection.execute(
                sa.update(store.progress)
                .where((store.progress.c.run_id == run_id) & (store.progress.c.table_name == table.name))
                .values(
                    last_rowid=batch[-1][0],
                    seconds=store.progress.c.seconds + (time.perf_counter() - started),
                )
            )
        done += len(batch)
        context.progress(table.name, done, total)
    with context.target.begin() as connection:
        connection.execute(
            sa.update(store.progress)
            .where((store.progress.c.run_id == run_id) & (store.progress.c.table_name == table.name))
            .values(loaded=True)
        )


def _finish(context: MigrationContext, run_id: int, table: TableMigration) -> None:
    stage = stage_table(table.target)
    started = time.perf_counter()
    with context.target.begin() as connection:
        # The rules are joins over whole tables: give the planner statistics and room to
        # hash, or an anti-join falls back to a nested loop, quadratic in the table size.
        connection.execute(sa.text(f"SET LOCAL work_mem = '{FINISH_WORK_MEM}'"))
        connection.execute(sa.text(f"ANALYZE {quote_pg(stage.schema, stage.name)}"))
        for rule in table.set_rules:
            connection.execute(
                sa.update(stage)
                .where(stage.c[STAGE_REASON].is_(None) & rule.offends(stage))
                .values({STAGE_REASON: rule.reason})
            )
        offenders = connection.execute(
            sa.select(stage.c[STAGE_ROWID], stage.c[STAGE_REASON])
            .where(stage.c[STAGE_REASON].is_not(None))
            .order_by(stage.c[STAGE_ROWID])
        ).all()
        reasons = dict(offenders)
        source_rows = context.source.rows(table.name, table.source_columns, list(reasons))
        _copy_quarantine(_driver(connection).cursor(), run_id, table, ((row, reasons[row[0]]) for row in source_rows))
        columns = [column.name for column in table.target.columns]
        connection.execute(
            sa.insert(table.target).from_select(
                columns,
                sa.select(*(stage.c[name] for name in columns))
                .where(stage.c[STAGE_REASON].is_(None))
                .order_by(stage.c[STAGE_ROWID]),
            )
        )
        connection.execute(sa.text(f"TRUNCATE {quote_pg(stage.schema, stage.name)}"))
        # Children's reference rules join this table next: let the planner see its size.
        connection.execute(sa.text(f"ANALYZE {quote_pg(table.target.schema, table.target.name)}"))
        connection.execute(
            sa.update(store.progress)
            .where((store.progress.c.run_id == run_id) & (store.progress.c.table_name == table.name))
            .values(finished=True, seconds=store.progress.c.seconds + (time.perf_counter() - started))
        )


def _copy(cursor: Any, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """COPY `rows` into `table`; values are sent as data, never spliced into SQL."""
    if not rows:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*(part for part in (table.schema, table.name) if part)),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_quarantine(cursor: Any, run_id: int, table: TableMigration, rejected: Any) -> None:
    """COPY rejected source rows, whole and unchanged, into `migration.quarantine`."""
    keys = [table.source_columns.index(column) for column in table.source_key]
    rows = [
        (
            run_id,
            table.name,
            row[0],
            json.dumps({column: _json_value(row[1 + index]) for column, index in zip(table.source_key, keys)}),
            reason,
            json.dumps({column: _json_value(value) for column, value in zip(table.source_columns, row[1:])}),
        )
        for row, reason in rejected
    ]
    _copy(cursor, store.quarantine, store.QUARANTINE_COPY_COLUMNS, rows)


def _json_value(value: Any) -> Any:
    """Encode a legacy value for the payload; what cannot be stored as text goes as base64."""
    if isinstance(value, bytes):
        return {"$base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, str) and "\x00" in value:
        # jsonb refuses \u0000, so text holding NUL is kept as its UTF-8 bytes.
        return {"$base64": base64.b64encode(value.encode("utf-8")).decode("ascii")}
    return value


def _driver(connection: sa.Connection) -> Any:
    """Return the psycopg connection under a SQLAlchemy connection, for COPY."""
    return connection.connection.driver_connection
