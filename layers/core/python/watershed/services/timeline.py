"""Several streams read as one timeline: rows of every value at one timestamp (ORing's timeline).

A page of `limit` rows reads at most `limit + 1` intervals per stream: a row's timestamp is among
the first `limit` distinct timestamps of the union, so every stream's interval at that timestamp
is among that stream's first `limit` intervals in the same direction. There are more rows when
the union holds more than `limit` distinct timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watershed.model import Stream
from watershed.services import counts
from watershed.store import intervals

EXACT_TOTAL = 20_000
"""Up to this many intervals in the range (all streams together), the total is the exact number of
distinct timestamps; above it, the largest stream's count (exact when the streams are sent
together, as one device message carries them), to keep a page's cost bounded."""


@dataclass(frozen=True)
class Row:
    timestamp: int
    values: list[tuple[int, Any]]
    """(index of the stream in the request, value), in the request's stream order."""


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool
    """Whether rows remain beyond this page in the direction it was read."""


def page(streams: list[Stream], start: int, end: int, *, descending: bool, limit: int,
         after: int | None = None, before: int | None = None) -> Page:
    """Rows with start <= timestamp < end in the timeline's order (`descending` or not).

    `after`: the rows that follow that timestamp in this order; `before`: the rows that precede
    it (read backwards, answered in the timeline's order). `more` then says whether rows remain
    on the side the page was read towards.
    """
    backwards = before is not None
    edge = before if backwards else after
    reading_down = descending != backwards
    if edge is not None:
        if reading_down:
            end = min(end, edge)
        else:
            start = max(start, edge + 1)
    merged: dict[int, list[tuple[int, Any]]] = {}
    if start < end:
        for index, stream in enumerate(streams):
            for point in intervals.query_range(stream.id, start, end - 1, descending=reading_down, limit=limit + 1):
                merged.setdefault(point.timestamp, []).append((index, point.value))
    stamps = sorted(merged, reverse=reading_down)
    more = len(stamps) > limit
    rows = [Row(ts, sorted(merged[ts], key=lambda pair: pair[0])) for ts in stamps[:limit]]
    if backwards:
        rows.reverse()
    return Page(rows, more)


def total(streams: list[Stream], start: int, end: int) -> int:
    """How many rows the timeline holds in [start, end) (see EXACT_TOTAL)."""
    each = [counts.count(stream, start, end) for stream in streams]
    if sum(each) > EXACT_TOTAL:
        return max(each, default=0)
    if sum(1 for n in each if n) <= 1:
        return sum(each)
    stamps: set[int] = set()
    for stream, n in zip(streams, each, strict=True):
        if n:
            stamps.update(point.timestamp for point in intervals.iter_range(stream.id, start, end - 1))
    return len(stamps)


def last_of_each(streams: list[Stream]) -> list[tuple[Stream, Any]]:
    """Each stream with its latest interval (None when it has none)."""
    return [(stream, intervals.latest(stream.id)) for stream in streams]
