"""Moving one legacy table into the target: load in batches, then decide by set rules.

1. Stage: source batches in storage order go through the table's converter (value and
   row rules); rows that pass are COPYed into the target table itself when its key is
   the legacy rowid, else into the table's stage; rows that fail go to
   `migration.quarantine`, and the checkpoint moves on, in one transaction per batch;
   only the batch's frame of rows is committed just before it, by its own connection
   (binary COPY), and a resumed run drops loaded rows beyond the checkpoint.
2. Finish: in one transaction, the key and reference rules pick the loaded rows that
   break them (in order, first reason wins) and those rows go to quarantine: deleted
   from the target table, or marked in the stage and the others copied into the target;
   then the table gets its NOT NULLs, keys, checks, indexes and foreign keys, and is
   marked finished.

Either phase can be killed at any moment: a batch is committed whole or not at all, and
the finish is one transaction, so a new run with the same arguments continues exactly.

While PostgreSQL finishes a table, the Python side would be idle; the next table of the
plan is staged meanwhile, in the background (`StagingAhead`): staging reads only the
source and writes only the table's own rows (its target table or its stage), so it
depends on no other table. It starts as soon as the table before it is read to its end,
while that table's last batch is still being committed, so reading never waits on a
commit at a table's boundary.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from psycopg import sql

from . import ddl, store
from .binary_copy import FrameCopier
from .context import MigrationContext, Progress
from .ddl import STAGE_REASON, STAGE_ROWID, stage_table
from .identifiers import quote_pg
from .source import SqliteSource
from .spec import ConvertedBatch, Loaded, Row, TableMigration

FINISH_WORK_MEM = "256MB"
PLANNER_STATISTICS_TARGET = 10
PROGRESS_POLL = 0.25
"""seconds between progress updates while waiting for a table staged ahead"""


def migrate_table(context: MigrationContext, table: TableMigration) -> None:
    """Stage and finish `table` for the current run, continuing from its checkpoint."""
    run_id = context.require_run()
    with context.staging_lock:
        ahead = context.staging_ahead.get(table.name)
    if ahead is not None:
        ahead.wait(context.progress)
    state = _progress(context, run_id, table.name)
    if not state.loaded:
        _stage(context, context.source, context.progress, run_id, table, state.last_rowid)
    _stage_next(context, run_id, table.name)
    if not state.finished:
        _finish(context, run_id, table)


def _stage_next(context: MigrationContext, run_id: int, name: str) -> None:
    """Start staging the table after `name` in the background, unless it was started already.

    Called once `name` is read to its end: from its reading thread, and again by its step
    (which finds it started, unless `name` was staged in an earlier run)."""
    upcoming = context.table_after(name)
    with context.staging_lock:
        if upcoming is None or upcoming.name in context.staging_ahead:
            return
        context.staging_ahead[upcoming.name] = StagingAhead(context, run_id, upcoming)


class StagingAhead:
    """A table staged in a background thread, with its own source connection.

    The table's own step waits for it, so an error is raised where it belongs, and the
    progress recorded meanwhile is shown then. Closing the context stops it between batches.
    """

    def __init__(self, context: MigrationContext, run_id: int, table: TableMigration) -> None:
        self.table = table.name
        self._stop = threading.Event()
        self._latest: tuple[str, int, int] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stage-{table.name}")
        self._staged = self._thread.submit(self._run, context, run_id, table)

    def _run(self, context: MigrationContext, run_id: int, table: TableMigration) -> None:
        state = _progress(context, run_id, table.name)
        if state.loaded:
            return
        # sqlite3 connections are not shared between threads that work at the same time.
        source = SqliteSource(context.source_url)
        try:
            _stage(context, source, self._record, run_id, table, state.last_rowid, self._stop)
        finally:
            source.close()

    def _record(self, table: str, done: int, total: int) -> None:
        self._latest = (table, done, total)

    def wait(self, progress: Progress) -> None:
        """Wait until the table is staged, showing its progress; raise what stopped it."""
        try:
            while True:
                try:
                    self._staged.result(timeout=PROGRESS_POLL)
                    break
                except TimeoutError:
                    if self._latest is not None:
                        progress(*self._latest)
            if self._latest is not None:
                progress(*self._latest)
        finally:
            self._thread.shutdown()

    def stop(self) -> None:
        """Stop after the batch being loaded (resuming continues from there) and wait."""
        self._stop.set()
        self._thread.shutdown()


def _progress_of(run_id: int, name: str) -> sa.ColumnElement[bool]:
    """The checkpoint row of table `name` in run `run_id`."""
    return (store.progress.c.run_id == run_id) & (store.progress.c.table_name == name)


def _progress(context: MigrationContext, run_id: int, name: str) -> Any:
    progress = store.progress
    with context.target.begin() as connection:
        key = _progress_of(run_id, name)
        state = connection.execute(sa.select(progress).where(key)).first()
        if state is None:
            connection.execute(sa.insert(progress).values(run_id=run_id, table_name=name))
            state = connection.execute(sa.select(progress).where(key)).one()
        return state


def _stage(
    context: MigrationContext,
    source: SqliteSource,
    progress: Progress,
    run_id: int,
    table: TableMigration,
    after_rowid: int | None,
    stop: threading.Event | None = None,
) -> None:
    """Load `table`'s source rows after `after_rowid` (None: all) into the target or its stage."""
    loaded = _loaded(table)
    with context.target.begin() as connection:
        # A run killed between a frame's commit and its checkpoint's left rows beyond it.
        beyond = sa.true() if after_rowid is None else loaded.rows.c[loaded.rowid] > after_rowid
        connection.execute(sa.delete(loaded.rows).where(beyond))
    total = source.count(table.name)
    done = 0 if after_rowid is None else source.count(table.name, up_to_rowid=after_rowid)
    progress(table.name, done, total)
    batches = source.batches(table.name, table.source_columns, after_rowid, context.config.batch_size)

    def read_and_convert() -> tuple[list[Row], ConvertedBatch] | None:
        batch = next(batches, None)
        if batch is None:
            if stop is None or not stop.is_set():
                _stage_next(context, run_id, table.name)
            return None
        return batch, table.convert(batch)

    # Two stages on two cores: while PostgreSQL ingests one batch, the next one is read and
    # converted in a worker thread (sqlite3, polars and the drivers release the GIL for
    # much of their work). Only the main thread commits, batch after batch, so
    # checkpoints stay in order. (A third thread reading SQLite ahead measured no faster:
    # the two cores are busy already.)
    with (
        FrameCopier(context.frame_target) as copier,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"convert-{table.name}") as worker,
    ):
        upcoming = worker.submit(read_and_convert)
        started = time.perf_counter()
        while (item := upcoming.result()) is not None:
            upcoming = worker.submit(read_and_convert)
            batch, converted = item
            _commit_batch(context, copier, run_id, table, batch, converted, started)
            started = time.perf_counter()
            done += len(batch)
            progress(table.name, done, total)
            if stop is not None and stop.is_set():
                return
    with context.target.begin() as connection:
        connection.execute(
            sa.update(store.progress)
            .where(_progress_of(run_id, table.name))
            .values(loaded=True)
        )


