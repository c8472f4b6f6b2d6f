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
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from . import fixtures as _fixtures
from .config import SETTINGS, ConfigError, MigrationConfig, Setting, resolve
from .preflight import check_inputs
from .redact import RedactingStream, redact, redact_fields, redact_log_records
from .engine.accounting import TableAccount, account_failures
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
PATH_METAVARS = {"PATH", "DIR"}
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


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Under xdist, turn pytest-benchmark off quietly, before it warns that it turns itself off.

    Its warning is an error under `filterwarnings = error`; benchmarks run in a run of their
    own without xdist, and under xdist benchmark tests still run once, as plain tests.
    """
    xdist_active = config.getoption("dist", "no") != "no" or "PYTEST_XDIST_WORKER" in os.environ
    if xdist_active and hasattr(config.option, "benchmark_disable"):
        config.option.benchmark_disable = True


@pytest.hookimpl(trylast=True)  # after the terminal reporter exists, so that its output can be masked
def pytest_configure(config: pytest.Config) -> None:
    """Register markers, resolve and check the settings once, and install the session plugin."""
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    worker = hasattr(config, "workerinput")
    try:
        _refuse_path_taken_for_test_path(config)
        settings = resolve(
            {s.name: getattr(config.option, f"migration_{s.name}", None) for s in SETTINGS},
            lambda key: _ini(config, key),
        )
        suite = load_suite(settings.suite) if settings.suite else None
        if settings.active and suite is not None and not worker and not config.option.help:
            check_inputs(settings, suite)
    except ConfigError as error:
        raise pytest.UsageError(redact(str(error))) from None
    if settings.active:
        _mask_secrets_in_output(config)
    plugin = MigrationPlugin(config, settings, suite)
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "migration-session")
    config.pluginmanager.register(_fixtures, "migration-fixtures")
    if suite is not None:
        config.pluginmanager.register(_step_fixtures(suite), "migration-step-fixtures")


def _refuse_path_taken_for_test_path(config: pytest.Config) -> None:
    """Fail when pytest took a path option's value for a test path and so missed the ini file.

    pytest settles its root directory and reads its ini file before plugins' options are
    known: in `--migration-report /elsewhere/r.json`, an existing `/elsewhere/r.json` counts
    as a test path and moves the root directory away from the project. The `=` form is safe.
    """
    arguments = list(config.invocation_params.args)
    invocation_dir = config.invocation_params.dir
    for setting in SETTINGS:
        if setting.metavar not in PATH_METAVARS or setting.flag not in arguments[:-1]:
            continue
        value = arguments[arguments.index(setting.flag) + 1]
        path = (invocation_dir / value).resolve()
        if path.exists() and not path.is_relative_to(invocation_dir.resolve()):
            raise ConfigError(
                f"{setting.flag} {value}: pytest takes an existing path outside the current folder for a "
                f"test path before this option is known, and then misses the project's ini file; "
                f"write {setting.flag}={value}"
            )


def _mask_secrets_in_output(config: pytest.Config) -> None:
    """Mask secrets in all the terminal shows and in every log record, for the whole session.

    Reports are masked when they are made (`pytest_runtest_makereport`); this catches what
    pytest prints without a report: internal errors, warnings, live logs, hook output.
    pytest has no public way to filter its terminal, hence its writer's private stream.
    """
    writer = config.get_terminal_writer()
    writer._file = RedactingStream(writer._file)  # type: ignore[assignment]
    config.add_cleanup(redact_log_records())


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


ReportT = TypeVar("ReportT", pytest.TestReport, pytest.CollectReport)


def _masked(report: ReportT) -> ReportT:
    """Mask every string of a report: its traceback, locals, captured output and sections."""
    report.longrepr = redact_fields(report.longrepr)
    report.sections = redact_fields(report.sections)
    return report


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
        self.skip_reasons: Counter[str] = Counter()
        """why migration checks were skipped, with how many, for the session's last lines"""
        self.accounts: dict[str, TableAccount] = {}
        self._counted: Future[dict[str, TableAccount]] | None = None
        """the accounts, counted while xdist workers check"""
        self._meter = ProgressMeter()
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)

    # -- the migration session ---------------------------------------------------------

    def migration_session(self) -> MigrationSession:
        """Return the migration session, opening databases on first use.

        A session that cannot open has one cause (a server that does not start, a target
        that refuses the run): it ends the pytest session once, rather than erroring each test.
        """
        if not self.settings.active or self.suite is None:
            pytest.skip(SKIP_REASON)
        if self.session is None:
            session = MigrationSession(self.settings, self.suite, progress=self._progress)
            try:
                if self.workerinput is not None and WORKER_KEY in self.workerinput:
                    handed = json.loads(self.workerinput[WORKER_KEY])
                    context = session.open(handed["source_url"], handed["target_url"])
                    context.run_id = handed["run_id"]
                    assert session.runner is not None
                    session.runner.replay(StepResult.from_dict(result) for result in handed["steps"])
                else:
                    session.open()
            except Exception as error:  # noqa: BLE001 - any cause ends the session, said once
                session.close()
                usage = isinstance(error, ConfigError)
                cause = str(error) if usage else f"{type(error).__name__}: {error}"
                pytest.exit(f"pytest-migration: {redact(cause)}",
                            returncode=pytest.ExitCode.USAGE_ERROR if usage else pytest.ExitCode.TESTS_FAILED)
            self.session = session
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

    @pytest.hookimpl(optionalhook=True)  # xdist's hook: `-p no:xdist` must still load this plugin
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

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Mask secrets in each report before anyone renders it (terminal, junitxml, xdist)."""
        return _masked((yield))

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        return _masked((yield))

    @pytest.hookimpl(tryfirst=True)
    def pytest_internalerror(self, excrepr: Any) -> None:
        redact_fields(excrepr)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if "migration" not in report.keywords:  # the report counts the migration's checks only
            return
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.failed and report.when != "call" else report.outcome
            self.outcomes[outcome] += 1
            if report.skipped and isinstance(report.longrepr, tuple):
                self.skip_reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.workerinput is not None or self.session is None or self.session.runner is None:
            return
        accounts = self._counted.result() if self._counted is not None else self.session.accounts()
        verdicts = account_failures(accounts, fail_on_quarantine=self.settings.fail_on_quarantine)
        skipped = sum(self.skip_reasons.values())
        if self.settings.fail_on_skip and skipped:
            verdicts["skipped"] = f"{skipped} migration checks were skipped and --fail-on-skip is set"
        for name, message in verdicts.items():
            # A verdict is reported as a failed check, so that pytest's own last line is red.
            self.config.hook.pytest_runtest_logreport(report=pytest.TestReport(
                nodeid=f"pytest-migration::{name}", location=("pytest-migration", None, name),
                keywords={"migration": 1}, outcome="failed", longrepr=message, when="call",
            ))
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
        if verdicts:
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
        if self.skip_reasons:
            terminalreporter.write_sep("-", "migration checks skipped")
            for reason, count in self.skip_reasons.most_common():
                terminalreporter.write_line(f"{count} migration checks skipped: {reason}", yellow=True)
            if not self.settings.fail_on_skip:
                terminalreporter.write_line("(--fail-on-skip makes skipped migration checks fail the session)")
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
