"""Rollups repository: aggregate buckets, the dirty markers that say which are stale, and tombstones.

Rollup items: `pk = <stream>#<period>`, `sk = bucket start ms`, `agg` a map of the bucket's
aggregate (numbers that must stay exact -- sum, min, max, first, last -- as JSON text).
A zone item `pk = <stream>#zone` records the time zone the 1h/1d/1mo buckets were folded in.

Dirty markers live in the catalog table (the `changes` function may write only there):
`pk = DIRTY#<shard>`, `sk = <stream>#<15m bucket start, 13 digits>`, `t` = a token that changes
with every mark, so a marker re-dirtied while the job worked survives the job's conditional clear.
Sharding spreads the markers of busy streams over several partitions.

Tombstones (`pk = GONE#<stream>`, `sk = GUARD`) keep a deleted stream's org/pool/station for the
`changes` function, whose REMOVE records arrive after the catalog item is gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from watershed.errors import Unavailable
from watershed.store import batch, query
from watershed.store import intervals as intervals_store
from watershed.store.markers import SHARDS, marker_puts
from watershed.store.markers import marker_key as _marker_key
from watershed.store.tables import CatalogItem, RollupItem

PERIODS = ("15m", "1h", "1d", "1mo")
BASE_MS = intervals_store.BASE_MS
TOMBSTONE_TTL_S = 7 * 86_400


@dataclass
class Usage(intervals_store.Usage):
    """What the rollups table and the dirty markers cost, counted like store.intervals.usage."""

    marker_read_requests: int = 0
    markers_read: int = 0
    marker_write_requests: int = 0
    markers_written: int = 0

    def requests(self) -> int:
        return self.read_requests + self.write_requests + self.marker_read_requests + self.marker_write_requests


usage = Usage()


def _dispatch(model: Any, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return model._get_connection().connection.dispatch(operation, params)  # type: ignore[no-any-return]


# rollup items


@dataclass(frozen=True)
class Bucket:
    """One stored aggregate: its period, start and the fields of watershed.services.rollup.Agg."""

    period: str
    start: int
    fields: dict[str, Any]


def _pk(stream_id: str, period: str) -> str:
    return f"{stream_id}#{period}"


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("n", "ft", "lt"):
            out[name] = {"N": str(value)}
        else:
            out[name] = {"S": json.dumps(value, separators=(",", ":"))}
    return out


def _decode(period: str, item: dict[str, Any]) -> Bucket:
    fields: dict[str, Any] = {}
    for name, value in item["agg"]["M"].items():
        if "N" in value:
            fields[name] = int(value["N"])
        else:
            fields[name] = json.loads(value["S"])
    return Bucket(period, int(item["sk"]["N"]), fields)


def read(stream_id: str, period: str, start: int, end: int, page: int = 1000) -> Iterator[Bucket]:
    """Buckets of one period with start <= bucket start < end, in time order, read lazily."""
    params: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {
            ":p": {"S": _pk(stream_id, period)}, ":a": {"N": str(start)}, ":b": {"N": str(end - 1)},
        },
        "ConsistentRead": True,
        "Limit": page,
    }
    for items in query.pages(RollupItem, params):
        usage.read_requests += 1
        usage.items_read += len(items)
        for item in items:
            yield _decode(period, item)


def write(stream_id: str, puts: Iterable[Bucket], deletes: Iterable[tuple[str, int]]) -> None:
    """Store buckets and remove empty ones, in BatchWriteItem groups of 25 (retried, never dropped)."""
    requests: dict[tuple[str, int], dict[str, Any]] = {}
    for bucket in puts:
        item = {"pk": {"S": _pk(stream_id, bucket.period)}, "sk": {"N": str(bucket.start)},
                "agg": {"M": _encode(bucket.fields)}}
        requests[(bucket.period, bucket.start)] = {"PutRequest": {"Item": item}}
    for period, start in deletes:
        key = {"pk": {"S": _pk(stream_id, period)}, "sk": {"N": str(start)}}
        requests[(period, start)] = {"DeleteRequest": {"Key": key}}
    _batch_write(RollupItem, list(requests.values()), markers=False)


def _count_write(group: list[dict[str, Any]], *, markers: bool) -> None:
    if markers:
        usage.marker_write_requests += 1
        usage.markers_written += len(group)
    else:
        usage.write_requests += 1
        usage.items_written += len(group)


def _batch_write(model: Any, requests: list[dict[str, Any]], *, markers: bool) -> None:
    unstored = batch.write_all(model, requests, lambda group: _count_write(group, markers=markers))
    if unstored:
        raise Unavailable(f"DynamoDB did not accept {len(unstored)} writes to {model.Meta.table_name}")


def zone_of(stream_id: str) -> str | None:
    """The time zone the stream's 1h/1d/1mo buckets were folded in (None before the first fold)."""
    data = _dispatch(RollupItem, "GetItem", {
        "TableName": RollupItem.Meta.table_name, "Key": {"pk": {"S": _pk(stream_id, "zone")}, "sk": {"N": "0"}},
        "ConsistentRead": True,
    })
    usage.read_requests += 1
    item = data.get("Item")
    return None if item is None else str(item["agg"]["M"]["z"]["S"])


