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
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


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
    buckets = {(stream_id, _ts(r) - _ts(r) % BASE_MS) for r in requests} if mark else set()
    dirty = [(CatalogItem.Meta.table_name, m) for m in markers.marker_puts(buckets)]
    table = IntervalItem.Meta.table_name
    unstored = batch.write_tables(IntervalItem, [*dirty, *((table, r) for r in requests)], _count_write,
                                  BACKOFF_BASE_S)
    if unstored:
        failed = [describe(r) for name, r in unstored if name == table]
        raise Unavailable("DynamoDB did not accept every interval; these were not stored", notStored=failed)


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


TX_ITEMS = 100
"""TransactWriteItems takes at most 100 actions."""


class Taken(Exception):
    """A conditional insert found its key taken: `timestamps` (intervals) or `guards` (catalog names)."""

    def __init__(self, timestamps: list[int], guards: list[str]) -> None:
        super().__init__(f"taken: {timestamps} {guards}")
        self.timestamps = timestamps
        self.guards = guards


def insert_new(
    stream_id: str,
    points: Sequence[Interval],
    guards: dict[str, tuple[str, dict[str, Any]]],
    drop: Sequence[tuple[int, str | None]] = (),
    overwrite: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """Insert intervals whose timestamps must be free, with catalog guard items that must be new,
    atomically in one TransactWriteItems (at most 100 actions with the dirty markers).

    `guards` maps a catalog pk to (org, document); `overwrite` the same for guards rewritten
    whatever they held; `drop` lists (ts, guard pk or None) to delete in the same transaction (a
    document moving to a new timestamp). A taken key raises Taken.
    """
    table, catalog_table = IntervalItem.Meta.table_name, CatalogItem.Meta.table_name
    touched = {(stream_id, p.timestamp - p.timestamp % BASE_MS) for p in points}
    touched |= {(stream_id, ts - ts % BASE_MS) for ts, _ in drop}
    actions: list[dict[str, Any]] = [
        {"Put": {"TableName": catalog_table, "Item": m["PutRequest"]["Item"]}} for m in markers.marker_puts(touched)
    ]
    for point in points:
        item = {**_key(stream_id, point.timestamp), "v": {"S": encode_value(point.value)}}
        actions.append({"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}})
    names = list(guards)
    for name in names:
        org, doc = guards[name]
        item = {"pk": {"S": name}, "sk": {"S": "GUARD"}, "kind": {"S": "guard"}, "org": {"S": org},
                "doc": {"S": encode_value(doc)}}
        actions.append({"Put": {"TableName": catalog_table, "Item": item,
                                "ConditionExpression": "attribute_not_exists(pk)"}})
    for name, (org, doc) in (overwrite or {}).items():
        item = {"pk": {"S": name}, "sk": {"S": "GUARD"}, "kind": {"S": "guard"}, "org": {"S": org},
                "doc": {"S": encode_value(doc)}}
        actions.append({"Put": {"TableName": catalog_table, "Item": item}})
    for ts, guard in drop:
        actions.append({"Delete": {"TableName": table, "Key": _key(stream_id, ts)}})
        if guard is not None and guard not in guards and guard not in (overwrite or {}):
            actions.append({"Delete": {"TableName": catalog_table, "Key": {"pk": {"S": guard}, "sk": {"S": "GUARD"}}}})
    if len(actions) > TX_ITEMS:
        raise ValueError(f"{len(actions)} actions do not fit one transaction")
    _transact(actions, len(touched), [p.timestamp for p in points], names)
    usage.items_written += len(points)
    usage.dirty_markers_written += len(touched)


def _transact(actions: list[dict[str, Any]], markers: int, timestamps: list[int], names: list[str]) -> None:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import PynamoDBException

    usage.write_requests += 1
    usage.write_units += 2 * len(actions)
    try:
        _connection().connection.dispatch("TransactWriteItems", {"TransactItems": actions})
    except (ClientError, PynamoDBException) as error:
        reasons = _cancellation_reasons(error)
        if not reasons:
            raise
        failed = [r.get("Code") == "ConditionalCheckFailed" for r in reasons]
        taken_ts = [ts for ts, no in zip(timestamps, failed[markers:], strict=False) if no]
        taken_guards = [n for n, no in zip(names, failed[markers + len(timestamps):], strict=False) if no]
        if taken_ts or taken_guards:
            raise Taken(taken_ts, taken_guards) from None
        raise Unavailable("DynamoDB refused the transaction; nothing was stored") from None


def _cancellation_reasons(error: Exception) -> list[dict[str, Any]]:
    """The per-action reasons of a cancelled transaction (pynamodb's list, or botocore's response)."""
    parsed = getattr(error, "cancellation_reasons", None)
    if parsed is not None:
        return [{"Code": getattr(r, "code", None) if r is not None else "None"} for r in parsed]
    response = getattr(error, "response", None) or {}
    return list(response.get("CancellationReasons") or [])


def delete_at(stream_id: str, ts: int, guard: str | None) -> None:
    """Delete one interval and, with it, a catalog guard item (a document and its `_id`)."""
    insert_new(stream_id, [], {}, [(ts, guard)])
