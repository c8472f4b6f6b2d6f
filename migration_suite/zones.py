"""A time zone's UTC offsets as polars lookups, taken from Python's zoneinfo.

The rules resolve wall-clock times as zoneinfo does with ``fold=0`` (DESIGN.md: value rules
are Python's), and PostgreSQL or polars' own zone database may disagree on ambiguous
times or on tzdata versions. So the offsets come from zoneinfo itself: the zone's
transitions are found once by asking zoneinfo for the offset of every UTC day, and a
column of instants or of wall-clock times then finds its offsets with one sorted search.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import polars as pl

__all__ = ["MICROSECONDS_PER_DAY", "ZoneOffsets", "zone_offsets"]

MICROSECONDS_PER_SECOND = 1_000_000
MICROSECONDS_PER_DAY = 86_400 * MICROSECONDS_PER_SECOND
# The readers accept instants of 1900-2100 written up to a day away (e.g. 1899-12-31
# 23:30-01:00); a year of margin either side covers every offset they can ask for.
_FIRST_SCANNED = datetime(1898, 1, 1, tzinfo=UTC)
_LAST_SCANNED = datetime(2103, 1, 1, tzinfo=UTC)
_DAY = 86_400


def _offset_at(zone: ZoneInfo, second: int) -> timedelta:
    """Return the zone's UTC offset at a UTC instant given in seconds since the epoch."""
    offset = datetime.fromtimestamp(second, zone).utcoffset()
    assert offset is not None, "a ZoneInfo always has an offset"
    return offset


def _transitions(zone: ZoneInfo, start: int, end: int) -> list[int]:
    """Return the seconds at which the zone's offset changes in (start, end], by bisection.

    Only changes visible at the ends are found, so `end - start` must be at most a day:
    no zone in tzdata changes its offset and back within a day between 1898 and 2103,
    the same assumption as the per-day offset cache of readers.py.
    """
    before, after = _offset_at(zone, start), _offset_at(zone, end)
    if before == after:
        return []
    low, high = start, end  # offset(low) == before, offset(high) != before
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(zone, middle) == before:
            low = middle
        else:
            high = middle
    # Another change may follow in the same interval (a -> b -> c).
    return [high, *_transitions(zone, high, end)]


@dataclass(frozen=True)
class ZoneOffsets:
    """A zone's offsets between 1898 and 2103 as sorted lookup tables, in microseconds.

    `offsets[i]` holds from `utc_starts[i - 1]` (UTC) up to `utc_starts[i]`. In wall-clock
    time, the same offset holds from `wall_starts[i - 1]`, where `wall_starts[i]` is the
    transition plus the larger of the offsets either side: local times of a gap or of a
    fold before it keep the earlier offset, which is zoneinfo's ``fold=0``.
    """

    utc_starts: pl.Series
    wall_starts: pl.Series
    offsets: pl.Series

    def of_instant(self, utc: pl.Expr) -> pl.Expr:
        """Return the offset in effect at each UTC instant (microseconds since the epoch)."""
        return pl.lit(self.offsets).gather(pl.lit(self.utc_starts).search_sorted(utc, side="right"))

    def of_wall_clock(self, local: pl.Expr) -> pl.Expr:
        """Return the fold=0 offset of each wall-clock time (local microseconds since the epoch)."""
        return pl.lit(self.offsets).gather(pl.lit(self.wall_starts).search_sorted(local, side="right"))


@cache
def zone_offsets(zone: ZoneInfo) -> ZoneOffsets:
    """Build the lookup tables of `zone` once per process (about 0.1 s: one zoneinfo call a day)."""
    first, last = int(_FIRST_SCANNED.timestamp()), int(_LAST_SCANNED.timestamp())
    # One zoneinfo call a day, each day's end being the next one's start; only the few days
    # whose ends differ are searched.
    ends = [_offset_at(zone, second) for second in range(first, last + _DAY, _DAY)]
    changes = [
        second
        for index, day in enumerate(range(first, last, _DAY))
        if ends[index] != ends[index + 1]
        for second in _transitions(zone, day, day + _DAY)
    ]
    offsets = [ends[0], *(_offset_at(zone, second) for second in changes)]
    micro = [int(offset / timedelta(microseconds=1)) for offset in offsets]
    wall = [
        second * MICROSECONDS_PER_SECOND + max(micro[index], micro[index + 1])
        for index, second in enumerate(changes)
    ]
    if wall != sorted(wall):
        # Two transitions closer than their offsets differ: no zone in tzdata does that.
        raise ValueError(f"{zone.key}: wall-clock transitions overlap; its times cannot be read in columns")
    return ZoneOffsets(
        utc_starts=pl.Series("utc_starts", [second * MICROSECONDS_PER_SECOND for second in changes], pl.Int64),
        wall_starts=pl.Series("wall_starts", wall, pl.Int64),
        offsets=pl.Series("offsets", micro, pl.Int64),
    )
