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
from watershed.store import batch, query
from watershed.store.tables import IntervalItem

BACKOFF_BASE_S = 0.05


@dataclass
class Usage:
    """What the repository cost: requests and items, the bill."""

    write_requests: int = 0
    items_written: int = 0
    write_units: float = 0
    read_requests: int = 0
    items_read: int = 0


usage = Usage()


def _connection() -> Any:
    return IntervalItem._get_connection()


def encode_value(value: Any) -> str:
    """The stored form of a value: compact JSON, non-ASCII kept as UTF-8 (an escape costs 6-12 bytes)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def decode_value(raw: str) -> Any:
    return json.loads(raw)


def _count_write(group: list[dict[str, Any]]) -> None:
    usage.write_requests += 1
    usage.write_units += sum(_write_units(r) for r in group)
    usage.items_written += len(group)


def _batch_write(requests: list[dict[str, Any]], describe: Any) -> None:
    """BatchWriteItem in groups of 25; UnprocessedItems retried with backoff, else a 503 naming them."""
    unstored = batch.write_all(IntervalItem, requests, _count_write, BACKOFF_BASE_S)
    if unstored:
        failed = [describe(r) for r in unstored]
        raise Unavailable("DynamoDB did not accept every interval; these were not stored", notStored=failed)


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
    _batch_write(requests, lambda r: {"stream": stream_id, "timestamp": int(r["PutRequest"]["Item"]["sk"]["N"])})
    return len(latest)


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


def latest(stream_id: str) -> Interval | None:
    found = query_range(stream_id, 0, 2**53, descending=True, limit=1)
    return found[0] if found else None


def delete_range(stream_id: str, start: int, end: int) -> int:
    """Delete every interval with start <= ts <= end; returns how many were deleted."""
    keys = [item["sk"]["N"] for item in _query(stream_id, start, end, False, None, keys_only=True)]
    requests = [{"DeleteRequest": {"Key": _key(stream_id, int(ts))}} for ts in keys]
    _batch_write(requests, lambda r: {"stream": stream_id, "timestamp": int(r["DeleteRequest"]["Key"]["sk"]["N"])})
    return len(keys)
