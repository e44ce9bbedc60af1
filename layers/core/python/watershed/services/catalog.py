"""Pools, stations and streams: create, read, update, list, and delete with everything under them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from watershed import validation as v
from watershed.errors import NotFound, ValidationError
from watershed.model import DEFAULT_BUCKET, Principal, Stream, StreamType
from watershed.store import catalog as store
from watershed.store import intervals, rollups
from watershed.timefmt import now_ms

POOL_FIELDS = ("name", "description", "autoCreateStreams")
STATION_FIELDS = ("name", "key", "labels", "serialNumber", "model", "location")
STREAM_FIELDS = ("name", "type", "unit", "alias", "bucket", "timeZone", "retentionDays")
STREAM_MUTABLE = ("name", "unit", "alias", "timeZone", "retentionDays")
INTERNAL = ("org", "secretHash", "hash")
MAX_ID_BYTES = 256


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the API shows it."""
    from watershed.timefmt import format_time

    out = {k: val for k, val in doc.items() if k not in INTERNAL}
    for name in ("created", "updated", "lastOnlineTime"):
        if isinstance(out.get(name), int):
            out[name] = format_time(out[name])
    return out


def _owned(kind: str, entity_id: str, principal: Principal, field: str = "id") -> dict[str, Any]:
    """An entity of the caller's organisation (and pools); anything else is a 404, never a leak."""
    if len(entity_id.encode()) > MAX_ID_BYTES:
        raise NotFound(f"{kind} not found", field)
    doc = store.get(kind, entity_id)
    if doc is None or doc.get("org") != principal.org:
        raise NotFound(f"{kind} not found", field)
    pool = doc["id"] if kind == "pool" else doc.get("pool")
    if pool is not None and not principal.may_see_pool(pool):
        raise NotFound(f"{kind} not found", field)
    return doc


# pools


def create_pool(principal: Principal, body: Any) -> dict[str, Any]:
    v.obj(body, POOL_FIELDS, ("name",))
    if principal.pools:
        raise ValidationError("a pool-restricted key cannot create pools", "name")
    doc = {
        "id": str(uuid.uuid4()),
        "org": principal.org,
        "name": v.text(body["name"], "name"),
        "description": v.text(body.get("description", ""), "description", max_len=2048, allow_empty=True),
        "autoCreateStreams": v.boolean(body.get("autoCreateStreams", False), "autoCreateStreams"),
        "created": now_ms(),
    }
    store.create("pool", doc, ("org", principal.org))
    return doc


def get_pool(principal: Principal, pool_id: str) -> dict[str, Any]:
    return _owned("pool", pool_id, principal)


def update_pool(principal: Principal, pool_id: str, body: Any) -> dict[str, Any]:
    doc = _owned("pool", pool_id, principal)
    v.obj(body, POOL_FIELDS)
    if "name" in body:
        doc["name"] = v.text(body["name"], "name")
    if "description" in body:
        doc["description"] = v.text(body["description"], "description", max_len=2048, allow_empty=True)
    if "autoCreateStreams" in body:
        doc["autoCreateStreams"] = v.boolean(body["autoCreateStreams"], "autoCreateStreams")
    doc["updated"] = now_ms()
    store.replace("pool", doc, ("org", principal.org))
    return doc


