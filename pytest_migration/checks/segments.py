"""Segment digests: compare two copies of a table a key range at a time, as data-diff does.

Each copy writes its rows in one canonical text. Rows fall into segments of `SIZE`
consecutive values of their first key column, and a segment's digest is the MD5 of its
rows' texts joined by newlines in key order, which PostgreSQL computes as
`md5(string_agg(text, E'\\n' ORDER BY key))`. Equal digests vouch for a whole segment; only
the segments whose digests differ, or that one copy lacks, need comparing row by row, so
the rows of a correct table never cross into Python on the side that PostgreSQL digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from itertools import groupby

from .rowdiff import Key

SIZE = 10_000
"""Key values per segment."""


def segment_of(first_key: int) -> int:
    """The number of the segment holding a row whose first key column is `first_key`."""
    return first_key // SIZE


def bounds(segment: int) -> tuple[int, int]:
    """The first key values of a segment: from the first (included) to the second (excluded)."""
    return segment * SIZE, (segment + 1) * SIZE


def digest(texts: Iterable[str]) -> str:
    """A segment's digest: the hexadecimal MD5 of its rows' texts joined by newlines.

    MD5 here fingerprints data for comparison, as PostgreSQL's md5() does, not for security.
    """
    return hashlib.md5("\n".join(texts).encode(), usedforsecurity=False).hexdigest()


def digests(rows: Iterable[tuple[Key, str]]) -> dict[int, str]:
    """Each segment's digest, from (key, text) rows given in key order."""
    return {
        segment: digest(text for _, text in group)
        for segment, group in groupby(rows, key=lambda row: segment_of(row[0][0]))
    }


def differing(expected: Mapping[int, str], found: Mapping[int, str]) -> list[int]:
    """The segments, in order, whose digests differ or that only one copy has."""
    return sorted(segment for segment in expected.keys() | found.keys() if expected.get(segment) != found.get(segment))
