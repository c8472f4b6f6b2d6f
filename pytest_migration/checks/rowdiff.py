"""Row-by-row comparison of two key-ordered streams, in constant memory.

Both sides arrive sorted by key, as (key, row) pairs, the row in a canonical form that
compares with ==, so a merge finds missing, extra and different rows in one pass whatever
the table size; only counts and a few sample rows are kept for the failure message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

Key = tuple[Any, ...]
R = TypeVar("R")


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

    @property
    def sampling(self) -> bool:
        """Whether another offending row is kept as a sample."""
        return len(self.samples) < self.sample_size


def compare_sorted(
    expected: Iterable[tuple[Key, R]], found: Iterable[tuple[Key, R]], show: Callable[[R], str] = str
) -> RowDiff:
    """Merge two streams sorted by key and count the rows that are missing, extra or different.

    `show` writes a row for the failure message (rows may be compared in a form cheaper
    to build than to read, e.g. tuples of values shown as JSON).
    """
    diff = RowDiff()
    wanted, got = iter(expected), iter(found)
    left, right = next(wanted, None), next(got, None)
    while left is not None or right is not None:
        diff.compared += 1
        if left is not None and right is not None and left[0] == right[0]:  # the common case first
            if left[1] != right[1]:
                diff.different += 1
                if diff.sampling:
                    diff.samples.append(
                        f"  different {left[0]}:\n    expected {show(left[1])}\n    found    {show(right[1])}"
                    )
            left, right = next(wanted, None), next(got, None)
        elif right is None or (left is not None and left[0] < right[0]):
            diff.missing += 1
            if diff.sampling:
                diff.samples.append(f"  missing {left[0]}: expected {show(left[1])}")  # type: ignore[index]
            left = next(wanted, None)
        else:
            diff.extra += 1
            if diff.sampling:
                diff.samples.append(f"  not expected {right[0]}: found {show(right[1])}")
            right = next(got, None)
    return diff
