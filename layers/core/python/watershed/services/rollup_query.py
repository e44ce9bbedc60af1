"""Aggregate queries: read rollups where they serve the period, raw intervals where they cannot.

A query picks the coarsest rollup level whose buckets nest inside the requested ones: 1h, 1d
and 1mo rollups (folded in the stream's zone) for 1h, 1d/1w and 1mo in that zone; 15m rollups
for any other period that is a multiple of 15 minutes, in any zone; raw intervals otherwise
(e.g. 5m). A rollup bucket that holds a dirty 15m bucket is rebuilt on the fly from the clean
15m rollups plus raw intervals for the dirty ones, so an answer is exact as soon as the `changes`
function has seen the write, whether or not the rollup job has run.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from watershed.errors import ValidationError
from watershed.model import Stream
from watershed.services.rollup import Agg, fold, is_numeric, raw_aggs
from watershed.services.rollup_time import BASE_MS, ROLLUP_PERIODS, Period, bucket_end, bucket_start, zone
from watershed.store import intervals
from watershed.store import rollups as store

DOUBLE_INT_LIMIT = 2**63
"""A sum kept as an integer beyond this came from floats too big to add (services.rollup.add)."""
RAW_ITEM_LIMIT = 20_000
"""Raw intervals one request may read; a page stops early (with a cursor) when it would read more."""
RAW_CHUNK = 1000
PREFETCH = 96
LEVEL_FOR = {"1h": "1h", "1d": "1d", "1w": "1d", "1mo": "1mo"}


@dataclass
class Row:
    start: int
    agg: Agg | None
    from_raw: bool = False
    filled: bool = False


@dataclass
class Piece:
    """A part of the data with one aggregate: a rollup bucket, a rebuilt bucket or one raw interval."""

    start: int
    agg: Agg
    from_raw: bool


@dataclass
class Budget:
    raw_items: int = 0
    rollup_items: int = 0


@dataclass
class SeriesPage:
    rows: list[Row]
    next_start: int | None
    level: str
    previous: Agg | None = None
    budget: Budget = field(default_factory=Budget)


def choose_level(stream: Stream, period: Period, tz: ZoneInfo) -> str:
    """The rollup level the query reads (`raw` when no rollup nests inside the period)."""
    if period.name in LEVEL_FOR and tz.key == stream.time_zone and store.zone_of(stream.id) == stream.time_zone:
        return LEVEL_FOR[period.name]
    return "15m" if period.on_base else "raw"


def _raw_pieces(stream: Stream, start: int, end: int, budget: Budget) -> Iterator[Piece]:
    numeric = is_numeric(stream)
    position = start
    while position < end:
        chunk = intervals.query_range(stream.id, position, end - 1, limit=RAW_CHUNK)
        budget.raw_items += len(chunk)
        for point in chunk:
            yield Piece(point.timestamp, Agg.of(point, numeric), True)
        if len(chunk) < RAW_CHUNK:
            return
        position = chunk[-1].timestamp + 1


class DirtyData:
    """Raw aggregates of a query's dirty 15m buckets, fetched ahead in batches of nearby buckets."""

    def __init__(self, stream: Stream, dirty: set[int], budget: Budget) -> None:
        self.stream, self.dirty, self.budget = stream, sorted(dirty), budget
        self.fresh: dict[int, Agg | None] = {}

    def aggs(self, start: int, end: int) -> list[Agg]:
        wanted = [b for b in self.dirty[bisect_left(self.dirty, start):] if b < end]
        missing = [b for b in wanted if b not in self.fresh]
        if missing:
            first = bisect_left(self.dirty, missing[0])
            batch = [*missing, *self.dirty[first : first + PREFETCH]]
            fetched = raw_aggs(self.stream, batch)
            self.budget.raw_items += sum(a.count for a in fetched.values() if a is not None)
            self.fresh.update(fetched)
        return [agg for b in wanted if (agg := self.fresh[b]) is not None]


def _rebuilt(stream: Stream, level: str, start: int, dirty: DirtyData, budget: Budget) -> Piece | None:
    """A `level` bucket of the stream's zone, from clean 15m rollups and raw data for dirty ones."""
    clean: list[Agg] = []
    if level == "15m":
        end = start + BASE_MS
    else:
        end = bucket_end(ROLLUP_PERIODS[level], start, zone(stream.time_zone))
        stale = set(dirty.dirty)
        for bucket in store.read(stream.id, "15m", start, end):
            budget.rollup_items += 1
            if bucket.start not in stale:
                clean.append(Agg.from_fields(bucket.fields))
    agg = fold([*clean, *dirty.aggs(start, end)])
    return None if agg is None else Piece(start, agg, True)


