"""pytest11 entry point: options, ini keys, markers, and the session's hooks.

Logic lives in modules that do not import pytest (`config`, `session`, `steps`, `engine`,
`report`); this module declares options and routes pytest's hooks to one
`MigrationPlugin` kept in `config.stash`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import types
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from . import fixtures as _fixtures
from .config import SETTINGS, ConfigError, MigrationConfig, Setting, resolve
from .engine.accounting import TableAccount
from .report.json_report import build_report, write_report
from .report.progress import ProgressMeter
from .report.terminal import account_lines, step_lines
from .session import MigrationSession
from .steps import StepFailed, StepResult
from .suite import MigrationSuite, load_suite

MARKERS = {
    "migration": "needs a migrated database (added automatically; skipped without --migrate or --verify-only)",
    "preparation": "checks of the prepare phase: the source, the target schema",
    "integrity": "data integrity: accounting, row-by-row values, schema parity",
    "relationship": "foreign keys, cardinalities, compound keys, participants",
    "functional": "CRUD on the migrated target",
    "constraint": "each constraint rejects a violating write",
    "performance": "query response times and benchmarks",
    "stress": "concurrent access and load on the migrated target",
    "rollback": "backup, restore and rollback",
    "integration": "the application's use of the migrated data",
}
# Options for which a pytest flag would only duplicate the ini key.
INI_ONLY = {"timezone", "suite"}
SKIP_REASON = "needs a migrated database: run with --migrate (or --verify-only --source-url URL --target-url URL)"
WORKER_KEY = "pytest_migration"
PLUGIN_KEY = pytest.StashKey["MigrationPlugin"]()

def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare every setting of `config.SETTINGS` as a flag and an ini key."""
    group = parser.getgroup("migration", "database migration (pytest-migration)")
    for setting in SETTINGS:
        parser.addini(setting.ini_key, f"{setting.help} (also {setting.flag})" if setting.name not in INI_ONLY
                      else setting.help, default=None)
        if setting.name in INI_ONLY:
            continue
        if setting.is_flag:
            group.addoption(setting.flag, action="store_true", default=None, dest=f"migration_{setting.name}",
                            help=setting.help)
        else:
            group.addoption(setting.flag, default=None, dest=f"migration_{setting.name}", metavar=setting.metavar,
                            type=_argument_type(setting), help=setting.help)


def _argument_type(setting: Setting) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return setting.parse(text)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = setting.name
    return parse


def pytest_configure(config: pytest.Config) -> None:
    """Register markers, resolve the settings once, and install the session plugin."""
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    try:
        settings = resolve(
            {s.name: getattr(config.option, f"migration_{s.name}", None) for s in SETTINGS},
            lambda key: _ini(config, key),
        )
        suite = load_suite(settings.suite) if settings.suite else None
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None
    plugin = MigrationPlugin(config, settings, suite)
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "migration-session")
    config.pluginmanager.register(_fixtures, "migration-fixtures")
    if suite is not None:
        config.pluginmanager.register(_step_fixtures(suite), "migration-step-fixtures")


def _ini(config: pytest.Config, key: str) -> str | None:
    value = config.getini(key)
    return value if isinstance(value, str) and value else None


def _step_fixtures(suite: MigrationSuite) -> types.ModuleType:
    """Make one session fixture per step, named after it: asking for it runs the step.

    They are held by a module object because pytest reads a plugin's fixtures from its
    module (or class), not from an instance's attributes.
    """

    def make(name: str) -> Any:
        def step(migration_plugin: MigrationPlugin) -> StepResult:
            return migration_plugin.run_step(name)

        step.__doc__ = suite.steps.steps[name].doc or f"Run migration step {name} and its prerequisites."
        return pytest.fixture(scope="session", name=name)(step)

    holder = types.ModuleType(f"{__name__}.steps_of_{suite.name}")
    for name in suite.steps.steps:
        setattr(holder, f"step_{name}", make(name))
    return holder


