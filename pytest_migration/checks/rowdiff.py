"""Row-by-row comparison of two key-ordered streams, in constant memory.

Both sides arrive sorted by key, as (key, canonical text) pairs, so a merge finds
missing, extra and different rows in one pass whatever the table size; only counts and
a few sample keys are kept for the failure message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Key = tuple[Any, ...]


@dataclass
class RowDiff:
    """How two row streams differ: counts, and the first few offending rows."""

    compared: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    samples: list[str] = field(default_factory=list)
    sample_size: int = 5

    @property
    def ok(self) -> bool:
        """Whether both streams hold exactly the same rows."""
        return not (self.missing or self.extra or self.different)

    def summary(self, name: str) -> str:
        """A failure message: what differs, how often, and a few keys with both versions."""
        return (
            f"{name}: {self.missing} rows missing, {self.extra} rows not expected, {self.different} rows "
            f"different, out of {self.compared} compared; e.g.\n" + "\n".join(self.samples)
        )

    def _note(self, text: str) -> None:
        if len(self.samples) < self.sample_size:
            self.samples.append(text)


def compare_sorted(expected: Iterable[tuple[Key, str]], found: Iterable[tuple[Key, str]]) -> RowDiff:
    """Merge two streams sorted by key and count the rows that are missing, extra or different."""
    diff = RowDiff()
    wanted, got = iter(expected), iter(found)
    left, right = _next(wanted), _next(got)
    while left is not None or right is not None:
        diff.compared += 1
        if right is None or (left is not None and left[0] < right[0]):
            diff.missing += 1
            diff._note(f"  missing {left[0]}: expected {left[1]}")  # type: ignore[index]
            left = _next(wanted)
        elif left is None or right[0] < left[0]:
            diff.extra += 1
            diff._note(f"  not expected {right[0]}: found {right[1]}")
            right = _next(got)
        else:
            if left[1] != right[1]:
                diff.different += 1
                diff._note(f"  different {left[0]}:\n    expected {left[1]}\n    found    {right[1]}")
            left, right = _next(wanted), _next(got)
    return diff


def _next(rows: Iterator[tuple[Key, str]]) -> tuple[Key, str] | None:
    return next(rows, None)
