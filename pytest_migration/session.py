"""One session's databases, context and step runner, without pytest.

`MigrationSession` provisions what the configuration does not give (a generated legacy
source, a throwaway target), builds the step context and runner, and tears everything
down again. The pytest plugin and the console script both drive it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .config import ConfigError, MigrationConfig
from .engine.accounting import TableAccount, account_tables
from .engine.context import MigrationContext, Progress
from .engine.runs import latest_run_id
from .provision.base import Provider
from .provision.choose import choose_provider
from .redact import password_of, remember_secret
from .steps import StepResult, StepRunner
from .suite import MigrationSuite


class MigrationSession:
    """Provisioned databases, the context over them and the runner of the suite's steps."""

    def __init__(self, config: MigrationConfig, suite: MigrationSuite, progress: Progress | None = None) -> None:
        self.config = config
        self.suite = suite
        self.progress = progress
        self.provider: Provider | None = None
        self.provider_reason: str | None = None
        self.workdir: Path | None = None
        self.context: MigrationContext | None = None
        self.runner: StepRunner[MigrationContext] | None = None
        self.on_result: Callable[[StepResult], None] | None = None

    def open(self, source_url: str | None = None, target_url: str | None = None) -> MigrationContext:
        """Provision what is missing and return the context (idempotent)."""
        if self.context is not None:
            return self.context
        try:
            source_url = source_url or self.config.source_url or self._generate_source()
            target_url = target_url or self.config.target_url or self._start_target()
        except BaseException:
            self.close()
            raise
        remember_secret(password_of(target_url))
        self.context = MigrationContext(
            config=self.config,
            source_url=source_url,
            target_url=target_url,
            metadata=self.suite.metadata,
            tables=self.suite.tables(self.config.timezone),
        )
        if self.progress is not None:
            self.context.progress = self.progress
        if self.config.verify_only:
            self.context.run_id = latest_run_id(self.context.target)
            if self.context.run_id is None:
                raise ConfigError(
                    f"--verify-only: the target {self.context.target_label} holds no migration run "
                    "(no table migration.runs): migrate it first, or check the --target-url"
                )
        self.runner = StepRunner(self.suite.steps, self.context, on_result=self._record)
        return self.context

    def run_step(self, name: str) -> StepResult:
        """Run one step and its prerequisites (unless --verify-only), raising StepFailed."""
        self.open()
        assert self.runner is not None
        if self.config.verify_only:
            return StepResult(name, self.suite.steps.steps[name].phase, "passed", 0.0, detail="--verify-only")
        return self.runner.run(name)

    def run_all(self) -> list[StepResult]:
        """Run every step (a failure blocks only the steps that need it)."""
        self.open()
        assert self.runner is not None
        return [] if self.config.verify_only else self.runner.run_all()

    def accounts(self) -> dict[str, TableAccount]:
        """Account for every table of the current run (empty when no run is open)."""
        if self.context is None or self.context.run_id is None:
            return {}
        return account_tables(self.context, self.context.run_id)

    def database_labels(self) -> tuple[str, str]:
        """Return the source and target URLs with passwords masked."""
        if self.context is None:
            return ("", "")
        return self.context.source_label, self.context.target_label

    def close(self) -> None:
        """Close connections; stop and remove provisioned databases unless they are kept."""
        if self.context is not None:
            self.context.close()
        if self.config.keep_databases:
            # Providers stop their server at interpreter exit as a safety net; not this time.
            if self.provider is not None:
                atexit.unregister(self.provider.stop)
            return
        if self.provider is not None:
            self.provider.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _record(self, result: StepResult) -> None:
        if self.on_result is not None:
            self.on_result(result)

    def _generate_source(self) -> str:
        if self.suite.make_source is None:
            raise ConfigError(f"suite {self.suite.name!r} cannot generate a legacy source: give --source-url")
        self.workdir = Path(tempfile.mkdtemp(prefix="pytest-migration-"))
        return self.suite.make_source(self.workdir, self.config.dataset_rows, self.config.timezone)

    def _start_target(self) -> str:
        self.provider, self.provider_reason = choose_provider(
            self.config.db_backend, self.config.pg_bin_dir, keep=self.config.keep_databases
        )
        return self.provider.start()
