"""Pools, stations, buckets and streams: create, read, update, list; deletes are services.cascade."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from watershed import validation as v
from watershed.errors import Conflict, NotFound, ValidationError
from watershed.model import DEFAULT_BUCKET, Principal, Stream, StreamType
from watershed.store import catalog as store
from watershed.timefmt import now_ms

POOL_FIELDS = ("name", "key", "description", "autoCreateStreams", "labels", "props")
STATION_FIELDS = ("name", "key", "labels", "serialNumber", "model", "location", "props")
STREAM_FIELDS = ("name", "type", "unit", "alias", "bucket", "timeZone", "retentionDays", "labels", "props")
STREAM_MUTABLE = ("name", "unit", "alias", "timeZone", "retentionDays", "labels", "props")
BUCKET_FIELDS = ("name", "description", "props")
INTERNAL = ("org", "secretHash", "hash")
MAX_ID_BYTES = 256


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the API shows it."""
    from watershed.timefmt import format_time

    out = {k: val for k, val in doc.items() if k not in INTERNAL}
    if "labels" in out:
        out["labels"] = labels_of(out)
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


def labels_of(doc: dict[str, Any]) -> dict[str, str]:
    """An entity's key/value labels; flat labels stored before key/value ones read as empty values."""
    stored = doc.get("labels") or {}
    return {label: "" for label in stored} if isinstance(stored, list) else dict(stored)


def _patch_common(doc: dict[str, Any], body: dict[str, Any]) -> None:
    """The fields every entity patches alike: labels replace, props merge (RFC 7396, top level)."""
    if "labels" in body:
        doc["labels"] = v.label_map(body["labels"])
    if "props" in body:
        doc["props"] = v.merge_props(doc.get("props"), body["props"])


# pools


def pool_key_guard(org: str, key: str) -> str:
    return f"PKEY#{org}#{key}"


def create_pool(principal: Principal, body: Any) -> dict[str, Any]:
    v.obj(body, POOL_FIELDS, ("name",))
    if principal.pools:
        raise ValidationError("a pool-restricted key cannot create pools", "name")
    key = v.alias(body["key"], "key") if body.get("key") is not None else None
    doc: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "org": principal.org,
        "name": v.text(body["name"], "name"),
        "key": key,
        "description": v.text(body.get("description", ""), "description", max_len=v.DESCRIPTION_MAX,
                              allow_empty=True),
        "autoCreateStreams": v.boolean(body.get("autoCreateStreams", False), "autoCreateStreams"),
        "labels": v.label_map(body.get("labels", {})),
        "props": v.props(body.get("props", {})),
        "created": now_ms(),
    }
    guards = {}
    if key:
        guards[pool_key_guard(principal.org, key)] = {"field": "key", "pool": doc["id"], "org": principal.org}
    store.create("pool", doc, ("org", principal.org), guards)
    return doc


def get_pool(principal: Principal, pool_id: str) -> dict[str, Any]:
    return _owned("pool", pool_id, principal)


def find_pool_by_key(principal: Principal, key: str) -> dict[str, Any] | None:
    """The caller's pool with this key: one GetItem on the guard, one on the pool."""
    guard = store.get_lookup(pool_key_guard(principal.org, key))
    if guard is None:
        return None
    try:
        return _owned("pool", guard["pool"], principal)
    except NotFound:
        return None


def update_pool(principal: Principal, pool_id: str, body: Any) -> dict[str, Any]:
    doc = _owned("pool", pool_id, principal)
    v.obj(body, POOL_FIELDS)
    add: dict[str, dict[str, Any]] = {}
    drop: list[str] = []
    if "key" in body and body["key"] != doc.get("key"):
        if doc.get("key"):
            drop.append(pool_key_guard(doc["org"], doc["key"]))
        doc["key"] = v.alias(body["key"], "key") if body["key"] is not None else None
        if doc["key"]:
            add[pool_key_guard(doc["org"], doc["key"])] = {"field": "key", "pool": pool_id, "org": doc["org"]}
    if "name" in body:
        doc["name"] = v.text(body["name"], "name")
    if "description" in body:
        doc["description"] = v.text(body["description"], "description", max_len=v.DESCRIPTION_MAX, allow_empty=True)
    if "autoCreateStreams" in body:
        doc["autoCreateStreams"] = v.boolean(body["autoCreateStreams"], "autoCreateStreams")
    _patch_common(doc, body)
    doc["updated"] = now_ms()
    store.replace("pool", doc, ("org", principal.org), add, drop)
    return doc


