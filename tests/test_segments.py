"""Segment digests: which segment a key falls in, what a digest is, and which segments differ."""

from __future__ import annotations

from pytest_migration.checks.segments import bounds, differing, digest, digests, segment_of

# `printf 'a\nb' | md5sum`
MD5_A_NEWLINE_B = "8cdeb44417f3c26826595d5820cf5700"


def test_segments_hold_consecutive_key_values_floored() -> None:
    assert [segment_of(key) for key in (0, 9_999, 10_000, -1, -10_000, -10_001)] == [0, 0, 1, -1, -1, -2]
    assert bounds(0) == (0, 10_000)
    assert bounds(-1) == (-10_000, 0)


def test_a_digest_is_the_md5_of_the_texts_joined_by_newlines() -> None:
    assert digest(["a", "b"]) == MD5_A_NEWLINE_B
    assert digest(["a\nb"]) == MD5_A_NEWLINE_B  # the texts never hold a newline: JSON escapes it
    assert digest(["ab"]) != MD5_A_NEWLINE_B


def test_rows_in_key_order_are_digested_per_segment() -> None:
    rows = [((-1,), "z"), ((1, 7), "a"), ((2, 1), "b"), ((10_000, 0), "c")]
    assert digests(rows) == {-1: digest(["z"]), 0: MD5_A_NEWLINE_B, 1: digest(["c"])}


def test_differing_segments_include_those_only_one_side_has() -> None:
    expected = {0: "x", 1: "y", 3: "v"}
    found = {0: "x", 1: "z", 2: "w"}
    assert differing(expected, found) == [1, 2, 3]
    assert differing(expected, dict(expected)) == []
