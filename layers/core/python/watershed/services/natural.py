"""Find-or-create by natural key: pools by key, stations by key, streams by alias.

The facades address the model by names their clients already hold (a Byteport namespace and
device uid, a Custom Stream dataset uuid); a name never seen is created on the first write.
"""

from __future__ import annotations

from typing import Any

from watershed.errors import Conflict, NotFound
from watershed.model import DEFAULT_BUCKET, Principal
from watershed.services import catalog as cat


def pool(principal: Principal, key: str, create: bool, name: str | None = None) -> dict[str, Any]:
    """The caller's pool with this key; created (named `name` or the key) when `create`."""
    found = cat.find_pool_by_key(principal, key)
    if found is not None:
        return found
    if not create:
        raise NotFound("pool not found", "key")
    try:
        return cat.create_pool(principal, {"name": name or key, "key": key})
    except Conflict:
        again = cat.find_pool_by_key(principal, key)
        if again is None:
            raise
        return again


def station(principal: Principal, pool_doc: dict[str, Any], key: str, create: bool,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The station with this key in the pool; created (named by its key) when `create`."""
    found = cat.find_station_by_key(principal, pool_doc["id"], key)
    if found is not None:
        return found
    if not create:
        raise NotFound("station not found", "key")
    try:
        return cat.create_station(principal, pool_doc["id"], {"name": key, "key": key, **(extra or {})})
    except Conflict:
        again = cat.find_station_by_key(principal, pool_doc["id"], key)
        if again is None:
            raise
        return again


def stream(station_doc: dict[str, Any], alias: str, stream_type: str | None,
           body: dict[str, Any] | None = None, bucket: str = DEFAULT_BUCKET) -> dict[str, Any]:
    """The stream with this alias at the station; created with `stream_type` when it is given."""
    found = cat.find_stream_by_alias(station_doc["id"], bucket, alias)
    if found is not None:
        return found
    if stream_type is None:
        raise NotFound("stream not found", "alias")
    try:
        return cat.create_stream_in(station_doc, {"name": alias, **(body or {}), "alias": alias,
                                                  "type": stream_type, "bucket": bucket})
    except Conflict:
        again = cat.find_stream_by_alias(station_doc["id"], bucket, alias)
        if again is None:
            raise
        return again


MAX_NUMBERED = 5
"""Attempts at the next free station number when another create takes it first."""


def numbered_station(principal: Principal, pool_doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A new station whose key is the next small integer in its pool (Bitpool's StationID)."""
    taken = [int(doc["key"]) for _, doc in cat.list_stations(principal, pool_doc["id"], None)
             if str(doc.get("key", "")).isdigit()]
    number = max(taken, default=0) + 1
    for attempt in range(MAX_NUMBERED):
        try:
            return cat.create_station(principal, pool_doc["id"], {"name": name, "key": str(number + attempt)})
        except Conflict:
            continue
    raise Conflict("could not allocate a station number; retry", "StationID")
