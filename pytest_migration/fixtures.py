"""Thin fixtures over the migration session: settings, context, steps, the migrated target.

Each step of the suite is also a session fixture named after the step (made by the
plugin): a test that asks for `migrate_users` runs exactly that step's prerequisites
and the step, once, and errors naming the step if it failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from .config import MigrationConfig
from .engine.context import MigrationContext
from .steps import StepFailed

if TYPE_CHECKING:
    from .plugin import MigrationPlugin


@pytest.fixture(scope="session")
def migration_plugin(pytestconfig: pytest.Config) -> MigrationPlugin:
    """The plugin object that holds this run's state."""
    from .plugin import PLUGIN_KEY

    return pytestconfig.stash[PLUGIN_KEY]


@pytest.fixture(scope="session")
def migration_config(migration_plugin: MigrationPlugin) -> MigrationConfig:
    """The resolved settings of this run."""
    return migration_plugin.settings


@pytest.fixture(scope="session")
def migration_context(migration_plugin: MigrationPlugin) -> MigrationContext:
    """The source, the target and the settings, with databases provisioned (no step run)."""
    context = migration_plugin.migration_session().context
    assert context is not None
    return context


@pytest.fixture(scope="session")
def migrated(migration_plugin: MigrationPlugin, migration_context: MigrationContext) -> MigrationContext:
    """The context after every step of the migration passed."""
    for result in migration_plugin.migration_session().run_all():
        if result.status != "passed":
            pytest.fail(str(StepFailed(result)), pytrace=False)
    return migration_context


WRITES_REFUSED = (
    "this check writes to the target, which was given by URL and is read-only for the checks: "
    "pass --allow-writes to let it write in a transaction that is rolled back"
)


@pytest.fixture
def target_transaction(migration_config: MigrationConfig, migrated: MigrationContext) -> Iterator[sa.Connection]:
    """A connection inside a transaction that is always rolled back, for checks that write.

    Provisioned targets allow writes; a target given by URL only with --allow-writes. A
    lock timeout turns a write that waits on another worker's into a clear failure.
    """
    if migration_config.target_url is not None and not migration_config.allow_writes:
        pytest.skip(WRITES_REFUSED)
    with migrated.target.connect() as connection:
        transaction = connection.begin()
        connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        try:
            yield connection
        finally:
            transaction.rollback()
