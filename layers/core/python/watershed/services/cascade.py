"""Deletes with everything under them: pool → stations → buckets, streams → intervals, rollups, blobs.

Its own service because it reaches into catalog, configs and objects alike; keeping it out of
services.catalog leaves no import cycle between catalog and the services built on it.
"""

from __future__ import annotations

from watershed.model import Principal, StreamType
from watershed.services import catalog, configs
from watershed.store import catalog as store
from watershed.store import intervals, rollups

Counts = dict[str, int]


def _counts() -> Counts:
    return {"pools": 0, "stations": 0, "buckets": 0, "streams": 0, "intervals": 0, "objects": 0}


def _remove_stream(doc: dict[str, object], counts: Counts) -> None:
    """Tombstone first: the REMOVE records of its intervals reach `changes` after the item is gone."""
    stream_id, station, bucket = str(doc["id"]), str(doc["station"]), str(doc.get("bucket") or "")
    if doc.get("type") == StreamType.OBJECT:
        from watershed.services import objects

        counts["objects"] += objects.remove_stream_blobs(str(doc["org"]), stream_id)
    rollups.remember_deleted(dict(doc))
    counts["intervals"] += intervals.delete_range(stream_id, 0, 2**53, mark=False)
    rollups.delete_stream(stream_id)
    keys = [(store.entity_pk("stream", stream_id), store.META)]
    if doc.get("alias"):
        keys.append((catalog.alias_guard(station, bucket, str(doc["alias"])), store.GUARD))
    store.delete_items(keys)
    counts["streams"] += 1


def _remove_bucket(station_id: str, name: str, counts: Counts) -> None:
    for stream in catalog.bucket_streams(station_id, name):
        _remove_stream(stream, counts)
    store.delete_items([(store.entity_pk("bucket", catalog.bucket_id(station_id, name)), store.META)])
    counts["buckets"] += 1


def _remove_station(doc: dict[str, object], counts: Counts) -> None:
    station_id = str(doc["id"])
    for _, stream in list(store.children("station", station_id, "stream")):
        _remove_stream(stream, counts)
    buckets = [(store.entity_pk("bucket", b["id"]), store.META) for _, b in store.children("station", station_id,
                                                                                            "bucket")]
    counts["buckets"] += len(buckets)
    configs.remove_all(station_id)
    store.delete_items([
        *buckets,
        (store.entity_pk("station", station_id), store.META),
        (catalog.station_key_guard(str(doc["pool"]), str(doc["key"])), store.GUARD),
    ])
    counts["stations"] += 1


def delete_stream(principal: Principal, stream_id: str) -> Counts:
    counts = _counts()
    _remove_stream(catalog.get_stream(principal, stream_id), counts)
    return counts


def delete_bucket(principal: Principal, station_id: str, name: str) -> Counts:
    catalog.get_bucket(principal, station_id, name)
    counts = _counts()
    _remove_bucket(station_id, name, counts)
    return counts


def delete_station(principal: Principal, station_id: str) -> Counts:
    counts = _counts()
    _remove_station(catalog.get_station(principal, station_id), counts)
    return counts


def delete_pool(principal: Principal, pool_id: str) -> Counts:
    pool = catalog.get_pool(principal, pool_id)
    counts = _counts()
    for _, station in list(store.children("pool", pool_id, "station")):
        _remove_station(station, counts)
    keys = [(store.entity_pk("pool", pool_id), store.META)]
    if pool.get("key"):
        keys.append((catalog.pool_key_guard(pool["org"], pool["key"]), store.GUARD))
    store.delete_items(keys)
    counts["pools"] += 1
    return counts