def _rollup_pieces(stream: Stream, level: str, start: int, end: int, budget: Budget) -> Iterator[Piece]:
    """Rollup buckets of `level` in [start, end), with every bucket over a dirty 15m one rebuilt."""
    dirty = store.dirty_in(stream.id, start, end)
    if level == "15m":
        stale = set(dirty)
    else:
        stream_zone = zone(stream.time_zone)
        stale = {bucket_start(ROLLUP_PERIODS[level], b, stream_zone) for b in dirty}
    pending = sorted(s for s in stale if start <= s < end)
    dirty_data = DirtyData(stream, dirty, budget)

    def rebuilt_before(limit: int) -> Iterator[Piece]:
        while pending and pending[0] < limit:
            piece = _rebuilt(stream, level, pending.pop(0), dirty_data, budget)
            if piece is not None:
                yield piece

    for bucket in store.read(stream.id, level, start, end, page=200):
        budget.rollup_items += 1
        yield from rebuilt_before(bucket.start + 1)
        if bucket.start not in stale:
            yield Piece(bucket.start, Agg.from_fields(bucket.fields), False)
    yield from rebuilt_before(2**63)


def pieces(stream: Stream, level: str, start: int, end: int, budget: Budget) -> Iterator[Piece]:
    """The aggregates of `level` buckets in [start, end) (bucket-aligned), rebuilt where dirty."""
    return _rollup_pieces(stream, level, start, end, budget)


def upper_levels_usable(stream: Stream) -> bool:
    """1h/1d/1mo rollups serve a stream once they were folded in its current time zone."""
    return store.zone_of(stream.id) == stream.time_zone


def series(
    stream: Stream,
    period: Period,
    tz: ZoneInfo,
    start: int,
    end: int,
    *,
    fill: str = "none",
    limit: int = 1000,
    previous: Agg | None = None,
) -> SeriesPage:
    """One page of buckets from the bucket holding `start` to the one holding `end - 1`."""
    level = choose_level(stream, period, tz)
    first = bucket_start(period, start, tz)
    last_end = bucket_end(period, bucket_start(period, end - 1, tz), tz)
    if previous is not None:
        previous = previous.resolved(stream.id)
    page = _series(stream, period, tz, level, first, last_end, fill, limit, previous)
    if level != "raw" and any(r.start % BASE_MS for r in page.rows):
        page = _series(stream, period, tz, "raw", first, last_end, fill, limit, previous)
    resolved: dict[int, Agg] = {}
    for row in page.rows:
        if row.agg is not None:
            row.agg = resolved.setdefault(id(row.agg), row.agg.resolved(stream.id))
    return page


def _series(
    stream: Stream, period: Period, tz: ZoneInfo, level: str, first: int, last_end: int,
    fill: str, limit: int, previous: Agg | None,
) -> SeriesPage:
    budget = Budget()
    pieces = (_raw_pieces(stream, first, last_end, budget) if level == "raw"
              else _rollup_pieces(stream, level, first, last_end, budget))
    rows: list[Row] = []
    position = first

    def fill_until(start: int) -> bool:
        """Empty rows from `position` up to `start` (fill=null|previous); False once the page is full."""
        nonlocal position
        while fill != "none" and position < start:
            if len(rows) >= limit:
                return False
            rows.append(Row(position, previous if fill == "previous" else None, filled=True))
            position = bucket_end(period, position, tz)
        return True

    def add(row: Row) -> bool:
        nonlocal position, previous
        if not fill_until(row.start) or len(rows) >= limit:
            return False
        rows.append(row)
        previous = row.agg
        position = bucket_end(period, row.start, tz)
        return True

    def page(done: bool) -> SeriesPage:
        return SeriesPage(rows, None if done else position, level, previous, budget)

    current: Row | None = None
    for piece in pieces:
        start = bucket_start(period, piece.start, tz)
        if current is not None and current.start != start:
            if not add(current):
                return page(False)
            current = None
        if budget.raw_items > RAW_ITEM_LIMIT:
            if not rows:
                raise ValidationError(
                    f"one bucket of this period holds more than {RAW_ITEM_LIMIT} raw intervals; use a "
                    "period served by rollups (a multiple of 15m, 1d, 1w, 1mo) or a shorter one", "period")
            return page(False)
        if current is None:
            current = Row(start, piece.agg, piece.from_raw)
        else:
            current.agg = piece.agg if current.agg is None else current.agg.merge(piece.agg)
            current.from_raw = current.from_raw or piece.from_raw
    if current is not None and not add(current):
        return page(False)
    return page(fill_until(last_end))


def value_of(fn: str, row: Row) -> Any:
    """One aggregate function of a row; an empty bucket counts 0 and repeats `previous` (or null)."""
    agg = row.agg
    if fn == "count" and row.filled:
        return 0
    if agg is None:
        return None
    if fn == "count":
        return agg.count
    if fn == "first":
        return agg.first
    if fn == "last":
        return agg.last
    if fn == "sum":
        return _sum_out(agg.total)
    if fn == "min":
        return agg.low
    if fn == "max":
        return agg.high
    return None if agg.total is None else agg.total / agg.count


def _sum_out(total: int | float | None) -> int | float | None:
    """A sum as JSON can carry it: null once it lies beyond a double (docs/aggregates.md)."""
    if isinstance(total, int) and abs(total) > DOUBLE_INT_LIMIT:
        try:
            return float(total)
        except OverflowError:
            return None
    return total
