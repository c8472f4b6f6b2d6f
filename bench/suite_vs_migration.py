"""Time the whole check suite against the migration it checks, on the same legacy file.

    python bench/suite_vs_migration.py [--rows 1000000] [--runs 3]

Each run migrates the generated legacy file into a fresh database of one throwaway
PostgreSQL with `pytest-migration run`, then runs every check of `migration_suite` on
that target as a team would after a migration done elsewhere (`pytest --verify-only
--allow-writes -n 2`, the sidecar of expectations included). Printed per run: both wall
times and their ratio; then the median ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare_pgloader import dataset, new_database, settle, tool_environment  # noqa: E402
from pytest_migration.provision.local import LocalPostgres  # noqa: E402


def timed(command: list[str]) -> float:
    """Run `command` from the project root; return its wall time, or stop with its output."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=tool_environment())
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    """Migrate and check `--runs` times, printing the times and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pytest-migration-bench")
    arguments = parser.parse_args()
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    source = f"sqlite:///{dataset(arguments.workdir, arguments.rows)}"
    server = LocalPostgres()
    server.start()
    ratios = []
    try:
        for run in range(1, arguments.runs + 1):
            target = new_database(server, f"checked_{run}")
            migration = timed([sys.executable, "-m", "pytest_migration.cli", "run", "-q",
                               "--source-url", source, "--target-url", target])
            settle(target)
            suite = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--verify-only",
                           "--allow-writes", "-n", "2", "--source-url", source, "--target-url", target,
                           "migration_suite"])
            ratios.append(suite / migration)
            print(f"run {run}: migration {migration:6.2f} s, whole suite {suite:6.2f} s, ratio {suite / migration:.2f}")
    finally:
        server.stop()
    print(f"median ratio suite/migration: {statistics.median(ratios):.2f} ({arguments.rows:,} legacy rows)")


if __name__ == "__main__":
    main()
