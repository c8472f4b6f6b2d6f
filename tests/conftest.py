"""A real PostgreSQL server shared by the plugin's tests, a fresh empty database per test, and a
table with a column of every kind the target's rows hold."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url

from pytest_migration.provision.local import LocalPostgres

_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """One throwaway local PostgreSQL for the whole test session."""
    server = LocalPostgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def new_database(postgres_server: LocalPostgres) -> Callable[[], str]:
    """Make new, empty databases on the shared server; each call returns one's URL."""
    url = make_url(postgres_server.url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def create() -> str:
        name = f"target_{next(_numbers)}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return url.set(database=name).render_as_string(hide_password=False)

    return create


@pytest.fixture
def empty_target_url(new_database: Callable[[], str]) -> str:
    """The URL (password included) of a new, empty database on the shared server."""
    return new_database()


@pytest.fixture
def table_of_every_kind() -> Callable[[str], sa.Table]:
    """Make tables keyed by `id`, with a column of each kind the target's rows hold (and
    frames load): text, timestamptz, date, numeric, boolean, bigint array, integer."""

    def make(name: str) -> sa.Table:
        return sa.Table(
            name,
            sa.MetaData(),
            sa.Column("id", sa.BigInteger, primary_key=True),
            sa.Column("label", sa.Text),
            sa.Column("at", sa.DateTime(timezone=True)),
            sa.Column("on_day", sa.Date),
            sa.Column("amount", sa.Numeric(12, 2)),
            sa.Column("done", sa.Boolean),
            sa.Column("ids", ARRAY(sa.BigInteger)),
            sa.Column("position", sa.Integer),
        )

    return make
