"""Fixtures of the field-service checks: connections and the generator's expectations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pytest_migration.engine.context import MigrationContext
from pytest_migration.engine.source import connect_read_only


@pytest.fixture(scope="session")
def target(migrated: MigrationContext) -> Iterator[sa.Connection]:
    """A read-only connection to the migrated target."""
    with migrated.target.connect() as connection:
        yield connection


@pytest.fixture(scope="session")
def source(migrated: MigrationContext) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the legacy source, independent of the migration's reader."""
    connection = connect_read_only(make_url(migrated.source_url).database or "", bytes)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def expected(migrated: MigrationContext) -> Iterator[sqlite3.Connection]:
    """The expected outcome of every source row, written by the generator from its factories."""
    path = Path(make_url(migrated.source_url).database or "").with_suffix(".expected.sqlite")
    if not path.is_file():
        pytest.skip(f"the source has no expected outcomes beside it ({path.name}): it was not generated here")
    connection = connect_read_only(path)
    if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'expected_segment'").fetchone() is None:
        connection.close()
        pytest.fail(
            f"{path.name} predates the expected rows' segment digests: generate the source again "
            f"(python -m fixtures.generate {make_url(migrated.source_url).database} --rows N)"
        )
    yield connection
    connection.close()
