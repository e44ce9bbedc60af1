"""Raw reads: ranges with signed cursors, the latest interval of a stream or a station."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watershed import signing
from watershed.errors import ValidationError
from watershed.model import Interval, Stream
from watershed.store import intervals
from watershed.timefmt import DAY_MS, now_ms, parse_time
from watershed.validation import ORDERS, integer

MAX_LIMIT = 5000
"""As many raw intervals per page as aggregated rows: one documented bound for `limit`."""
DEFAULT_LIMIT = 100
END_OF_TIME = 2**53


@dataclass
class Page:
    items: list[Interval]
    cursor: str | None


def time_range(query: dict[str, str]) -> tuple[int, int]:
    """start/end (inclusive start, exclusive end) from query parameters; open ends are unbounded."""
    start = parse_time(query["start"], "start", bounded=False) if query.get("start") else 0
    end = parse_time(query["end"], "end", bounded=False) if query.get("end") else now_ms() + 2 * DAY_MS
    if end <= start:
        raise ValidationError("end must be after start", "end")
    return max(start, 0), end


def pull(stream: Stream, query: dict[str, str]) -> Page:
    """One page of raw intervals in [start, end), ascending or descending."""
    order = query.get("order", "asc")
    if order not in ORDERS:
        raise ValidationError("order must be 'asc' or 'desc'", "order")
    limit = integer(query.get("limit", DEFAULT_LIMIT), "limit", 1, MAX_LIMIT)
    start, end = time_range(query)
    if query.get("cursor"):
        cursor = signing.verify(query["cursor"])
        if cursor.get("s") != stream.id or cursor.get("o") != order:
            raise ValidationError("cursor does not belong to this query", "cursor")
        last = int(cursor["t"])
        if order == "asc":
            start = max(start, last + 1)
        else:
            end = min(end, last)
    items = intervals.query_range(stream.id, start, end - 1, descending=order == "desc", limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    token = signing.sign({"s": stream.id, "o": order, "t": items[-1].timestamp}) if more else None
    return Page(items, token)


def latest(stream: Stream) -> Interval | None:
    return intervals.latest(stream.id)


def interval_out(interval: Interval) -> dict[str, Any]:
    from watershed.timefmt import format_time

    return {"timestamp": format_time(interval.timestamp), "value": interval.value}
