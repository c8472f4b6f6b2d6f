"""What a team writes to run its own migration on the plugin: one `MigrationSuite`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .config import ConfigError
from .engine.context import MigrationContext
from .engine.spec import TableMigration
from .steps import StepRegistry

SourceMaker = Callable[[Path, int, str], str]
"""make_source(directory, rows, timezone) -> URL of a generated legacy source."""


@dataclass(frozen=True)
class MigrationSuite:
    """A migration: its target schema, its tables, its steps and a way to make test data."""

    name: str
    metadata: sa.MetaData
    tables: Callable[[str], tuple[TableMigration, ...]]
    """The legacy tables' migrations, parents first, for an application time zone."""
    steps: StepRegistry[MigrationContext]
    make_source: SourceMaker | None = None


def load_suite(spec: str) -> MigrationSuite:
    """Import the suite named `module:attribute` (the ini key migration_suite)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"migration_suite = {spec!r}: write it as package.module:ATTRIBUTE")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"migration_suite = {spec!r}: cannot import {module_name!r} ({error}); "
            "run pytest from the project root or add its folder to the ini key pythonpath"
        ) from None
    suite = getattr(module, attribute, None)
    if not isinstance(suite, MigrationSuite):
        raise ConfigError(f"migration_suite = {spec!r}: {module_name}.{attribute} is not a MigrationSuite")
    return suite
