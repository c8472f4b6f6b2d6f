"""`pytest-migration run`: the migration steps alone, no checks (cut-over night, benchmarks).

It resolves its settings with the same `config.resolve` as the plugin (flags > the
project's pytest ini > environment > default) and runs the same `MigrationSession`.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import SETTINGS, ConfigError, resolve
from .redact import redact
from .report.json_report import build_report, write_report
from .report.progress import ProgressMeter
from .report.terminal import account_lines, step_lines
from .session import MigrationSession
from .suite import load_suite

RUN_SETTINGS = ("source_url", "target_url", "migration_report", "timezone", "fresh", "batch_size", "suite",
                "fail_on_quarantine")


def build_parser() -> argparse.ArgumentParser:
    """Return the console script's parser, its options taken from `config.SETTINGS`."""
    parser = argparse.ArgumentParser(prog="pytest-migration", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the migration steps against --source-url and --target-url")
    for setting in SETTINGS:
        if setting.name not in RUN_SETTINGS:
            continue
        if setting.is_flag:
            run.add_argument(setting.flag, action="store_true", default=None, dest=setting.name, help=setting.help)
        else:
            run.add_argument(setting.flag, dest=setting.name, metavar=setting.metavar, help=setting.help)
    run.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return parser


def project_ini(directory: Path) -> dict[str, str]:
    """Read the pytest ini options of the project in `directory` (pytest.ini, pyproject.toml)."""
    pytest_ini = directory / "pytest.ini"
    if pytest_ini.is_file():
        parser = configparser.ConfigParser()
        parser.read(pytest_ini)
        return dict(parser["pytest"]) if parser.has_section("pytest") else {}
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        options = tomllib.loads(pyproject.read_text()).get("tool", {}).get("pytest", {}).get("ini_options", {})
        return {key: str(value) for key, value in options.items() if isinstance(value, str | int)}
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the exit code (0 migrated, 1 a step failed or accounts do not balance)."""
    arguments = build_parser().parse_args(argv)
    ini = project_ini(Path.cwd())
    # The suite is imported from the project, as pytest's `pythonpath = .` would.
    sys.path.insert(0, str(Path.cwd()))
    try:
        config = resolve({name: getattr(arguments, name, None) for name in RUN_SETTINGS}, ini.get)
        if not (config.source_url and config.target_url):
            raise ConfigError("give both --source-url and --target-url")
        if config.suite is None:
            raise ConfigError("no migration suite: pass --suite module:ATTR or set migration_suite in the ini")
        suite = load_suite(config.suite)
    except ConfigError as error:
        print(f"pytest-migration: error: {redact(str(error))}", file=sys.stderr)
        return 2
    session = MigrationSession(config, suite, progress=None if arguments.quiet else _print_progress(ProgressMeter()))
    try:
        results = session.run_all()
        accounts = session.accounts()
    finally:
        session.close()
    source, target = session.database_labels()
    if config.migration_report is not None:
        write_report(config.migration_report, build_report(
            source=source, target=target, accounts=accounts, steps=results, checks={}
        ))
    if not arguments.quiet:
        print("\n".join(step_lines(results)))
        print("\n".join(account_lines(accounts)))
    failed = [result for result in results if result.status != "passed"]
    for result in failed:
        print(f"pytest-migration: step {result.name} {result.status}: {result.error}", file=sys.stderr)
    unbalanced = [name for name, account in accounts.items() if not account.balances]
    if unbalanced:
        print(f"pytest-migration: accounting does not balance for {', '.join(unbalanced)}", file=sys.stderr)
    quarantined = config.fail_on_quarantine and any(account.quarantined_rows for account in accounts.values())
    return 1 if failed or unbalanced or quarantined else 0


def _print_progress(meter: ProgressMeter) -> Callable[[str, int, int], None]:
    """Print paced progress lines to stderr, where they do not mix with the results."""

    def show(table: str, done: int, total: int) -> None:
        line = meter.update(table, done, total)
        if line is not None:
            print(line, file=sys.stderr, flush=True)

    return show


if __name__ == "__main__":
    raise SystemExit(main())