def list_pools(principal: Principal, after: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for sort_key, doc in store.children("org", principal.org, "pool", after):
        if principal.may_see_pool(doc["id"]):
            yield sort_key, doc


# stations


def _station_key_guard(pool: str, key: str) -> str:
    return f"SKEY#{pool}#{key}"


def _location(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    v.obj(value, ("lat", "lon"), ("lat", "lon"), "location")
    return {
        "lat": v.number(value["lat"], "location.lat", -90, 90),
        "lon": v.number(value["lon"], "location.lon", -180, 180),
    }


def create_station(principal: Principal, pool_id: str, body: Any) -> dict[str, Any]:
    _owned("pool", pool_id, principal)
    v.obj(body, STATION_FIELDS, ("name",))
    station_id = str(uuid.uuid4())
    key = v.alias(body["key"], "key") if body.get("key") is not None else station_id
    doc: dict[str, Any] = {
        "id": station_id,
        "org": principal.org,
        "pool": pool_id,
        "name": v.text(body["name"], "name"),
        "key": key,
        "labels": v.labels(body.get("labels", [])),
        "serialNumber": v.opt_text(body.get("serialNumber"), "serialNumber"),
        "model": v.opt_text(body.get("model"), "model"),
        "location": _location(body.get("location")),
        "isOnline": False,
        "lastOnlineTime": None,
        "created": now_ms(),
    }
    guard = {_station_key_guard(pool_id, key): {"field": "key", "station": station_id, "org": principal.org}}
    store.create("station", doc, ("pool", pool_id), guard)
    return doc


def get_station(principal: Principal, station_id: str) -> dict[str, Any]:
    return _owned("station", station_id, principal)


def get_station_any(station_id: str) -> dict[str, Any] | None:
    """A station by id without an organisation check: for device paths that prove identity otherwise."""
    return store.get("station", station_id)


def save_station(doc: dict[str, Any]) -> None:
    """Persist a station changed by another service (secret, online status)."""
    doc["updated"] = now_ms()
    store.replace("station", doc, ("pool", doc["pool"]))


def update_station(principal: Principal, station_id: str, body: Any) -> dict[str, Any]:
    doc = _owned("station", station_id, principal)
    v.obj(body, STATION_FIELDS)
    add: dict[str, dict[str, Any]] = {}
    drop: list[str] = []
    if "key" in body and body["key"] != doc["key"]:
        new_key = v.alias(body["key"], "key")
        add[_station_key_guard(doc["pool"], new_key)] = {"field": "key", "station": station_id, "org": doc["org"]}
        drop.append(_station_key_guard(doc["pool"], doc["key"]))
        doc["key"] = new_key
    if "name" in body:
        doc["name"] = v.text(body["name"], "name")
    if "labels" in body:
        doc["labels"] = v.labels(body["labels"])
    for name in ("serialNumber", "model"):
        if name in body:
            doc[name] = v.opt_text(body[name], name)
    if "location" in body:
        doc["location"] = _location(body["location"])
    doc["updated"] = now_ms()
    store.replace("station", doc, ("pool", doc["pool"]), add, drop)
    return doc


def station_filter(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The list filters: labels (any/all), serialNumber, name prefix."""
    wanted = [x for x in (query.get("labels") or "").split(",") if x]
    for i, label in enumerate(wanted):
        if not v.LABEL.match(label):
            raise ValidationError("labels match ^[a-zA-Z0-9-_:@.]+$", f"labels[{i}]")
    match = query.get("labelsMatch", "any")
    if match not in ("any", "all"):
        raise ValidationError("must be 'any' or 'all'", "labelsMatch")
    serial = query.get("serialNumber")
    prefix = query.get("namePrefix")

    def keep(doc: dict[str, Any]) -> bool:
        have = set(doc.get("labels") or [])
        if wanted and not (all if match == "all" else any)(label in have for label in wanted):
            return False
        if serial is not None and doc.get("serialNumber") != serial:
            return False
        return prefix is None or str(doc.get("name", "")).startswith(prefix)

    return keep


def list_stations(principal: Principal, pool_id: str, after: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    _owned("pool", pool_id, principal)
    return store.children("pool", pool_id, "station", after)


# streams


def alias_guard(station: str, bucket: str, alias: str) -> str:
    return f"ALIAS#{station}#{bucket}#{alias}"


def stream_from_doc(doc: dict[str, Any]) -> Stream:
    return Stream(
        id=doc["id"], org=doc["org"], pool=doc["pool"], station=doc["station"], name=doc["name"],
        type=StreamType(doc["type"]), created=doc["created"], bucket=doc.get("bucket") or DEFAULT_BUCKET,
        alias=doc.get("alias"), unit=doc.get("unit"), time_zone=doc.get("timeZone") or "UTC",
        retention_days=doc.get("retentionDays"),
    )


def _stream_type(value: Any) -> str:
    try:
        return StreamType(value).value
    except ValueError:
        raise ValidationError(f"type must be one of {', '.join(t.value for t in StreamType)}", "type") from None


def _retention(value: Any) -> int | None:
    return None if value is None else v.integer(value, "retentionDays", 1, 36500)


def create_stream_in(station: dict[str, Any], body: Any) -> dict[str, Any]:
    """Create a stream under a station already checked by the caller."""
    v.obj(body, STREAM_FIELDS, ("name", "type"))
    bucket = v.alias(body.get("bucket", DEFAULT_BUCKET), "bucket")
    doc = {
        "id": str(uuid.uuid4()),
        "org": station["org"],
        "pool": station["pool"],
        "station": station["id"],
        "name": v.text(body["name"], "name"),
        "type": _stream_type(body["type"]),
        "unit": v.opt_text(body.get("unit"), "unit", 32),
        "alias": v.alias(body["alias"]) if body.get("alias") is not None else None,
        "bucket": bucket,
        "timeZone": v.time_zone(body.get("timeZone", "UTC")),
        "retentionDays": _retention(body.get("retentionDays")),
        "created": now_ms(),
    }
    guards = {}
    if doc["alias"]:
        guards[alias_guard(station["id"], bucket, doc["alias"])] = {
            "field": "alias", "stream": doc["id"], "org": station["org"],
        }
    store.create("stream", doc, ("station", station["id"]), guards)
    return doc


def create_stream(principal: Principal, station_id: str, body: Any) -> dict[str, Any]:
    return create_stream_in(_owned("station", station_id, principal), body)


def get_stream(principal: Principal, stream_id: str, field: str = "id") -> dict[str, Any]:
    return _owned("stream", stream_id, principal, field)


def get_stream_any(stream_id: str) -> dict[str, Any] | None:
    return store.get("stream", stream_id)


def find_stream_by_alias(station_id: str, bucket: str, alias: str) -> dict[str, Any] | None:
    """The stream with this alias in (station, bucket): one GetItem on the guard, one on the stream."""
    guard = store.get_lookup(alias_guard(station_id, bucket, alias))
    return None if guard is None else store.get("stream", guard["stream"])


def update_stream(principal: Principal, stream_id: str, body: Any) -> dict[str, Any]:
    doc = _owned("stream", stream_id, principal)
    v.obj(body, STREAM_FIELDS)
    for frozen in ("type", "bucket"):
        if frozen in body and body[frozen] != doc.get(frozen):
            raise ValidationError(f"{frozen} cannot change once data may exist; create a new stream", frozen)
    add: dict[str, dict[str, Any]] = {}
    drop: list[str] = []
    if "alias" in body and body["alias"] != doc.get("alias"):
        if doc.get("alias"):
            drop.append(alias_guard(doc["station"], doc["bucket"], doc["alias"]))
        doc["alias"] = v.alias(body["alias"]) if body["alias"] is not None else None
        if doc["alias"]:
            add[alias_guard(doc["station"], doc["bucket"], doc["alias"])] = {
                "field": "alias", "stream": stream_id, "org": doc["org"],
            }
    if "name" in body:
        doc["name"] = v.text(body["name"], "name")
    if "unit" in body:
        doc["unit"] = v.opt_text(body["unit"], "unit", 32)
    if "timeZone" in body:
        doc["timeZone"] = v.time_zone(body["timeZone"])
    if "retentionDays" in body:
        doc["retentionDays"] = _retention(body["retentionDays"])
    doc["updated"] = now_ms()
    store.replace("stream", doc, ("station", doc["station"]), add, drop)
    return doc


def list_streams(principal: Principal, station_id: str, after: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    _owned("station", station_id, principal)
    return store.children("station", station_id, "stream", after)


# cascade deletes


def _remove_stream(doc: dict[str, Any], counts: dict[str, int]) -> None:
    if doc.get("type") == StreamType.OBJECT:
        from watershed.services import objects

        counts["objects"] += objects.remove_stream_blobs(doc["org"], doc["id"])
    """Tombstone first: the REMOVE records of its intervals reach `changes` after the item is gone."""
    rollups.remember_deleted(doc)
    counts["intervals"] += intervals.delete_range(doc["id"], 0, 2**53, mark=False)
    rollups.delete_stream(doc["id"])
    keys = [(store.entity_pk("stream", doc["id"]), store.META)]
    if doc.get("alias"):
        keys.append((alias_guard(doc["station"], doc["bucket"], doc["alias"]), store.GUARD))
    store.delete_items(keys)
    counts["streams"] += 1


def _remove_station(doc: dict[str, Any], counts: dict[str, int]) -> None:
    from watershed.services import configs

    for _, stream in list(store.children("station", doc["id"], "stream")):
        _remove_stream(stream, counts)
    configs.remove_all(doc["id"])
    store.delete_items([
        (store.entity_pk("station", doc["id"]), store.META),
        (_station_key_guard(doc["pool"], doc["key"]), store.GUARD),
    ])
    counts["stations"] += 1


def _counts() -> dict[str, int]:
    return {"pools": 0, "stations": 0, "streams": 0, "intervals": 0, "objects": 0}


def delete_stream(principal: Principal, stream_id: str) -> dict[str, int]:
    counts = _counts()
    _remove_stream(_owned("stream", stream_id, principal), counts)
    return counts


def delete_station(principal: Principal, station_id: str) -> dict[str, int]:
    counts = _counts()
    _remove_station(_owned("station", station_id, principal), counts)
    return counts


def delete_pool(principal: Principal, pool_id: str) -> dict[str, int]:
    _owned("pool", pool_id, principal)
    counts = _counts()
    for _, station in list(store.children("pool", pool_id, "station")):
        _remove_station(station, counts)
    store.delete_items([(store.entity_pk("pool", pool_id), store.META)])
    counts["pools"] += 1
    return counts
