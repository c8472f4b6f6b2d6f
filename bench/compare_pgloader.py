"""Time the field-service migration against pgloader on the same legacy file and server.

    python bench/compare_pgloader.py [--rows 1000000] [--small-rows 200000] [--runs 3]

Needs Debian's pgloader (`apt-get install pgloader`). Both tools load the same generated
legacy SQLite file into fresh databases of one throwaway PostgreSQL (same settings).
pgloader builds tables, indexes and resets sequences but applies none of the business
rules, and it drops whole batches on dirty values, so it is timed on a clean file of the
same shape as well; `pytest-migration run` applies every rule, quarantines, builds keys, checks,
indexes and foreign keys, and sets sequences. Printed: both wall times of each run (the
tools alternated) and the ratio of their medians, and the peak memory of the migration's
whole process tree at both sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.generate import generate  # noqa: E402
from pytest_migration.provision.local import LocalPostgres  # noqa: E402


def dataset(directory: Path, rows: int, dirty_share: float = 0.02) -> Path:
    """Generate (once) the legacy file of about `rows` rows, with the default dirt or none."""
    path = directory / (f"legacy-{rows}.db" if dirty_share else f"legacy-{rows}-clean.db")
    if not path.exists():
        started = time.perf_counter()
        generate(path, rows, dirty_share=dirty_share)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
    return path


def rows_in(url: str) -> int:
    """Count the rows of every table of the public schema."""
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as db:
        tables = [name for (name,) in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return sum(db.execute(f'SELECT count(*) FROM public."{name}"').fetchone()[0] for name in tables)


def settle(url: str) -> None:
    """Vacuum and analyze a database just loaded, so that autovacuum, which would soon do
    it, does not take the cores from the next tool timed."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


def new_database(server: LocalPostgres, name: str) -> str:
    """Create an empty database and return its URL (password included)."""
    url = make_url(server.url)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def tool_environment() -> dict[str, str]:
    """This environment with Python's bytecode cache on, for the tools timed.

    Some machines (these among them) set PYTHONDONTWRITEBYTECODE, so that every Python
    start compiles the project's modules anew and pytest rewrites every test module again:
    over a second of a suite run on three processes. An installed tool has its bytecode cached.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measured(command: list[str]) -> tuple[float, float]:
    """Run `command`; return its wall time (s) and the peak RSS of its process tree (MB)."""
    errors = tempfile.TemporaryFile()
    started = time.perf_counter()
    process = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors, env=tool_environment())
    peak = 0
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        errors.seek(0)
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {errors.read().decode()[-2000:]}")
    return seconds, peak / 2**20


def run_pgloader(source: Path, target: str) -> float:
    """Load with pgloader's SQLite defaults (create tables, indexes, reset sequences)."""
    url = make_url(target).set(drivername="postgresql")
    seconds, _ = measured(["pgloader", "--quiet", f"sqlite://{source}",
                           url.render_as_string(hide_password=False) + "?sslmode=disable"])
    settle(target)
    return seconds


def run_migration(source: Path, target: str) -> tuple[float, float]:
    """Run every step of the field-service migration with its console script."""
    result = measured([sys.executable, "-m", "pytest_migration.cli", "run", "-q",
                       "--source-url", f"sqlite:///{source}", "--target-url", target])
    settle(target)
    return result


def main() -> None:
    """Run both tools at both sizes and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each tool, alternated (default 3)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pytest-migration-bench")
    arguments = parser.parse_args()
    if shutil.which("pgloader") is None:
        raise SystemExit("pgloader is not installed: apt-get install pgloader")
    arguments.workdir.mkdir(parents=True, exist_ok=True)
    server = LocalPostgres()
    server.start()
    pgloader_times: list[float] = []
    migration_times: list[float] = []
    peak = 0.0
    try:
        small = run_migration(dataset(arguments.workdir, arguments.small_rows), new_database(server, "small"))
        big_source = dataset(arguments.workdir, arguments.rows)
        clean_source = dataset(arguments.workdir, arguments.rows, 0.0)
        # pgloader gives up whole batches on the dirt (invalid UTF-8, text in an integer
        # column), so it is timed on a clean file of the same shape, and shown on both.
        dirty_target = new_database(server, "pgloader_dirty")
        dirty_seconds = run_pgloader(big_source, dirty_target)
        dirty_moved = rows_in(dirty_target)
        # Alternated, so that a slow stretch of a shared machine falls on both tools alike.
        for run in range(1, arguments.runs + 1):
            pgloader_times.append(run_pgloader(clean_source, new_database(server, f"pgloader_clean_{run}")))
            seconds, run_peak = run_migration(big_source, new_database(server, f"migrated_{run}"))
            migration_times.append(seconds)
            peak = max(peak, run_peak)
            print(f"run {run}: pgloader {pgloader_times[-1]:6.2f} s, pytest-migration run {seconds:6.2f} s, "
                  f"ratio {seconds / pgloader_times[-1]:.2f}")
    finally:
        server.stop()
    pgloader_seconds, seconds = statistics.median(pgloader_times), statistics.median(migration_times)
    print(f"legacy rows               {arguments.rows:>12,}")
    print(f"pgloader, dirty file      {dirty_seconds:>12.2f} s  (moved {dirty_moved:,} rows; the rest lost)")
    print(f"pgloader, clean file      {pgloader_seconds:>12.2f} s  (median; same shape, no dirt; no business rules)")
    print(f"pytest-migration run      {seconds:>12.2f} s  (median; rules, quarantine, constraints, sequences)")
    print(f"ratio migration/pgloader  {seconds / pgloader_seconds:>12.2f}  (of the medians)")
    print(f"peak memory at {arguments.rows:,} rows  {peak:>8.0f} MB")
    print(f"peak memory at {arguments.small_rows:,} rows  {small[1]:>8.0f} MB  "
          f"(ratio {peak / small[1]:.2f}; migration took {small[0]:.2f} s)")


if __name__ == "__main__":
    main()
