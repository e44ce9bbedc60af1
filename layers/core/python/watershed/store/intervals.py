"""Intervals repository: the one place that knows how intervals sit in DynamoDB.

Today one item holds one interval (`pk` = stream id, `sk` = epoch ms, `v` = JSON value); callers
use put_many / query_range / latest / delete_range only, so the layout can change behind them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from watershed.errors import Unavailable
from watershed.model import Interval
from watershed.store import batch, markers, query
from watershed.store.tables import CatalogItem, IntervalItem

BACKOFF_BASE_S = 0.05
BASE_MS = 15 * 60_000
"""The rollups' base bucket: a write dirties the 15-minute buckets of its timestamps."""


@dataclass
class Usage:
    """What the repository cost: requests and items, the bill."""

    write_requests: int = 0
    items_written: int = 0
    write_units: float = 0
    read_requests: int = 0
    items_read: int = 0
    dirty_markers_written: int = 0
    """Markers of touched 15m buckets sent in the same BatchWriteItem calls as the intervals."""


usage = Usage()


def _connection() -> Any:
    return IntervalItem._get_connection()


def encode_value(value: Any) -> str:
    """The stored form of a value: compact JSON, non-ASCII kept as UTF-8 (an escape costs 6-12 bytes)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def decode_value(raw: str) -> Any:
    return json.loads(raw)


def _count_write(group: list[batch.Tabled]) -> None:
    usage.write_requests += 1
    usage.write_units += sum(_write_units(r) for _, r in group)
    table = IntervalItem.Meta.table_name
    intervals = sum(1 for name, _ in group if name == table)
    usage.items_written += intervals
    usage.dirty_markers_written += len(group) - intervals


def _batch_write(stream_id: str, requests: list[dict[str, Any]], describe: Any, mark: bool = True) -> None:
    """BatchWriteItem in groups of 25, the dirty markers of the touched 15m buckets first, in the
    same calls; UnprocessedItems retried with backoff, else a 503 naming the intervals not stored.

    Markers go first so a bucket is dirty before its new intervals can be read raw; the `changes`
    function marks the buckets again from the table's stream, after the write.
    """
    buckets = {(_pk(r), _ts(r) - _ts(r) % BASE_MS) for r in requests} if mark else set()
    dirty = [(CatalogItem.Meta.table_name, m) for m in markers.marker_puts(buckets)]
    table = IntervalItem.Meta.table_name
    unstored = batch.write_tables(IntervalItem, [*dirty, *((table, r) for r in requests)], _count_write,
                                  BACKOFF_BASE_S)
    if unstored:
        failed = [describe(r) for name, r in unstored if name == table]
        raise Unavailable("DynamoDB did not accept every interval; these were not stored", notStored=failed)


def _pk(request: dict[str, Any]) -> str:
    key = request["PutRequest"]["Item"] if "PutRequest" in request else request["DeleteRequest"]["Key"]
    return str(key["pk"]["S"])


def _ts(request: dict[str, Any]) -> int:
    key = request["PutRequest"]["Item"] if "PutRequest" in request else request["DeleteRequest"]["Key"]
    return int(key["sk"]["N"])


def _write_units(request: dict[str, Any]) -> int:
    """DynamoDB bills one write unit per started KB of item (a delete counts one)."""
    item = request.get("PutRequest", {}).get("Item")
    if item is None:
        return 1
    size = sum(len(name) + len(next(iter(value.values()))) for name, value in item.items())
    return max(1, -(-size // 1024))


def _key(stream_id: str, ts: int) -> dict[str, Any]:
    return {"pk": {"S": stream_id}, "sk": {"N": str(ts)}}


def put_many(stream_id: str, intervals: Sequence[Interval], expires_after_s: int | None = None) -> int:
    """Upsert intervals of one stream; the same (stream, ts) twice in one call is stored once (last wins)."""
    latest: dict[int, Any] = {}
    for interval in intervals:
        latest[interval.timestamp] = interval.value
    requests = []
    for ts, value in latest.items():
        item = _key(stream_id, ts)
        item["v"] = {"S": encode_value(value)}
        if expires_after_s is not None:
            item["expires"] = {"N": str(ts // 1000 + expires_after_s)}
        requests.append({"PutRequest": {"Item": item}})
    _batch_write(stream_id, requests, lambda r: {"stream": stream_id, "timestamp": _ts(r)})
    return len(latest)


def put_many_streams(batches: Sequence[tuple[str, Sequence[Interval], int | None]]) -> int:
    """Upsert intervals of several streams in the same BatchWriteItem calls: (stream id, intervals,
    expires_after_s) each, as put_many does for one; returns how many distinct (stream, ts)."""
    requests = []
    for stream_id, points, expires_after_s in batches:
        latest = {p.timestamp: p.value for p in points}
        for ts, value in latest.items():
            item = {**_key(stream_id, ts), "v": {"S": encode_value(value)}}
            if expires_after_s is not None:
                item["expires"] = {"N": str(ts // 1000 + expires_after_s)}
            requests.append({"PutRequest": {"Item": item}})
    if requests:
        _batch_write("", requests, lambda r: {"stream": _pk(r), "timestamp": _ts(r)})
    return len(requests)


def _query(
    stream_id: str, start: int, end: int, descending: bool, limit: int | None, keys_only: bool = False
) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": stream_id}, ":a": {"N": str(start)}, ":b": {"N": str(end)}},
        "ScanIndexForward": not descending,
        "ConsistentRead": True,
    }
    if keys_only:
        params["ProjectionExpression"] = "pk, sk"
    for items in query.pages(IntervalItem, params, limit):
        usage.read_requests += 1
        usage.items_read += len(items)
        yield from items


def query_range(
    stream_id: str, start: int, end: int, *, descending: bool = False, limit: int | None = None
) -> list[Interval]:
    """Intervals with start <= ts <= end, in time order (or reversed), at most `limit`."""
    return [
        Interval(int(item["sk"]["N"]), decode_value(item["v"]["S"]))
        for item in _query(stream_id, start, end, descending, limit)
    ]


def count_range(stream_id: str, start: int, end: int) -> int:
    """How many intervals have start <= ts <= end: a Query with Select=COUNT (no values sent)."""
    params: dict[str, Any] = {
        "TableName": IntervalItem.Meta.table_name,
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":p": {"S": stream_id}, ":a": {"N": str(start)}, ":b": {"N": str(end)}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    connection = _connection().connection
    total = 0
    while True:
        data = connection.dispatch("Query", params)
        usage.read_requests += 1
        usage.items_read += int(data.get("ScannedCount", 0))
        total += int(data.get("Count", 0))
        if not data.get("LastEvaluatedKey"):
            return total
        params["ExclusiveStartKey"] = data["LastEvaluatedKey"]


def latest(stream_id: str) -> Interval | None:
    found = query_range(stream_id, 0, 2**53, descending=True, limit=1)
    return found[0] if found else None


def delete_range(stream_id: str, start: int, end: int, mark: bool = True) -> int:
    """Delete every interval with start <= ts <= end; returns how many were deleted.

    `mark=False` for a stream being deleted whole: its buckets are not re-aggregated.
    """
    keys = [item["sk"]["N"] for item in _query(stream_id, start, end, False, None, keys_only=True)]
    requests = [{"DeleteRequest": {"Key": _key(stream_id, int(ts))}} for ts in keys]
    _batch_write(stream_id, requests, lambda r: {"stream": stream_id, "timestamp": _ts(r)}, mark)
    return len(keys)


def iter_range(stream_id: str, start: int, end: int, *, descending: bool = False) -> Iterator[Interval]:
    """Intervals with start <= ts <= end, page by page as the caller consumes them."""
    for item in _query(stream_id, start, end, descending, None):
        yield Interval(int(item["sk"]["N"]), decode_value(item["v"]["S"]))


def get_at(stream_id: str, ts: int) -> Interval | None:
    """The interval at one timestamp: one GetItem."""
    data = _connection().connection.dispatch("GetItem", {
        "TableName": IntervalItem.Meta.table_name, "Key": _key(stream_id, ts), "ConsistentRead": True,
    })
    usage.read_requests += 1
    item = data.get("Item")
    if item is None:
        return None
    usage.items_read += 1
    return Interval(ts, decode_value(item["v"]["S"]))


def reserve(stream_id: str, count: int, now: int) -> int:
    """The first of `count` consecutive timestamps no other call of this stream gets: from `now`,
    or after the last reservation when that is later. A counter item in the catalog, one or two
    conditional UpdateItems; callers then write plain upserts that cannot collide."""
    from botocore.exceptions import ClientError

    connection = _connection().connection
    key = {"pk": {"S": f"SEQ#{stream_id}"}, "sk": {"S": "SEQ"}}
    params: dict[str, Any] = {
        "TableName": CatalogItem.Meta.table_name, "Key": key, "ReturnValues": "UPDATED_NEW",
        "UpdateExpression": "SET hi = :end", "ConditionExpression": "attribute_not_exists(hi) OR hi <= :now",
        "ExpressionAttributeValues": {":end": {"N": str(now + count)}, ":now": {"N": str(now)}},
    }
    try:
        connection.dispatch("UpdateItem", params)
        usage.write_requests += 1
        return now
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    data = connection.dispatch("UpdateItem", {
        "TableName": CatalogItem.Meta.table_name, "Key": key, "ReturnValues": "UPDATED_NEW",
        "UpdateExpression": "ADD hi :n", "ExpressionAttributeValues": {":n": {"N": str(count)}},
    })
    usage.write_requests += 2
    return int(data["Attributes"]["hi"]["N"]) - count


def delete_at(stream_id: str, ts: int) -> None:
    """Delete the interval at one timestamp (its 15m bucket marked dirty in the same call)."""
    _batch_write(stream_id, [{"DeleteRequest": {"Key": _key(stream_id, ts)}}],
                 lambda r: {"stream": stream_id, "timestamp": _ts(r)})
