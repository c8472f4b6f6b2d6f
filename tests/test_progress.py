"""Progress lines are paced, and every table's end is shown."""

from __future__ import annotations

from pytest_migration.report.progress import ProgressMeter


def test_lines_are_paced_and_the_end_of_a_table_always_shows() -> None:
    now = [0.0]
    meter = ProgressMeter(interval=1.0, clock=lambda: now[0])
    assert meter.update("users", 0, 1000) == "users: 0/1,000 rows (0%, -)"
    now[0] = 0.5
    assert meter.update("users", 400, 1000) is None
    now[0] = 2.0
    assert meter.update("users", 800, 1000) == "users: 800/1,000 rows (80%, 400 rows/s)"
    now[0] = 2.1
    assert meter.update("users", 1000, 1000) == "users: 1,000/1,000 rows (100%, 476 rows/s)"


def test_a_resumed_table_counts_its_rate_from_where_it_resumed() -> None:
    now = [10.0]
    meter = ProgressMeter(clock=lambda: now[0])
    meter.update("tasks", 5000, 6000)
    now[0] = 12.0
    assert meter.update("tasks", 6000, 6000) == "tasks: 6,000/6,000 rows (100%, 500 rows/s)"
