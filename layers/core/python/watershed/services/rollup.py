"""The rollup job: recompute dirty 15-minute buckets from raw intervals and fold them upward.

Recompute, not increment: a bucket's aggregate is always rebuilt from what the intervals table
holds now, so late, replayed and deleted data give the same answer as data that came in order.
1h buckets fold from 15m, 1d from 1h, 1mo from 1d, all in the stream's time zone; the zone the
upper buckets were folded in is recorded, and a stream whose zone changed is refolded whole.
"""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from watershed.errors import Unavailable
from watershed.model import NUMERIC_TYPES, Interval, Stream
from watershed.services.rollup_time import BASE_MS, ROLLUP_PERIODS, bucket_end, bucket_start, zone
from watershed.store import intervals
from watershed.store import rollups as store
from watershed.store.catalog import get as catalog_get
from watershed.store.intervals import encode_value

log = logging.getLogger(__name__)

MAX_BUCKETS_PER_RUN = 400
CLUSTER_GAP_MS = 86_400_000
RUN_GAP_MS = 3_600_000
UPPER = (("15m", "1h"), ("1h", "1d"), ("1d", "1mo"))
INLINE_VALUE_BYTES = 2048
"""A first/last value encoding to more is kept by reference (its timestamp), never copied into the
rollup item: a DynamoDB item holds 400 KB and one interval value may take 350 KB."""


class _ByReference:
    """The first or last value of a bucket is the interval at first_ts or last_ts; read it from there."""

    def __repr__(self) -> str:
        return "BY_REFERENCE"


BY_REFERENCE: Any = _ByReference()


def _inline(value: Any) -> Any:
    if isinstance(value, int | float | bool) or value is None or value is BY_REFERENCE:
        return value
    if isinstance(value, str) and len(value) * 4 <= INLINE_VALUE_BYTES:
        return value
    return value if len(encode_value(value).encode()) <= INLINE_VALUE_BYTES else BY_REFERENCE


@dataclass
class Agg:
    """count, sum, min, max (numeric streams only), first and last with their timestamps."""

    count: int
    first_ts: int
    first: Any
    last_ts: int
    last: Any
    total: int | float | None = None
    low: int | float | None = None
    high: int | float | None = None

    @classmethod
    def of(cls, point: Interval, numeric: bool) -> Agg:
        value = point.value
        if numeric:
            return cls(1, point.timestamp, value, point.timestamp, value, value, value, value)
        return cls(1, point.timestamp, value, point.timestamp, value)

    @classmethod
    def of_points(cls, points: Iterable[Interval], numeric: bool) -> Agg | None:
        result: Agg | None = None
        for point in points:
            result = cls.of(point, numeric) if result is None else result.merge(cls.of(point, numeric))
        return result

    def merge(self, other: Agg) -> Agg:
        """The aggregate of two disjoint sets of intervals."""
        first = self if self.first_ts <= other.first_ts else other
        last = self if self.last_ts >= other.last_ts else other
        merged = Agg(self.count + other.count, first.first_ts, first.first, last.last_ts, last.last)
        if self.total is not None and other.total is not None:
            merged.total = add(self.total, other.total)
            merged.low = min(self.low, other.low)  # type: ignore[type-var]
            merged.high = max(self.high, other.high)  # type: ignore[type-var]
        return merged

    def to_fields(self) -> dict[str, Any]:
        """The stored form; a big first/last value is left out (`fr`/`lr`) and read from its interval."""
        fields: dict[str, Any] = {"n": self.count, "ft": self.first_ts, "lt": self.last_ts}
        for name, value in (("f", self.first), ("l", self.last)):
            kept = _inline(value)
            if kept is BY_REFERENCE:
                fields[f"{name}r"] = 1
            else:
                fields[name] = kept
        if self.total is not None:
            fields.update(s=self.total, lo=self.low, hi=self.high)
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Agg:
        first = BY_REFERENCE if fields.get("fr") else fields["f"]
        last = BY_REFERENCE if fields.get("lr") else fields["l"]
        return cls(fields["n"], fields["ft"], first, fields["lt"], last,
                   fields.get("s"), fields.get("lo"), fields.get("hi"))

    def resolved(self, stream_id: str) -> Agg:
        """This aggregate with first/last values kept by reference read back from their intervals."""
        if self.first is not BY_REFERENCE and self.last is not BY_REFERENCE:
            return self
        out = Agg(self.count, self.first_ts, self.first, self.last_ts, self.last, self.total, self.low, self.high)
        if out.first is BY_REFERENCE:
            out.first = _value_at(stream_id, self.first_ts)
        if out.last is BY_REFERENCE:
            out.last = _value_at(stream_id, self.last_ts)
        return out