def list_pools(
    principal: Principal, after: str | None, before: str | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    for sort_key, doc in store.children("org", principal.org, "pool", after, before=before):
        if principal.may_see_pool(doc["id"]):
            yield sort_key, doc


# stations


def station_key_guard(pool: str, key: str) -> str:
    return f"SKEY#{pool}#{key}"


def _location(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    v.obj(value, ("lat", "lon"), ("lat", "lon"), "location")
    return {
        "lat": v.number(value["lat"], "location.lat", *v.LATITUDE),
        "lon": v.number(value["lon"], "location.lon", *v.LONGITUDE),
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
        "labels": v.label_map(body.get("labels", {})),
        "props": v.props(body.get("props", {})),
        "serialNumber": v.opt_text(body.get("serialNumber"), "serialNumber"),
        "model": v.opt_text(body.get("model"), "model"),
        "location": _location(body.get("location")),
        "isOnline": False,
        "lastOnlineTime": None,
        "created": now_ms(),
    }
    guard = {station_key_guard(pool_id, key): {"field": "key", "station": station_id, "org": principal.org}}
    store.create("station", doc, ("pool", pool_id), guard)
    return doc


def get_station(principal: Principal, station_id: str) -> dict[str, Any]:
    return _owned("station", station_id, principal)


def find_station_by_key(principal: Principal, pool_id: str, key: str) -> dict[str, Any] | None:
    """The station with this key in the caller's pool: one GetItem on the guard, one on the station."""
    guard = store.get_lookup(station_key_guard(pool_id, key))
    if guard is None or guard.get("org") != principal.org:
        return None
    try:
        return _owned("station", guard["station"], principal)
    except NotFound:
        return None


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
        add[station_key_guard(doc["pool"], new_key)] = {"field": "key", "station": station_id, "org": doc["org"]}
        drop.append(station_key_guard(doc["pool"], doc["key"]))
        doc["key"] = new_key
    if "name" in body:
        doc["name"] = v.text(body["name"], "name")
    _patch_common(doc, body)
    for name in ("serialNumber", "model"):
        if name in body:
            doc[name] = v.opt_text(body[name], name)
    if "location" in body:
        doc["location"] = _location(body["location"])
    doc["updated"] = now_ms()
    store.replace("station", doc, ("pool", doc["pool"]), add, drop)
    return doc


def label_filter(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """`labels=a,b` (keys present) and `labels[k]=v` (key k has value v), any or all of them
    (`labelsMatch=any|all`); an entity with flat labels matches as keys with empty values."""
    wanted: list[tuple[str, str | None]] = []
    for i, label in enumerate(x for x in (query.get("labels") or "").split(",") if x):
        if not v.LABEL.match(label):
            raise ValidationError("labels match ^[a-zA-Z0-9-_:@.]+$", f"labels[{i}]")
        wanted.append((label, None))
    for name, value in query.items():
        if name.startswith("labels[") and name.endswith("]"):
            key = name[len("labels["):-1]
            if not v.LABEL.match(key):
                raise ValidationError("label keys match ^[a-zA-Z0-9-_:@.]+$", name)
            wanted.append((key, value))
    match = query.get("labelsMatch", v.LABELS_MATCH[0])
    if match not in v.LABELS_MATCH:
        raise ValidationError(f"must be one of {', '.join(v.LABELS_MATCH)}", "labelsMatch")
    combine = all if match == "all" else any

    def keep(doc: dict[str, Any]) -> bool:
        have = labels_of(doc)
        return not wanted or combine(key in have and (value is None or have[key] == value) for key, value in wanted)

    return keep


def station_filter(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """The station list filters: labels (any/all, flat or key/value), serialNumber, name prefix."""
    labelled = label_filter(query)
    serial = query.get("serialNumber")
    prefix = query.get("namePrefix")

    def keep(doc: dict[str, Any]) -> bool:
        if not labelled(doc):
            return False
        if serial is not None and doc.get("serialNumber") != serial:
            return False
        return prefix is None or str(doc.get("name", "")).startswith(prefix)

    return keep


def list_stations(
    principal: Principal, pool_id: str, after: str | None, before: str | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    _owned("pool", pool_id, principal)
    return store.children("pool", pool_id, "station", after, before=before)


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
    return None if value is None else v.integer(value, "retentionDays", *v.RETENTION_DAYS)


def create_stream_in(station: dict[str, Any], body: Any) -> dict[str, Any]:
    """Create a stream under a station already checked by the caller."""
    v.obj(body, STREAM_FIELDS, ("name", "type"))
    bucket = v.bucket(body.get("bucket", DEFAULT_BUCKET), "bucket")
    doc = {
        "id": str(uuid.uuid4()),
        "org": station["org"],
        "pool": station["pool"],
        "station": station["id"],
        "name": v.text(body["name"], "name"),
        "type": _stream_type(body["type"]),
        "unit": v.opt_text(body.get("unit"), "unit", v.UNIT_MAX),
        "alias": v.alias(body["alias"]) if body.get("alias") is not None else None,
        "bucket": bucket,
        "timeZone": v.time_zone(body.get("timeZone", "UTC")),
        "retentionDays": _retention(body.get("retentionDays")),
        "labels": v.label_map(body.get("labels", {})),
        "props": v.props(body.get("props", {})),
        "created": now_ms(),
    }
    ensure_bucket(station, bucket)
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
        doc["unit"] = v.opt_text(body["unit"], "unit", v.UNIT_MAX)
    if "timeZone" in body:
        doc["timeZone"] = v.time_zone(body["timeZone"])
    if "retentionDays" in body:
        doc["retentionDays"] = _retention(body["retentionDays"])
    _patch_common(doc, body)
    doc["updated"] = now_ms()
    store.replace("stream", doc, ("station", doc["station"]), add, drop)
    return doc


def list_streams(
    principal: Principal, station_id: str, after: str | None, before: str | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    _owned("station", station_id, principal)
    return store.children("station", station_id, "stream", after, before=before)


# buckets: named groups of streams at a station (ORing data buckets, iTwin sensors, MQTT topic levels)


def bucket_id(station_id: str, name: str) -> str:
    """A bucket's key is its station and name, so a look-up by name is one GetItem."""
    return f"{station_id}#{name}"


def bucket_public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in public(doc).items() if k != "id"}


def _bucket_doc(station: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": bucket_id(station["id"], name),
        "org": station["org"],
        "pool": station["pool"],
        "station": station["id"],
        "name": name,
        "description": v.text(body.get("description", ""), "description", max_len=v.DESCRIPTION_MAX,
                              allow_empty=True),
        "props": v.props(body.get("props", {})),
        "created": now_ms(),
    }


def ensure_bucket(station: dict[str, Any], name: str) -> None:
    """The bucket a new stream goes into exists afterwards (one conditional put)."""
    store.create_if_absent("bucket", _bucket_doc(station, name, {}), ("station", station["id"]))


def create_bucket(principal: Principal, station_id: str, body: Any) -> dict[str, Any]:
    station = _owned("station", station_id, principal)
    v.obj(body, BUCKET_FIELDS, ("name",))
    doc = _bucket_doc(station, v.bucket(body["name"], "name"), body)
    if not store.create_if_absent("bucket", doc, ("station", station_id)):
        raise Conflict("a bucket with this name exists at the station", "name")
    return doc


def get_bucket(principal: Principal, station_id: str, name: str, field: str = "bucket") -> dict[str, Any]:
    if not v.BUCKET.match(name):
        raise NotFound("bucket not found", field)
    return _owned("bucket", bucket_id(station_id, name), principal, field)


def update_bucket(principal: Principal, station_id: str, name: str, body: Any) -> dict[str, Any]:
    doc = get_bucket(principal, station_id, name)
    v.obj(body, ("description", "props"))
    if "description" in body:
        doc["description"] = v.text(body["description"], "description", max_len=v.DESCRIPTION_MAX, allow_empty=True)
    _patch_common(doc, body)
    doc["updated"] = now_ms()
    store.replace("bucket", doc, ("station", station_id))
    return doc


def list_buckets(
    principal: Principal, station_id: str, after: str | None, before: str | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    _owned("station", station_id, principal)
    return store.children("station", station_id, "bucket", after, before=before)


def bucket_streams(station_id: str, name: str) -> list[dict[str, Any]]:
    """The streams in one bucket (one Query over the station's streams)."""
    return [doc for _, doc in store.children("station", station_id, "stream")
            if (doc.get("bucket") or DEFAULT_BUCKET) == name]




# the organisation itself


def get_org(principal: Principal) -> dict[str, Any]:
    """The caller's organisation (ORing's `GET /v4/org`): one GetItem."""
    doc = store.get("org", principal.org)
    if doc is None:
        raise NotFound("organisation not found", None)
    return doc