class MigrationPlugin:
    """The run's state for pytest: settings, the migration session, outcomes of checks.

    Without xdist, steps run lazily when a test asks for them. Under xdist the controller
    collects no tests: it provisions and runs every step from `pytest_sessionstart`, then
    hands URLs, run id and step results to the workers, which only replay and check.
    """

    def __init__(self, config: pytest.Config, settings: MigrationConfig, suite: MigrationSuite | None) -> None:
        self.config = config
        self.settings = settings
        self.suite = suite
        self.session: MigrationSession | None = None
        self.outcomes: Counter[str] = Counter()
        self.accounts: dict[str, TableAccount] = {}
        self._counted: Future[dict[str, TableAccount]] | None = None
        """the accounts, counted while xdist workers check"""
        self._meter = ProgressMeter()
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)

    # -- the migration session ---------------------------------------------------------

    def migration_session(self) -> MigrationSession:
        """Return the migration session, opening databases on first use."""
        if not self.settings.active or self.suite is None:
            pytest.skip(SKIP_REASON)
        if self.session is None:
            self.session = MigrationSession(self.settings, self.suite, progress=self._progress)
            if self.workerinput is not None and WORKER_KEY in self.workerinput:
                handed = json.loads(self.workerinput[WORKER_KEY])
                context = self.session.open(handed["source_url"], handed["target_url"])
                context.run_id = handed["run_id"]
                assert self.session.runner is not None
                self.session.runner.replay(StepResult.from_dict(result) for result in handed["steps"])
            else:
                self.session.open()
        return self.session

    def run_step(self, name: str) -> StepResult:
        """Run a step for a test; a failure errors the test naming the step."""
        try:
            return self.migration_session().run_step(name)
        except StepFailed as failure:
            pytest.fail(str(failure), pytrace=False)

    def _progress(self, table: str, done: int, total: int) -> None:
        """Show per-table progress: a live line on a terminal, one line per table in logs."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or self.config.get_verbosity() < 0:
            return
        line = self._meter.update(table, done, total)
        if line is None:
            return
        live = reporter.isatty and not os.environ.get("CI")
        if not live and done < total:
            return
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        # Steps run inside fixture setup, whose output pytest captures: step outside it.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            if live:
                reporter.rewrite(line, erase=True)
                if done >= total:
                    reporter.write_line("")
            else:
                reporter.write_line(line)

    # -- hooks -------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if not self.settings.active:
            return []
        mode = "--verify-only" if self.settings.verify_only else "--migrate"
        lines = [f"migration: {mode}, suite {self.suite.name if self.suite else '?'}, "
                 f"time zone {self.settings.timezone}"]
        return lines

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.settings.active and self.workerinput is None and self.config.pluginmanager.has_plugin("dsession"):
            # The xdist controller runs no fixtures: migrate here, once, before workers start.
            migration = self.migration_session()
            migration.run_all()
            # The checks change nothing that is counted (their writes roll back): count now,
            # while the workers check, rather than after the last check.
            counting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="migration-accounts")
            self._counted = counting.submit(migration.accounts)
            counting.shutdown(wait=False)

    def pytest_configure_node(self, node: Any) -> None:
        if self.session is None or self.session.context is None or self.session.runner is None:
            return
        context = self.session.context
        node.workerinput[WORKER_KEY] = json.dumps({
            "source_url": context.source_url,
            "target_url": context.target_url,
            "run_id": context.run_id,
            "steps": [dict(r.to_dict(), detail=r.detail) for r in self.session.runner.results.values()],
        })

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        needs_database = {"migration_context", "migrated", "target_transaction",
                          *(self.suite.steps.steps if self.suite else ())}
        for item in items:
            if needs_database.intersection(getattr(item, "fixturenames", ())):
                item.add_marker(pytest.mark.migration)
                if not self.settings.active:
                    item.add_marker(pytest.mark.skip(reason=SKIP_REASON))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.settings.active:
            # Checks stream millions of rows, and Python's full collections would walk every
            # object of the loaded modules and collected tests again each time (0.7 s of one
            # worker's run on a million-row target). Those live as long as the session: freeze them.
            gc.freeze()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.failed and report.when != "call" else report.outcome
            self.outcomes[outcome] += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.workerinput is not None or self.session is None or self.session.runner is None:
            return
        accounts = self._counted.result() if self._counted is not None else self.session.accounts()
        if self.settings.migration_report is not None:
            source, target = self.session.database_labels()
            write_report(self.settings.migration_report, build_report(
                source=source,
                target=target,
                accounts=accounts,
                steps=list(self.session.runner.results.values()),
                checks=self.outcomes,
            ))
        self.accounts = accounts
        quarantined = sum(account.quarantined_rows for account in accounts.values())
        unbalanced = [name for name, account in accounts.items() if not account.balances]
        if unbalanced or (self.settings.fail_on_quarantine and quarantined):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.session is None or self.session.runner is None or self.workerinput is not None:
            return
        source, target = self.session.database_labels()
        terminalreporter.write_sep("-", "migration databases")
        terminalreporter.write_line(f"migration source: {source}")
        terminalreporter.write_line(f"migration target: {target}")
        if self.session.provider_reason:
            terminalreporter.write_line(f"migration databases: {self.session.provider_reason}")
        results = list(self.session.runner.results.values())
        if results:
            terminalreporter.write_sep("-", "migration steps")
            for line in step_lines(results):
                terminalreporter.write_line(line)
        accounts = self.accounts
        if accounts:
            terminalreporter.write_sep("-", "migration accounting (source = migrated + quarantined)")
            for line in account_lines(accounts):
                terminalreporter.write_line(line)
            unbalanced = [name for name, account in accounts.items() if not account.balances]
            if unbalanced:
                terminalreporter.write_line(f"FAILED: accounting does not balance for {', '.join(unbalanced)}",
                                            red=True)
            if self.settings.fail_on_quarantine and any(a.quarantined_rows for a in accounts.values()):
                terminalreporter.write_line("FAILED: rows were quarantined and --fail-on-quarantine is set",
                                            red=True)
        if self.settings.keep_databases:
            terminalreporter.write_line("kept databases: still running at the URLs above (passwords masked)")
            hint = getattr(self.session.provider, "connect_hint", None)
            if hint:
                terminalreporter.write_line(f"connect without the password: {hint}")
        if self.settings.migration_report is not None:
            terminalreporter.write_line(f"migration report: {self.settings.migration_report}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.session is not None and self.workerinput is None:
            self.session.close()
        elif self.session is not None and self.session.context is not None:
            self.session.context.close()