def _value_at(stream_id: str, timestamp: int) -> Any:
    found = intervals.query_range(stream_id, timestamp, timestamp, limit=1)
    return found[0].value if found else None


def add(a: int | float, b: int | float) -> int | float:
    """a + b, exact past the range of a double: a sum that would overflow is kept as an integer.

    Floats that large are whole numbers, so nothing is lost; value_of answers such a sum as null
    while it stays out of range, and an average from it is still exact.
    """
    try:
        total = a + b
    except OverflowError:
        return int(a) + int(b)
    if isinstance(total, float) and math.isinf(total):
        return int(a) + int(b)
    return total


def fold(aggs: Iterable[Agg]) -> Agg | None:
    result: Agg | None = None
    for agg in aggs:
        result = agg if result is None else result.merge(agg)
    return result


def is_numeric(stream: Stream) -> bool:
    return stream.type in NUMERIC_TYPES


def runs(starts: Iterable[int], step: int = BASE_MS, gap: int = 0) -> list[tuple[int, int]]:
    """Sorted bucket starts grouped into [first start, last start + step) runs; gaps <= `gap` join."""
    out: list[tuple[int, int]] = []
    for start in sorted(set(starts)):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], start + step)
        else:
            out.append((start, start + step))
    return out


def raw_aggs(stream: Stream, buckets: Iterable[int], gap: int = RUN_GAP_MS) -> dict[int, Agg | None]:
    """Aggregates of 15m buckets computed from raw intervals.

    Buckets at most `gap` apart are read in one range query: a few extra items cost less than
    another request.
    """
    numeric = is_numeric(stream)
    wanted = sorted(set(buckets))
    out: dict[int, Agg | None] = dict.fromkeys(wanted)
    by_bucket: dict[int, list[Interval]] = defaultdict(list)
    for first, end in runs(wanted, gap=gap):
        for point in intervals.query_range(stream.id, first, end - 1):
            by_bucket[point.timestamp - point.timestamp % BASE_MS].append(point)
    for start in wanted:
        out[start] = Agg.of_points(by_bucket.get(start, ()), numeric)
    return out


@dataclass
class RunReport:
    buckets: int = 0
    streams: int = 0
    cleared: int = 0
    left_dirty: int = 0
    parked: int = 0
    more: bool = False
    rebuilt: list[str] = field(default_factory=list)


