"""The field-service migration: legacy SQLite -> PostgreSQL, run and verified with pytest."""

from __future__ import annotations

from pathlib import Path

from pytest_migration.suite import MigrationSuite

from .rules import table_migrations
from .schema import metadata
from .steps import registry


def make_source(directory: Path, rows: int, timezone: str) -> str:
    """Generate a legacy database of about `rows` rows and return its URL."""
    from fixtures.generate import generate

    dataset = generate(directory / "legacy.db", rows, timezone=timezone)
    return f"sqlite:///{dataset.path}"


SUITE = MigrationSuite(
    name="field-service",
    metadata=metadata,
    tables=table_migrations,
    steps=registry,
    make_source=make_source,
)
