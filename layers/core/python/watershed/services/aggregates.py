"""Aggregate queries of one stream or several: the spec, its checks, paging by signed cursor.

Every door that reads aggregates (the native API, exports, the facades) goes through here; the
protocol modules only shape the answer. Rows come from services.rollup_query, exact before and
after the rollup job runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from watershed import signing
from watershed.errors import ValidationError
from watershed.model import NUMERIC_TYPES, Principal, Stream
from watershed.services import catalog as cat
from watershed.services.rollup import Agg
from watershed.services.rollup_query import SeriesPage, series, value_of
from watershed.services.rollup_time import Period, parse_period, parse_zone
from watershed.timefmt import DAY_MS, now_ms, parse_time
from watershed.validation import integer

FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
NUMERIC_ONLY = frozenset({"avg", "min", "max", "sum"})
FILLS = ("none", "null", "previous")
SPEC_FIELDS = ("period", "fn", "tz", "fill")
"""What makes a read aggregated: any of them asks for aggregates (and `period` is then required)."""
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
MAX_STREAMS = 20
QUERY_FIELDS = ("streams", "start", "end", "period", "fn", "tz", "fill", "limit", "cursor")


@dataclass(frozen=True)
class Spec:
    """A validated aggregate query, the same for one stream or several."""

    period: Period
    functions: tuple[str, ...] | None
    zone: ZoneInfo | None
    start: int
    end: int
    fill: str
    limit: int

    def fingerprint(self) -> str:
        text = f"{self.period.name}|{self.functions}|{self.zone}|{self.start}|{self.end}|{self.fill}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int):
        raise ValidationError(f"{name} must be a string", name)
    return str(value)


def parse_spec(params: dict[str, Any]) -> Spec:
    """period, fn, tz, start, end, fill and limit, each checked with a 400 naming it."""
    period_text = _text(params, "period")
    if period_text is None:
        raise ValidationError("period is required for aggregates (15m, 1h, 1d, 1w, 1mo, Nm, Nh)", "period")
    period = parse_period(period_text)
    functions = None
    fn_text = _text(params, "fn")
    if fn_text is not None:
        names = [name.strip() for name in fn_text.split(",") if name.strip()]
        for name in names:
            if name not in FUNCTIONS:
                raise ValidationError(f"unknown function '{name}'; use {', '.join(FUNCTIONS)}", "fn")
        if not names:
            raise ValidationError("fn lists no function", "fn")
        functions = tuple(dict.fromkeys(names))
    tz_text = _text(params, "tz")
    zone = parse_zone(tz_text) if tz_text is not None else None
    fill = _text(params, "fill") or "none"
    if fill not in FILLS:
        raise ValidationError("fill must be none, null or previous", "fill")
    start_text, end_text = params.get("start"), params.get("end")
    if fill != "none" and start_text in (None, ""):
        raise ValidationError("start is required when fill is null or previous", "start")
    start = parse_time(start_text, "start", bounded=False) if start_text not in (None, "") else 0
    default_end = now_ms() + (1 if fill != "none" else DAY_MS)
    end = parse_time(end_text, "end", bounded=False) if end_text not in (None, "") else default_end
    if end <= max(start, 0):
        raise ValidationError("end must be after start", "end")
    limit = integer(params.get("limit", DEFAULT_LIMIT), "limit", 1, MAX_LIMIT)
    return Spec(period, functions, zone, max(start, 0), end, fill, limit)


def functions_for(spec: Spec, stream: Stream, field: str = "fn") -> tuple[str, ...]:
    """The functions asked for (default avg for numbers, last otherwise), allowed for this stream."""
    numeric = stream.type in NUMERIC_TYPES
    if spec.functions is None:
        return ("avg",) if numeric else ("last",)
    if not numeric:
        refused = [name for name in spec.functions if name in NUMERIC_ONLY]
        if refused:
            raise ValidationError(
                f"{', '.join(refused)} need a float or integer stream; a {stream.type.value} stream "
                "supports count, first and last", field)
    return spec.functions


@dataclass
class Series:
    """One stream's page of buckets and the functions asked of it."""

    stream: Stream
    zone: ZoneInfo
    page: SeriesPage
    functions: tuple[str, ...]

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """(bucket start ms, {function: value}) per row."""
        return [(row.start, {name: value_of(name, row) for name in self.functions}) for row in self.page.rows]

    def from_raw(self) -> list[int]:
        """Starts of the buckets computed from raw intervals (dirty or not served by a rollup)."""
        return [row.start for row in self.page.rows if row.from_raw and not row.filled]


