"""What a run is given, checked before anything is generated, started or migrated.

A wrong source, an unreachable target or a missing Docker engine is one cause: it must be
said once, with the fix, before a dataset is generated or a server started, rather than
once per check after both. Both front ends call `check_inputs` first.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .config import ConfigError, MigrationConfig
from .engine import runs
from .engine.source import connect_read_only
from .provision.docker import docker_available
from .redact import redact
from .suite import MigrationSuite

CONNECT_TIMEOUT_SECONDS = 10
"""libpq waits for ever on a filtered port by default"""


def check_inputs(config: MigrationConfig, suite: MigrationSuite) -> None:
    """Raise ConfigError naming the first input the run cannot use, and how to fix it."""
    if config.source_url is not None:
        check_source(config.source_url, suite, config.timezone)
    elif suite.make_source is None:
        raise ConfigError(f"suite {suite.name!r} cannot generate a legacy source: give --source-url")
    if config.target_url is not None:
        check_target(config.target_url, verify_only=config.verify_only)
    else:
        check_backend(config)


def check_source(url: str, suite: MigrationSuite, timezone: str) -> None:
    """Check that the source is a readable SQLite file holding the suite's tables and columns."""
    path = make_url(url).database or ""
    try:
        connection = connect_read_only(path)
    except sqlite3.Error as error:
        raise ConfigError(f"--source-url: cannot open {path}: {error}; check the path and its permissions") from None
    try:
        try:
            found = {
                table: {column for (column,) in connection.execute("SELECT name FROM pragma_table_info(?)", (table,))}
                for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as error:
            raise ConfigError(
                f"--source-url: {path} is not a readable SQLite database ({error}); give the legacy SQLite file"
            ) from None
    finally:
        connection.close()
    for table in suite.tables(timezone):
        if table.name not in found:
            raise ConfigError(
                f"--source-url: {path} has no table {table.name!r} (it has: {', '.join(sorted(found)) or 'none'}); "
                f"give the legacy database of suite {suite.name!r}"
            )
        missing = [column for column in table.source_columns if column not in found[table.name]]
        if missing:
            raise ConfigError(
                f"--source-url: table {table.name!r} of {path} has no column {', '.join(map(repr, missing))}; "
                f"give the legacy database of suite {suite.name!r}"
            )


def check_target(url: str, *, verify_only: bool) -> None:
    """Check that the target answers, and holds a run to verify, or nothing foreign to overwrite.

    A target holding a run is fine to migrate: the run is resumed, or dropped with --fresh.
    """
    engine = sa.create_engine(
        url,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "pytest-migration preflight"},
        poolclass=sa.pool.NullPool,
    )
    try:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as error:
            cause = redact(str(error.orig or error)).strip().replace("\n", " ")
            raise ConfigError(
                f"--target-url {redact(url)}: cannot connect: {cause}. Check the host, port, user and password "
                "(PGPASSWORD and ~/.pgpass work too)"
            ) from None
        with connection:
            latest = runs.latest_run(connection)
            if verify_only and latest is None:
                raise ConfigError(
                    f"--verify-only: the target {redact(url)} holds no migration run (no table migration.runs): "
                    "migrate it first, or check the --target-url"
                )
            if not verify_only and latest is None:
                try:
                    runs.refuse_foreign_content(connection)
                except runs.TargetRefused as refused:
                    raise ConfigError(f"--target-url {redact(url)}: {refused}") from None
    finally:
        engine.dispose()


def check_backend(config: MigrationConfig) -> None:
    """Check that the backend asked for can provision a target here."""
    if config.db_backend == "docker":
        available, reason = docker_available()
        if not available:
            raise ConfigError(
                f"--db-backend docker: {reason}. Start a Docker engine (or set DOCKER_HOST), "
                "or run without Docker with --db-backend local"
            )
    if config.pg_bin_dir is not None:
        server = Path(config.pg_bin_dir) / "postgres"
        if not server.is_file():
            raise ConfigError(
                f"--pg-bin-dir {config.pg_bin_dir}: no PostgreSQL server binary at {server}; "
                "give the folder that holds postgres and initdb (e.g. /usr/lib/postgresql/15/bin)"
            )