def set_zone(stream_id: str, zone: str) -> None:
    item = {"pk": {"S": _pk(stream_id, "zone")}, "sk": {"N": "0"}, "agg": {"M": {"z": {"S": zone}}}}
    _dispatch(RollupItem, "PutItem", {"TableName": RollupItem.Meta.table_name, "Item": item})
    usage.write_requests += 1
    usage.items_written += 1


def delete_upper(stream_id: str) -> None:
    """Drop the 1h/1d/1mo buckets of a stream (its time zone changed; they are refolded from 15m)."""
    keys = [(period, b.start) for period in PERIODS[1:] for b in read(stream_id, period, 0, 2**53)]
    write(stream_id, (), keys)


def delete_stream(stream_id: str) -> int:
    """Remove every rollup of a deleted stream."""
    removed = 0
    with RollupItem.batch_write() as batch:
        for period in (*PERIODS, "zone"):
            for item in RollupItem.query(f"{stream_id}#{period}", attributes_to_get=["pk", "sk"]):
                batch.delete(item)
                removed += 1
    return removed


# dirty markers


@dataclass(frozen=True)
class Marker:
    stream: str
    bucket: int
    token: str


def mark_dirty(buckets: Iterable[tuple[str, int]]) -> int:
    """Mark (stream, 15m bucket start) pairs dirty: one idempotent put each, batched by 25."""
    requests = marker_puts(buckets)
    _batch_write(CatalogItem, requests, markers=True)
    return len(requests)


def _marker(item: dict[str, Any]) -> Marker:
    stream, _, bucket = item["sk"]["S"].rpartition("#")
    return Marker(stream, int(bucket), item["t"]["S"])


def _query_markers(pk: str, bounds: tuple[str, str] | None, limit: int | None) -> Iterator[Marker]:
    params: dict[str, Any] = {
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": pk}},
        "ConsistentRead": True,
    }
    if bounds is not None:
        params["KeyConditionExpression"] = "pk = :p AND sk BETWEEN :a AND :b"
        params["ExpressionAttributeValues"].update({":a": {"S": bounds[0]}, ":b": {"S": bounds[1]}})
    for items in query.pages(CatalogItem, params, limit):
        usage.marker_read_requests += 1
        usage.markers_read += len(items)
        for item in items:
            yield _marker(item)


def dirty_in(stream_id: str, start: int, end: int) -> set[int]:
    """Starts of the stream's dirty 15m buckets that overlap [start, end)."""
    first = max(0, start - start % BASE_MS)
    pk = _marker_key(stream_id, 0)["pk"]["S"]
    low, high = f"{stream_id}#{first:013d}", f"{stream_id}#{max(first, end - 1):013d}"
    return {m.bucket for m in _query_markers(pk, (low, high), None)}


def take_dirty(limit: int, first_shard: int = 0) -> list[Marker]:
    """Up to `limit` markers, visiting shards from `first_shard` round so no shard starves."""
    taken: list[Marker] = []
    for step in range(SHARDS):
        if len(taken) >= limit:
            break
        pk = f"DIRTY#{(first_shard + step) % SHARDS}"
        taken.extend(_query_markers(pk, None, limit - len(taken)))
    return taken


def clear(markers: Iterable[Marker]) -> int:
    """Delete markers whose token is unchanged; a marker re-dirtied meanwhile stays. Returns cleared."""
    cleared = 0
    for marker in markers:
        try:
            _dispatch(CatalogItem, "DeleteItem", {
                "TableName": CatalogItem.Meta.table_name,
                "Key": _marker_key(marker.stream, marker.bucket),
                "ConditionExpression": "t = :t",
                "ExpressionAttributeValues": {":t": {"S": marker.token}},
            })
            cleared += 1
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        finally:
            usage.marker_write_requests += 1
    return cleared


# tombstones of deleted streams


def remember_deleted(doc: dict[str, Any]) -> None:
    """Keep org/pool/station of a stream being deleted for a week (TTL attribute `expires`)."""
    body = {"org": doc["org"], "pool": doc["pool"], "station": doc["station"]}
    item = {
        "pk": {"S": f"GONE#{doc['id']}"}, "sk": {"S": "GUARD"}, "kind": {"S": "tombstone"},
        "org": {"S": doc["org"]}, "doc": {"S": json.dumps(body)},
        "expires": {"N": str(int(time.time()) + TOMBSTONE_TTL_S)},
    }
    _dispatch(CatalogItem, "PutItem", {"TableName": CatalogItem.Meta.table_name, "Item": item})


def deleted_stream(stream_id: str) -> dict[str, Any] | None:
    """The org/pool/station of a deleted stream, or None if it was never deleted (or long ago)."""
    data = _dispatch(CatalogItem, "GetItem", {
        "TableName": CatalogItem.Meta.table_name,
        "Key": {"pk": {"S": f"GONE#{stream_id}"}, "sk": {"S": "GUARD"}}, "ConsistentRead": True,
    })
    item = data.get("Item")
    return None if item is None else dict(json.loads(item["doc"]["S"]))
