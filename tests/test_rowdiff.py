"""The streaming row comparison finds every kind of difference, and none where there is none."""

from __future__ import annotations

from pytest_migration.checks.rowdiff import compare_sorted


def rows(*pairs: tuple[int, str]) -> list[tuple[tuple[int], str]]:
    return [((key,), text) for key, text in pairs]


def test_identical_streams_agree() -> None:
    diff = compare_sorted(rows((1, "a"), (2, "b")), rows((1, "a"), (2, "b")))
    assert diff.ok and diff.compared == 2


def test_missing_extra_and_different_rows_are_counted_with_samples() -> None:
    diff = compare_sorted(rows((1, "a"), (2, "b"), (4, "d")), rows((1, "a"), (2, "B"), (3, "c")))
    assert (diff.missing, diff.extra, diff.different) == (1, 1, 1)
    assert not diff.ok
    message = diff.summary("users")
    assert "(4,)" in message and "(3,)" in message and "expected b" in message and "found    B" in message


def test_samples_are_bounded() -> None:
    diff = compare_sorted(rows(*((i, "x") for i in range(100))), [])
    assert diff.missing == 100 and len(diff.samples) == 5


def test_rows_compared_as_values_are_shown_as_the_caller_writes_them() -> None:
    shown: list[tuple[str, int]] = []

    def show(row: tuple[str, int]) -> str:
        shown.append(row)
        return f"{row[0]}={row[1]}"

    expected = [((key,), ("n", key)) for key in range(20)]
    found = [((key,), ("n", key if key % 2 else -key)) for key in range(1, 20)]
    diff = compare_sorted(expected, found, show=show)
    assert (diff.missing, diff.different) == (1, 9)
    assert "expected n=2\n    found    n=-2" in diff.summary("tasks")
    assert len(shown) == 1 + 2 * 4  # only the five sampled rows are written, not all ten