def _loaded(table: TableMigration) -> Loaded:
    """Where `table`'s rows wait for the set rules: the target itself, keyed by rowid, or its stage."""
    if table.rowid_column is not None:
        return Loaded(table.target, table.rowid_column, undecided=sa.true(), staged=False)
    stage = stage_table(table.target)
    return Loaded(stage, STAGE_ROWID, undecided=stage.c[STAGE_REASON].is_(None), staged=True)


def _commit_batch(
    context: MigrationContext,
    copier: FrameCopier,
    run_id: int,
    table: TableMigration,
    batch: list[Row],
    converted: ConvertedBatch,
    started: float,
) -> None:
    """Load a converted batch, quarantine its rejected rows and move the checkpoint."""
    loaded = _loaded(table)
    columns = [column.name for column in table.target.columns]
    frame, rows = converted.frame, converted.rows
    if loaded.staged:
        columns.insert(0, STAGE_ROWID)
    else:  # the rowid is the key's value already
        frame = None if frame is None else frame[:, 1:]
        rows = [row[1:] for row in rows]
    if frame is not None:
        copier.append(loaded.rows, columns, frame)
    with context.target.begin() as connection:
        cursor = _driver(connection).cursor()
        _copy(cursor, loaded.rows, columns, rows)
        _copy_quarantine(
            cursor,
            run_id,
            table,
            ((batch[index], reason) for index, reason in converted.rejected),
        )
        connection.execute(
            sa.update(store.progress)
            .where(_progress_of(run_id, table.name))
            .values(
                last_rowid=batch[-1][0],
                seconds=store.progress.c.seconds + (time.perf_counter() - started),
            )
        )


