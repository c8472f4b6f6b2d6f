"""Which run a target holds: start one on an empty target, resume one, or refuse.

A target is never overwritten by surprise: a non-empty database that holds no earlier
run is refused; one that holds a run of another source, or of other settings, is refused
unless `--fresh` is given; a run of the same source and settings is resumed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from . import store
from .context import MigrationContext
from .ddl import drop_tables
from .identifiers import quote_pg

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class TargetRefused(RuntimeError):
    """The target holds data this run must not touch; the message says what to do."""


@dataclass(frozen=True)
class Run:
    """A run recorded in the target's `migration.runs`."""

    id: int
    resumed: bool
    finished: bool


def open_run(
    engine: sa.Engine,
    target_metadata: sa.MetaData,
    *,
    source: str,
    fingerprint: str,
    settings: dict[str, Any],
    fresh: bool,
) -> Run:
    """Start a run on an empty target, or resume the target's run of the same source."""
    with engine.begin() as connection:
        latest = latest_run(connection)
        if latest is None:
            refuse_foreign_content(connection)
        elif fresh:
            drop_tables(connection, target_metadata)
            connection.execute(sa.text(f"DROP SCHEMA {quote_pg(store.SCHEMA)} CASCADE"))
            latest = None
        elif latest.source_fingerprint != fingerprint or latest.settings != settings:
            raise TargetRefused(
                f"the target holds run {latest.id} of another source or with other settings "
                f"(source {latest.source}, settings {json.dumps(latest.settings)}); "
                "pass --fresh to drop it and start over, or point --target-url at an empty database"
            )
        else:
            return Run(latest.id, resumed=True, finished=latest.finished_at is not None)
        connection.execute(sa.schema.CreateSchema(store.SCHEMA, if_not_exists=True))
        store.metadata.create_all(connection)
        run_id = connection.execute(
            sa.insert(store.runs)
            .values(source=source, source_fingerprint=fingerprint, settings=settings)
            .returning(store.runs.c.id)
        ).scalar_one()
        return Run(run_id, resumed=False, finished=False)


def finish_run(engine: sa.Engine, run_id: int) -> None:
    """Record that every step of the run passed."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(store.runs).where(store.runs.c.id == run_id).values(finished_at=sa.func.now())
        )


def run_once(context: MigrationContext, step: str, work: Callable[[sa.Connection], None]) -> bool:
    """Do `work` in one transaction with the record that it is done; skip it if done already.

    Returns whether the work ran. A step built this way is all or nothing, so a resumed
    run neither repeats it nor finds it half done.
    """
    run_id = context.require_run()
    done = store.completed_steps
    started = time.perf_counter()
    with context.target.begin() as connection:
        already = connection.execute(
            sa.select(done.c.step).where((done.c.run_id == run_id) & (done.c.step == step))
        ).first()
        if already is not None:
            return False
        work(connection)
        connection.execute(
            sa.insert(done).values(run_id=run_id, step=step, seconds=time.perf_counter() - started)
        )
    return True


def latest_run_id(engine: sa.Engine) -> int | None:
    """Return the id of the newest run the target holds, if any (for --verify-only)."""
    with engine.connect() as connection:
        latest = latest_run(connection)
    return None if latest is None else latest.id


def latest_run(connection: sa.Connection) -> Any:
    """Return the newest run the target records, or None when it records none."""
    if not sa.inspect(connection).has_table(store.runs.name, schema=store.SCHEMA):
        return None
    return connection.execute(sa.select(store.runs).order_by(store.runs.c.id.desc()).limit(1)).first()


def refuse_foreign_content(connection: sa.Connection) -> None:
    """Raise TargetRefused if the target holds relations that no run of ours made."""
    relations = connection.execute(
        sa.text(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> ALL(:system) "
            "AND n.nspname NOT LIKE 'pg_temp%' ORDER BY 1 LIMIT 6"
        ),
        {"system": list(SYSTEM_SCHEMAS)},
    ).scalars().all()
    if relations:
        shown = ", ".join(relations[:5]) + (", ..." if len(relations) > 5 else "")
        raise TargetRefused(
            f"the target database is not empty ({shown}) and holds no earlier migration run, "
            "so it is not overwritten: point --target-url at an empty database"
        )