@dataclass
class Answer:
    spec: Spec
    series: list[Series]
    cursor: str | None

    def source(self) -> dict[str, Any]:
        pages = [s.page for s in self.series]
        return {
            "levels": sorted({page.level for page in pages}),
            "rollupItems": sum(page.budget.rollup_items for page in pages),
            "rawItems": sum(page.budget.raw_items for page in pages),
        }


def _previous(cursor: dict[str, Any]) -> Agg | None:
    return Agg.from_fields(cursor["p"]) if cursor.get("p") else None


def _cursor_data(page: SeriesPage, spec: Spec) -> dict[str, Any]:
    data: dict[str, Any] = {"t": page.next_start, "q": spec.fingerprint()}
    if spec.fill == "previous" and page.previous is not None:
        data["p"] = page.previous.to_fields()
    return data


def one(stream: Stream, params: dict[str, Any]) -> Answer:
    """One page of one stream's aggregates; `params` are the query's (`cursor` included)."""
    spec = parse_spec(params)
    functions = functions_for(spec, stream)
    start, previous = spec.start, None
    if params.get("cursor"):
        cursor = signing.verify(str(params["cursor"]))
        if cursor.get("s") != stream.id or cursor.get("q") != spec.fingerprint():
            raise ValidationError("cursor does not belong to this query", "cursor")
        start, previous = int(cursor["t"]), _previous(cursor)
    zone = spec.zone or parse_zone(stream.time_zone)
    page = series(stream, spec.period, zone, start, spec.end, fill=spec.fill, limit=spec.limit, previous=previous)
    token = signing.sign({"s": stream.id, **_cursor_data(page, spec)}) if page.next_start is not None else None
    return Answer(spec, [Series(stream, zone, page, functions)], token)


def many(principal: Principal, body: dict[str, Any]) -> Answer:
    """Aggregates of several streams: series in request order, `limit` rows per page in all."""
    ids = body.get("streams")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_STREAMS:
        raise ValidationError(f"streams must be a list of 1 to {MAX_STREAMS} stream ids", "streams")
    spec = parse_spec(body)
    streams: list[Stream] = []
    for i, stream_id in enumerate(ids):
        if not isinstance(stream_id, str) or not stream_id:
            raise ValidationError("must be a stream id", f"streams[{i}]")
        stream = cat.stream_from_doc(cat.get_stream(principal, stream_id, f"streams[{i}]"))
        functions_for(spec, stream)
        streams.append(stream)
    scope = hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]
    index, start, previous = 0, spec.start, None
    if body.get("cursor"):
        cursor = signing.verify(str(body["cursor"]))
        if cursor.get("s") != scope or cursor.get("q") != spec.fingerprint():
            raise ValidationError("cursor does not belong to this query", "cursor")
        index, start, previous = int(cursor["i"]), int(cursor["t"]), _previous(cursor)
    out: list[Series] = []
    left = spec.limit
    token = None
    while index < len(streams) and left > 0:
        stream = streams[index]
        zone = spec.zone or parse_zone(stream.time_zone)
        page = series(stream, spec.period, zone, start, spec.end, fill=spec.fill, limit=left, previous=previous)
        out.append(Series(stream, zone, page, functions_for(spec, stream)))
        left -= len(page.rows)
        if page.next_start is not None:
            token = signing.sign({"s": scope, "i": index, **_cursor_data(page, spec)})
            break
        index, start, previous = index + 1, spec.start, None
    if token is None and index < len(streams):
        token = signing.sign({"s": scope, "i": index, "t": spec.start, "q": spec.fingerprint()})
    return Answer(spec, out, token)
