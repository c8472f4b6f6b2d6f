"""What every step works with: the source, the target, the settings and the current run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import adbc_driver_manager
import sqlalchemy as sa

from ..config import MigrationConfig
from ..redact import redact
from .binary_copy import open_target
from .source import SqliteSource
from .spec import TableMigration

if TYPE_CHECKING:
    from .load import StagingAhead

Progress = Callable[[str, int, int], None]
"""Called as progress(table, rows done, rows in all) while a table loads."""


def _no_progress(table: str, done: int, total: int) -> None:
    """Show nothing."""


@dataclass
class MigrationContext:
    """The databases and settings of one session; connections open on first use."""

    config: MigrationConfig
    source_url: str
    target_url: str
    metadata: sa.MetaData
    tables: Sequence[TableMigration]
    progress: Progress = _no_progress
    run_id: int | None = None
    staging_ahead: dict[str, StagingAhead] = field(default_factory=dict)
    """every table staged in the background in this session, by name, in the order started"""
    staging_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """staging is started from the reading threads as well as from the steps"""
    _source: SqliteSource | None = field(default=None, repr=False)
    _target: sa.Engine | None = field(default=None, repr=False)
    _frame_target: adbc_driver_manager.AdbcDatabase | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        # Tracebacks print the arguments of each frame: a context must not show a password.
        return f"MigrationContext(source={self.source_label!r}, target={self.target_label!r}, run_id={self.run_id!r})"

    @property
    def source(self) -> SqliteSource:
        """The legacy source, opened read-only on first use."""
        if self._source is None:
            self._source = SqliteSource(self.source_url)
        return self._source

    @property
    def target(self) -> sa.Engine:
        """The target PostgreSQL engine, created on first use."""
        if self._target is None:
            self._target = sa.create_engine(self.target_url, pool_pre_ping=True)
        return self._target

    @property
    def frame_target(self) -> adbc_driver_manager.AdbcDatabase:
        """The target as ADBC opens it, for binary COPY of frames (engine.binary_copy)."""
        if self._frame_target is None:
            self._frame_target = open_target(self.target_url)
        return self._frame_target

    @property
    def source_label(self) -> str:
        """The source URL as it may be shown and recorded: password masked."""
        return redact(self.source_url)

    @property
    def target_label(self) -> str:
        """The target URL as it may be shown and recorded: password masked."""
        return redact(self.target_url)

    def table(self, name: str) -> TableMigration:
        """Return the migration of the legacy table `name`."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"no table {name!r} in this migration; known: {', '.join(t.name for t in self.tables)}")

    def table_after(self, name: str) -> TableMigration | None:
        """Return the table that comes after `name` in the migration's order, if any."""
        names = [table.name for table in self.tables]
        following = names.index(name) + 1
        return self.tables[following] if following < len(self.tables) else None

    def require_run(self) -> int:
        """Return the current run's id; steps that need one run after the run is opened."""
        if self.run_id is None:
            raise RuntimeError("no migration run is open: the step that opens the run must come first")
        return self.run_id

    def close(self) -> None:
        """Stop background work and close the connections."""
        stopped = 0
        while True:
            # A staging being stopped may have started the next one: stop until none is left.
            with self.staging_lock:
                pending = list(self.staging_ahead.values())[stopped:]
            if not pending:
                break
            for ahead in pending:
                ahead.stop()
            stopped += len(pending)
        if self._frame_target is not None:
            self._frame_target.close()
            self._frame_target = None
        if self._source is not None:
            self._source.close()
            self._source = None
        if self._target is not None:
            self._target.dispose()
            self._target = None

    def settings(self) -> dict[str, Any]:
        """The settings recorded with the run."""
        return self.config.recorded_settings()
