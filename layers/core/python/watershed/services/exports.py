"""Exports: the answer of a query as a CSV or NDJSON file in S3, handed out as a presigned URL.

A request is answered at once when the result has at most SYNC_ROW_LIMIT rows; a larger one (or
one that asks for `"async": true`) is recorded as pending and written by the scheduled
`exports_worker` function, and its status resource says when the file is ready.

Everything lives in OBJECTS_BUCKET under `exports/`: `exports/<org>/<id>.json` is the status
record, `exports/<org>/<id>.csv|ndjson` the file, `exports/pending/<id>` (body: the org id) the
worker's queue. Keying the record by org makes another organisation's export a plain 404.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any

from watershed import blobs, config
from watershed.errors import NotFound, ValidationError
from watershed.model import Principal, Stream
from watershed.services import aggregates
from watershed.services import catalog as cat
from watershed.services.rollup_time import parse_period, parse_zone
from watershed.store import intervals
from watershed.timefmt import format_time, now_ms, parse_time
from watershed.validation import obj

SYNC_ROW_LIMIT = 50_000
"""Rows an export may have to be answered in the request; above it the export runs in the worker."""
MAX_STREAMS = 100
PAGE = 5_000
URL_TTL_S = 3600
STALE_RUNNING_MS = 16 * 60 * 1000
"""A `running` export untouched for longer than the worker's timeout died with its worker."""
PREFIX = "exports/"
PENDING = f"{PREFIX}pending/"
STATUSES = ("pending", "running", "done", "failed")
FORMATS = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
FIELDS = ("streams", "start", "end", "aggregation", "format", "async")
AGGREGATION_FIELDS = aggregates.SPEC_FIELDS
SPOOL_BYTES = 8 * 1024 * 1024


class _TooManyRows(Exception):
    pass


def _record_key(org: str, export_id: str) -> str:
    return f"{PREFIX}{org}/{export_id}.json"


def _file_key(org: str, export_id: str, fmt: str) -> str:
    return f"{PREFIX}{org}/{export_id}.{fmt}"


def parse(principal: Principal, body: Any) -> dict[str, Any]:
    """The export request checked and normalised into the record the worker can run alone."""
    obj(body, FIELDS, ("streams", "start", "end"))
    streams = body["streams"]
    if not isinstance(streams, list) or not streams or len(streams) > MAX_STREAMS:
        raise ValidationError(f"streams must be a list of 1 to {MAX_STREAMS} stream ids", "streams")
    ids: list[str] = []
    for i, stream_id in enumerate(streams):
        if not isinstance(stream_id, str) or not stream_id:
            raise ValidationError("must be a stream id", f"streams[{i}]")
        cat.get_stream(principal, stream_id, f"streams[{i}]")
        if stream_id not in ids:
            ids.append(stream_id)
    start = parse_time(body["start"], "start", bounded=False)
    end = parse_time(body["end"], "end", bounded=False)
    if end <= start:
        raise ValidationError("end must be after start", "end")
    fmt = body.get("format", "csv")
    if fmt not in FORMATS:
        raise ValidationError(f"format must be one of {', '.join(FORMATS)}", "format")
    aggregation = body.get("aggregation")
    if aggregation is not None:
        obj(aggregation, AGGREGATION_FIELDS, ("period",), "aggregation")
        for name in AGGREGATION_FIELDS:
            if name in aggregation and not isinstance(aggregation[name], str):
                raise ValidationError("must be a string", f"aggregation.{name}")
        _check_aggregation(aggregation)
    if not isinstance(body.get("async", False), bool):
        raise ValidationError("must be true or false", "async")
    return {
        "id": str(uuid.uuid4()),
        "org": principal.org,
        "pools": sorted(principal.pools),
        "streams": ids,
        "start": max(start, 0),
        "end": end,
        "aggregation": aggregation,
        "format": fmt,
        "status": "pending",
        "rows": None,
        "error": None,
        "created": now_ms(),
        "updated": now_ms(),
    }


def _principal(record: dict[str, Any]) -> Principal:
    return Principal(record["org"], frozenset({"read"}), frozenset(record.get("pools") or ()))


# rows


def _raw_rows(stream: Stream, start: int, end: int) -> Iterator[dict[str, Any]]:
    cursor = start
    while True:
        page = intervals.query_range(stream.id, cursor, end - 1, limit=PAGE)
        for interval in page:
            yield {"stream": stream.id, "timestamp": format_time(interval.timestamp), "value": interval.value}
        if len(page) < PAGE:
            return
        cursor = page[-1].timestamp + 1


def _check_aggregation(aggregation: dict[str, Any]) -> None:
    """Refuse now what the export would fail on later: period, fn, tz and fill as the aggregates API reads them."""
    parse_period(aggregation["period"], "aggregation.period")
    for name in (n.strip() for n in (aggregation.get("fn") or "").split(",")):
        if name and name not in aggregates.FUNCTIONS:
            known = ", ".join(aggregates.FUNCTIONS)
            raise ValidationError(f"unknown function '{name[:64]}'; use {known}", "aggregation.fn")
    if aggregation.get("tz"):
        parse_zone(aggregation["tz"], "aggregation.tz")
    if aggregation.get("fill", "none") not in aggregates.FILLS:
        raise ValidationError("fill must be none, null or previous", "aggregation.fill")