def slice_of(event: Any) -> int:
    """How many buckets one run takes: MAX_BUCKETS_PER_RUN, or fewer when the event's `detail.maxItems`
    asks (the local runtime runs the job in slices so it never holds its one lock for long)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    asked = detail.get("maxItems") if isinstance(detail, dict) else None
    if isinstance(asked, int) and not isinstance(asked, bool) and 0 < asked < MAX_BUCKETS_PER_RUN:
        return asked
    return MAX_BUCKETS_PER_RUN


def run(limit: int = MAX_BUCKETS_PER_RUN) -> RunReport:
    """One scheduled run: take at most `limit` dirty buckets, refresh them, clear their markers."""
    report = RunReport()
    markers = store.take_dirty(limit, first_shard=random.randrange(store.SHARDS))
    by_stream: dict[str, list[store.Marker]] = defaultdict(list)
    for marker in markers:
        by_stream[marker.stream].append(marker)
    for stream_id, stream_markers in by_stream.items():
        try:
            _refresh_stream(stream_id, stream_markers, report)
        except Unavailable:
            log.warning("rollup of stream %s deferred: DynamoDB busy", stream_id)
            continue
        except Exception as error:
            log.exception("rollup of stream %s failed; parking %d bucket(s)", stream_id, len(stream_markers))
            report.parked += store.park(stream_markers, f"{type(error).__name__}: {error}")
            continue
        report.cleared += store.clear(stream_markers)
    report.left_dirty = len(markers) - report.cleared - report.parked
    report.more = len(markers) >= limit
    return report


def _refresh_stream(stream_id: str, markers: Sequence[store.Marker], report: RunReport) -> None:
    """One stream's share of a run; whatever it raises concerns that stream alone."""
    doc = catalog_get("stream", stream_id)
    if doc is None:
        return
    from watershed.services.catalog import stream_from_doc

    stream = stream_from_doc(doc)
    if refresh(stream, [m.bucket for m in markers]):
        report.rebuilt.append(stream_id)
    report.streams += 1
    report.buckets += len(markers)


def refresh(stream: Stream, dirty: Sequence[int]) -> bool:
    """Recompute the stream's dirty 15m buckets and refold what holds them.

    The first fold of a stream, and the first after its time zone changed, refolds every bucket
    (returns True); until then queries read 15m buckets, which are the same in every zone.
    """
    tz = zone(stream.time_zone)
    fresh = raw_aggs(stream, dirty)
    store.write(
        stream.id,
        [store.Bucket("15m", start, agg.to_fields()) for start, agg in fresh.items() if agg is not None],
        [("15m", start) for start, agg in fresh.items() if agg is None],
    )
    folded_in = store.zone_of(stream.id)
    if folded_in == stream.time_zone:
        refold(stream, tz, fresh)
        return False
    if folded_in is not None:
        store.delete_upper(stream.id)
    refold(stream, tz, None)
    store.set_zone(stream.id, stream.time_zone)
    return True


def refold(stream: Stream, tz: ZoneInfo, changed: dict[int, Agg | None] | None) -> None:
    """Refold 1h, 1d and 1mo buckets holding the changed 15m buckets (all of them when None)."""
    touched: set[int] | None = None if changed is None else set(changed)
    for child_name, parent_name in UPPER:
        parent = ROLLUP_PERIODS[parent_name]
        if touched is None:
            spans = [(0, 2**53)]
            parents: set[int] | None = None
        else:
            parents = {bucket_start(parent, start, tz) for start in touched}
            spans = [(first, bucket_end(parent, last_start, tz))
                     for first, last_start in _clusters(sorted(parents))]
        folded: dict[int, list[Agg]] = defaultdict(list)
        for first, end in spans:
            for bucket in store.read(stream.id, child_name, first, end):
                folded[bucket_start(parent, bucket.start, tz)].append(Agg.from_fields(bucket.fields))
        targets = set(folded) if parents is None else parents
        puts = []
        for start in sorted(targets):
            agg = fold(folded.get(start, ()))
            if agg is not None:
                puts.append(store.Bucket(parent_name, start, agg.to_fields()))
        empty = [(parent_name, start) for start in targets if start not in folded]
        store.write(stream.id, puts, empty)
        touched = targets


def _clusters(starts: list[int]) -> list[tuple[int, int]]:
    """(first start, last start) of groups of parent buckets close enough to read in one range."""
    out: list[tuple[int, int]] = []
    for start in starts:
        if out and start - out[-1][1] <= CLUSTER_GAP_MS:
            out[-1] = (out[-1][0], start)
        else:
            out.append((start, start))
    return out