def _finish(context: MigrationContext, run_id: int, table: TableMigration) -> None:
    loaded = _loaded(table)
    rows, rowid = loaded.rows, loaded.rows.c[loaded.rowid]
    started = time.perf_counter()
    with context.target.begin() as connection:
        # The rules are joins over whole tables: give the planner statistics and room to
        # hash, or an anti-join falls back to a nested loop, quadratic in the table size.
        # Choosing a join needs table sizes, not fine histograms: a small sample is enough
        # (it makes ANALYZE about 8 times as fast at the default target's 30,000 rows).
        connection.execute(sa.text(f"SET LOCAL work_mem = '{FINISH_WORK_MEM}'"))
        connection.execute(sa.text(f"SET LOCAL default_statistics_target = {PLANNER_STATISTICS_TARGET}"))
        _analyze(connection, rows, key_only=not loaded.staged)
        reasons: dict[int, str] = {}
        for rule in table.set_rules:
            offending = loaded.undecided & rule.offends(loaded)
            decide = (
                sa.update(rows).where(offending).values({STAGE_REASON: rule.reason})
                if loaded.staged
                else sa.delete(rows).where(offending)
            )
            reasons.update((offender, rule.reason) for (offender,) in connection.execute(decide.returning(rowid)))
        source_rows = context.source.rows(table.name, table.source_columns, sorted(reasons))
        _copy_quarantine(_driver(connection).cursor(), run_id, table, ((row, reasons[row[0]]) for row in source_rows))
        if loaded.staged:
            columns = [column.name for column in table.target.columns]
            connection.execute(
                sa.insert(table.target).from_select(
                    columns,
                    sa.select(*(rows.c[name] for name in columns))
                    # Staged rows lie in source order already; sorting them again buys nothing.
                    .where(loaded.undecided),
                )
            )
            connection.execute(sa.text(f"TRUNCATE {quote_pg(rows.schema, rows.name)}"))
        # Built now rather than after the last table: the next table is being staged meanwhile.
        ddl.add_table_constraints(connection, table.target)
        # Children's reference rules join this table's key next: let the planner see its size.
        _analyze(connection, table.target, key_only=True)
        connection.execute(
            sa.update(store.progress)
            .where(_progress_of(run_id, table.name))
            .values(finished=True, seconds=store.progress.c.seconds + (time.perf_counter() - started))
        )


def _analyze(connection: sa.Connection, table: sa.Table, *, key_only: bool) -> None:
    """ANALYZE `table`, or only its key.

    Analyzing only the key gives the planner the table's size and leaves its modification
    count as it is, so autovacuum still gathers full statistics for the application later.
    """
    key = [quote_pg(column.name) for column in table.primary_key] if key_only else []
    listed = f" ({', '.join(key)})" if key else ""
    connection.execute(sa.text(f"ANALYZE {quote_pg(table.schema, table.name)}{listed}"))


def _copy_statement(table: sa.Table, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*(part for part in (table.schema, table.name) if part)),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )


def _copy(cursor: Any, table: sa.Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """COPY `rows` into `table`; values are sent as data, never spliced into SQL."""
    if not rows:
        return
    with cursor.copy(_copy_statement(table, columns)) as copy:
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
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no Infinity or NaN (jsonb refuses them); SQLite makes one of an
        # over-long number in an INTEGER column.
        return {"$real": repr(value)}
    if isinstance(value, str) and "\x00" in value:
        # jsonb refuses \u0000, so text holding NUL is kept as its UTF-8 bytes.
        return {"$base64": base64.b64encode(value.encode("utf-8")).decode("ascii")}
    return value


def _driver(connection: sa.Connection) -> Any:
    """Return the psycopg connection under a SQLAlchemy connection, for COPY."""
    return connection.connection.driver_connection
