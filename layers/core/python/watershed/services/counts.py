"""How many intervals a stream holds in any range, and its first and last, read from the rollups.

A range is cut into the coarsest whole rollup buckets that fit (1mo, 1d, 1h in the stream's zone
once folded there, then 15m) with raw reads only for the ragged ends under 15 minutes and for
dirty buckets (rebuilt by rollup_query). Bitpool `Total`, ORing `metadata.total` and iTwin
`OBSERVATION_COUNT` are this count.
"""

from __future__ import annotations

from dataclasses import dataclass

from watershed.model import Interval, Stream
from watershed.services import rollup_query
from watershed.services.rollup_time import ROLLUP_PERIODS, bucket_end, bucket_start, zone
from watershed.store import intervals


@dataclass(frozen=True)
class Summary:
    count: int
    first: Interval | None
    last: Interval | None


def count(stream: Stream, start: int, end: int) -> int:
    """Intervals with start <= timestamp < end."""
    levels = ["1mo", "1d", "1h", "15m"] if rollup_query.upper_levels_usable(stream) else ["15m"]
    return _count(stream, start, end, levels, rollup_query.Budget())


def _count(stream: Stream, start: int, end: int, levels: list[str], budget: rollup_query.Budget) -> int:
    if start >= end:
        return 0
    if not levels:
        return intervals.count_range(stream.id, start, end - 1)
    level, finer = levels[0], levels[1:]
    period, tz = ROLLUP_PERIODS[level], zone(stream.time_zone)
    first = bucket_start(period, start, tz)
    inner_start = first if first == start else bucket_end(period, first, tz)
    inner_end = bucket_start(period, end, tz)
    if inner_start >= inner_end:
        return _count(stream, start, end, finer, budget)
    inner = sum(piece.agg.count for piece in rollup_query.pieces(stream, level, inner_start, inner_end, budget))
    return _count(stream, start, inner_start, finer, budget) + inner + _count(stream, inner_end, end, finer, budget)


def summary(stream: Stream, start: int, end: int) -> Summary:
    """Count, first and last interval in [start, end): the rollups plus one Query at each end."""
    first = intervals.query_range(stream.id, start, end - 1, limit=1)
    last = intervals.query_range(stream.id, start, end - 1, descending=True, limit=1)
    return Summary(count(stream, start, end), first[0] if first else None, last[0] if last else None)
