"""Per-table progress lines (rows done, rows per second), paced for a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ProgressMeter:
    """Turns (table, rows done, rows in all) updates into lines, at most one per `interval`.

    A table's last update (done == total) always gives a line, so a log shows every table
    once even when intermediate lines are dropped.
    """

    interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _started: dict[str, tuple[float, int]] = field(default_factory=dict)
    _shown: float = float("-inf")

    def update(self, table: str, done: int, total: int) -> str | None:
        """Return the line to show for this update, or None when it is too soon."""
        now = self.clock()
        started, first = self._started.setdefault(table, (now, done))
        finished = done >= total
        if not finished and now - self._shown < self.interval:
            return None
        self._shown = now
        elapsed = now - started
        rate = f"{(done - first) / elapsed:,.0f} rows/s" if elapsed > 0 else "-"
        percent = 100 * done / total if total else 100.0
        return f"{table}: {done:,}/{total:,} rows ({percent:.0f}%, {rate})"