def _aggregated_rows(stream: Stream, record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Pages of the aggregate query itself, so an export is exactly what a query would answer."""
    aggregation = record["aggregation"]
    params: dict[str, Any] = {"start": str(record["start"]), "end": str(record["end"]), "limit": "1000",
                              **{k: v for k, v in aggregation.items() if v}}
    while True:
        answer = aggregates.one(stream, params)
        for start, values in answer.series[0].rows():
            yield {"stream": stream.id, "timestamp": format_time(start), **values}
        if not answer.cursor:
            return
        params["cursor"] = answer.cursor


def rows(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    principal = _principal(record)
    for i, stream_id in enumerate(record["streams"]):
        stream = cat.stream_from_doc(cat.get_stream(principal, stream_id, f"streams[{i}]"))
        if record.get("aggregation"):
            yield from _aggregated_rows(stream, record)
        else:
            yield from _raw_rows(stream, record["start"], record["end"])


# files


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def write(source: Iterator[dict[str, Any]], fmt: str, out: IO[bytes], limit: int | None) -> int:
    """Write rows as CSV (header first; objects as JSON text) or NDJSON; returns the row count."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    count = 0
    writer: Any = None
    for item in source:
        count += 1
        if limit is not None and count > limit:
            text.detach()
            raise _TooManyRows
        if fmt == "ndjson":
            text.write(json.dumps(item, separators=(",", ":")) + "\n")
            continue
        if writer is None:
            writer = csv.writer(text, lineterminator="\n")
            columns = list(item)
            writer.writerow(columns)
        writer.writerow([_cell(item.get(c)) for c in columns])
    if fmt == "csv" and writer is None:
        text.write("stream,timestamp,value\n")
    text.detach()
    return count


def _produce(record: dict[str, Any], limit: int | None) -> None:
    """Write the export's file to S3 and mark the record done."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        count = write(rows(record), record["format"], spool, limit)  # type: ignore[arg-type]
        key = _file_key(record["org"], record["id"], record["format"])
        blobs.upload_file(config.OBJECTS_BUCKET, key, spool, FORMATS[record["format"]])  # type: ignore[arg-type]
    record.update(status="done", rows=count, updated=now_ms())
    _save(record)


def _save(record: dict[str, Any]) -> None:
    blobs.put(config.OBJECTS_BUCKET, _record_key(record["org"], record["id"]),
              json.dumps(record).encode(), "application/json")


def _load(org: str, export_id: str) -> dict[str, Any] | None:
    found = blobs.get(config.OBJECTS_BUCKET, _record_key(org, export_id))
    return None if found is None else dict(json.loads(found[0]))


# the API


def create(principal: Principal, body: Any) -> dict[str, Any]:
    """Run the export now if it is small, else queue it; returns its status."""
    record = parse(principal, body)
    if not body.get("async"):
        try:
            _produce(record, SYNC_ROW_LIMIT)
            return public(record)
        except _TooManyRows:
            record["updated"] = now_ms()
    _save(record)
    blobs.put(config.OBJECTS_BUCKET, f"{PENDING}{record['id']}", record["org"].encode(), "text/plain")
    return public(record)


def get(principal: Principal, export_id: str) -> dict[str, Any]:
    record = _load(principal.org, export_id)
    if record is None or any(not principal.may_see_pool(p) for p in record.get("pools") or ()):
        raise NotFound("export not found", "id")
    if principal.pools and not record.get("pools"):
        raise NotFound("export not found", "id")
    return public(record)


def public(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record["id"],
        "status": record["status"],
        "format": record["format"],
        "streams": record["streams"],
        "start": format_time(record["start"]),
        "end": format_time(record["end"]),
        "aggregation": record.get("aggregation"),
        "rows": record.get("rows"),
        "created": format_time(record["created"]),
        "updated": format_time(record["updated"]),
    }
    if record["status"] == "done":
        key = _file_key(record["org"], record["id"], record["format"])
        out["url"] = blobs.presigned_get(config.OBJECTS_BUCKET, key, URL_TTL_S,
                                         f"watershed-export-{record['id']}.{record['format']}")
        out["expiresIn"] = URL_TTL_S
    if record["status"] == "failed":
        out["error"] = record.get("error")
    return out


# the worker


def run_pending(time_left_ms: Callable[[], int] = lambda: 2**31, reserve_ms: int = 60_000) -> int:
    """Run queued exports, oldest first, while time remains; returns how many finished."""
    finished = 0
    for marker in sorted(blobs.keys(config.OBJECTS_BUCKET, PENDING)):
        if time_left_ms() < reserve_ms:
            break
        export_id = marker[len(PENDING):]
        found = blobs.get(config.OBJECTS_BUCKET, marker)
        record = None if found is None else _load(found[0].decode(), export_id)
        if record is None or record["status"] in ("done", "failed"):
            blobs.delete(config.OBJECTS_BUCKET, marker)
            continue
        if record["status"] == "running" and now_ms() - record["updated"] < STALE_RUNNING_MS:
            continue
        record.update(status="running", updated=now_ms())
        _save(record)
        try:
            _produce(record, None)
        except Exception as error:
            record.update(status="failed", error=str(getattr(error, "message", error)), updated=now_ms())
            _save(record)
        blobs.delete(config.OBJECTS_BUCKET, marker)
        finished += 1
    return finished
