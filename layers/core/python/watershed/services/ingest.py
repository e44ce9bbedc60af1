"""Ingest: validate a whole push, then write it. Nothing is stored unless every item is valid."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from watershed.errors import PayloadTooLarge, ValidationError
from watershed.model import NUMERIC_TYPES, Interval, Principal, Stream, StreamType
from watershed.services import catalog as cat
from watershed.services import query
from watershed.store import intervals
from watershed.store.intervals import encode_value
from watershed.timefmt import parse_time

MAX_ITEMS = 10_000
HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")
MAX_STRING = 65_536
MAX_VALUE_BYTES = 350_000
"""The most any value may take in its stored form (UTF-8 JSON): its interval is one DynamoDB item,
which holds at most 400 KB."""


def check_value(stream_type: StreamType, value: Any, field: str) -> Any:
    """The value normalised for its stream type, or a 400 saying why it does not fit.

    Sizes are checked on the stored form, so no value that passes here can fail its write.
    """
    checked = _typed_value(stream_type, value, field)
    if stream_type not in NUMERIC_TYPES and stream_type is not StreamType.BOOLEAN:
        try:
            stored = len(encode_value(checked).encode("utf-8"))
        except (ValueError, UnicodeEncodeError):
            raise ValidationError("must be finite numbers and Unicode text", field) from None
        if stored > MAX_VALUE_BYTES:
            raise ValidationError(f"takes {stored} bytes stored; a value may take at most {MAX_VALUE_BYTES}", field)
    return checked


def _typed_value(stream_type: StreamType, value: Any, field: str) -> Any:
    if value is None:
        raise ValidationError("value is required", field)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if stream_type is StreamType.FLOAT:
        if not is_number or not _finite(value):
            raise ValidationError("must be a finite number for a float stream", field)
        return float(value)
    if stream_type is StreamType.INTEGER:
        if is_number and (isinstance(value, int) or (math.isfinite(value) and value.is_integer())) \
                and abs(value) < 2**63:
            return int(value)
        raise ValidationError("must be a whole number for an integer stream", field)
    if stream_type is StreamType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false for a boolean stream", field)
        return value
    if stream_type is StreamType.STRING:
        if not isinstance(value, str) or len(value) > MAX_STRING:
            raise ValidationError(f"must be a string of at most {MAX_STRING} characters", field)
        return value
    if stream_type is StreamType.HEX:
        if not isinstance(value, str) or not HEX.match(value):
            raise ValidationError("must be a hexadecimal string", field)
        return value.lower().removeprefix("0x")
    if stream_type is StreamType.COORDINATE:
        return _coordinate(value, field)
    if stream_type is StreamType.JSON:
        return value
    raise ValidationError("object streams take uploads at /v1/streams/{id}/objects", field)


def _finite(number: int | float) -> bool:
    """A number a double holds (a JSON integer may be larger than any double)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _coordinate(value: Any, field: str) -> dict[str, float]:
    if isinstance(value, list | tuple) and len(value) in (2, 3):
        value = dict(zip(("lat", "lon", "alt"), value, strict=False))
    if not isinstance(value, dict) or set(value) - {"lat", "lon", "alt"} or not {"lat", "lon"} <= set(value):
        raise ValidationError("must be {\"lat\", \"lon\"[, \"alt\"]} for a coordinate stream", field)
    out = {}
    for name, bound in (("lat", 90), ("lon", 180), ("alt", None)):
        if name not in value:
            continue
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, int | float) or not _finite(number):
            raise ValidationError(f"{name} must be a number", f"{field}.{name}")
        if bound is not None and abs(number) > bound:
            raise ValidationError(f"{name} must be within ±{bound}", f"{field}.{name}")
        out[name] = float(number)
    return out


def check_items(body: Any, field_prefix: str = "") -> list[Any]:
    """The body as a list of at most MAX_ITEMS items."""
    if not isinstance(body, list):
        raise ValidationError("body must be a JSON array of intervals", field_prefix or None)
    if len(body) > MAX_ITEMS:
        raise PayloadTooLarge(f"at most {MAX_ITEMS} intervals per request, got {len(body)}", field_prefix or None)
    return body


def parse_interval(stream: Stream, item: Any, field: str, extra: tuple[str, ...] = ()) -> Interval:
    """One `{"timestamp", "value"}` item checked against its stream."""
    if not isinstance(item, dict):
        raise ValidationError("each interval must be an object", field)
    for name in item:
        if name not in ("timestamp", "value", *extra):
            raise ValidationError(f"unknown field '{name}'", f"{field}.{name}")
    if "timestamp" not in item:
        raise ValidationError("timestamp is required", f"{field}.timestamp")
    if "value" not in item:
        raise ValidationError("value is required", f"{field}.value")
    ts = parse_time(item["timestamp"], f"{field}.timestamp")
    return Interval(ts, check_value(stream.type, item["value"], f"{field}.value"))


def retention_seconds(stream: Stream) -> int | None:
    return None if stream.retention_days is None else stream.retention_days * 86_400


def write(stream: Stream, points: Sequence[Interval]) -> int:
    """Store validated intervals of one stream (upsert); returns how many distinct timestamps."""
    if not points:
        return 0
    return intervals.put_many(stream.id, points, retention_seconds(stream))


def _stream(principal: Principal, stream_id: str, field: str = "id") -> Stream:
    return cat.stream_from_doc(cat.get_stream(principal, stream_id, field))


def delete_range(principal: Principal, stream_id: str, params: dict[str, str]) -> int:
    """Delete a stream's intervals in [start, end), both required (a missing bound is no "everything");
    the buckets they were in are marked to roll up again. Answers how many were deleted."""
    stream = _stream(principal, stream_id)
    for name in ("start", "end"):
        if not params.get(name):
            raise ValidationError(f"{name} is required to delete a range", name)
    start, end = query.time_range(params)
    return intervals.delete_range(stream.id, start, end - 1)


def push(principal: Principal, stream_id: str, body: Any) -> int:
    """Validate every item of a push to one stream, then write; returns how many intervals were stored.

    Items with the same timestamp are stored once (the last wins), so the count is of distinct timestamps.
    """
    stream = _stream(principal, stream_id)
    items = check_items(body)
    points = [parse_interval(stream, item, f"[{i}]") for i, item in enumerate(items)]
    return write(stream, points)


def push_many(principal: Principal, body: Any) -> int:
    """Validate a push naming its stream per item, grouped by stream, then write; returns how many were stored."""
    items = check_items(body)
    streams: dict[str, Stream] = {}
    batches: dict[str, list[Interval]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError("each interval must be an object", f"[{i}]")
        stream_id = item.get("stream")
        if not isinstance(stream_id, str) or not stream_id:
            raise ValidationError("stream is required", f"[{i}].stream")
        if stream_id not in streams:
            streams[stream_id] = _stream(principal, stream_id, f"[{i}].stream")
        point = parse_interval(streams[stream_id], item, f"[{i}]", extra=("stream",))
        batches.setdefault(stream_id, []).append(point)
    return sum(write(streams[stream_id], points) for stream_id, points in batches.items())


def write_many(batches: Sequence[tuple[Stream, Sequence[Interval]]]) -> int:
    """Store validated intervals of several streams in shared BatchWriteItem calls (a device's
    fields in one call); returns how many distinct (stream, timestamp) pairs."""
    return intervals.put_many_streams([(s.id, points, retention_seconds(s)) for s, points in batches if points])
