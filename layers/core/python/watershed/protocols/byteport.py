"""Byteport HTTP API v1 under `/byteport` (../shared/wire/byteport.md): translation only.

Namespace = pool (its key), device uid = station key, field = stream alias (services.fields).
Errors are plain text with the original's codes: a missing or bad key is a 403.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from watershed.api.request import Reply, Request
from watershed.errors import NotFound, Unauthorized, ValidationError, WatershedError
from watershed.model import Interval, Principal, Stream, StreamType
from watershed.services import catalog as cat
from watershed.services import counts, fields, natural, objects
from watershed.store import intervals
from watershed.timefmt import DAY_MS, now_ms

TEXT = "text/plain; charset=utf-8"
GET_LIMIT = 2048
"""The original's limit on a store by GET (its URL); over it the answer says to POST."""
MAX_POINTS = 10_000
"""Points one timeseries read returns; `ts_meta.orig_len` still counts them all."""
META_FIELDS = ("_key", "_ts")
ISO = "%Y-%m-%dT%H:%M:%S.%f"


class UriTooLong(WatershedError):
    status = 414
    code = "uri_too_long"


def error_reply(error: WatershedError) -> Reply:
    status = 403 if isinstance(error, Unauthorized) else error.status
    message = "the API key is missing or not valid for this namespace" if isinstance(error, Unauthorized) \
        else error.message
    if error.field and not isinstance(error, Unauthorized):
        message = f"{error.field}: {message}"
    return Reply(status, headers={"Content-Type": TEXT}, raw=message.encode("utf-8"))


def _text(status: int, message: str = "") -> Reply:
    return Reply(status, headers={"Content-Type": TEXT}, raw=message.encode("utf-8"))


# store


def _pairs(request: Request) -> dict[str, str]:
    """The call's fields: the query string, and for a POST the form body too."""
    pairs = dict(request.query)
    if request.body:
        try:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=10_000)
        except (UnicodeDecodeError, ValueError):
            raise ValidationError("the body must be form-urlencoded UTF-8", "body") from None
        pairs.update({name: values[-1] for name, values in form.items()})
    return pairs


def _timestamp(text: str | None) -> int | None:
    if text in (None, ""):
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise ValidationError("must be UNIX seconds, decimals allowed", "_ts") from None
    if not 0 <= seconds < 2**40:
        raise ValidationError("must be UNIX seconds, decimals allowed", "_ts")
    ms = round(seconds * 1000)
    if ms > now_ms() + DAY_MS:
        raise ValidationError("lies more than one day in the future", "_ts")
    return ms


def store(request: Request) -> Reply:
    """Store the call's fields against the device (an empty call is a heartbeat): 200, empty body."""
    if len(urlencode(request.query)) > GET_LIMIT:
        raise UriTooLong(f"a store by GET is limited to {GET_LIMIT} bytes of query string; use POST", None)
    pairs = _pairs(request)
    data = {name: value for name, value in pairs.items() if not name.startswith("_")}
    fields.store(request.principal, request.path_params["namespace"], request.path_params["uid"], data,
                 _timestamp(pairs.get("_ts")))
    return _text(200)


# reads


def _device(principal: Principal, namespace: str, uid: str) -> dict[str, Any]:
    try:
        return natural.station(principal, natural.pool(principal, namespace, create=False), uid, create=False)
    except NotFound:
        raise NotFound(f"no device {namespace}.{uid}", "uid") from None


def _field(principal: Principal, namespace: str, uid: str, name: str) -> tuple[Stream, dict[str, Any]]:
    station = _device(principal, namespace, uid)
    doc = cat.find_stream_by_alias(station["id"], "default", name)
    if doc is None:
        raise NotFound(f"no field {namespace}.{uid}.{name}", "field")
    return cat.stream_from_doc(doc), doc


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime(ISO)


def _parse_iso(text: str, field: str) -> int:
    for shape in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return round(datetime.strptime(text, shape).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise ValidationError("must be %Y-%m-%dT%H:%M:%S (UTC)", field)


def _window(query: dict[str, str]) -> tuple[int, int]:
    """[from, to] from `from`/`to`, or `timedelta_minutes|hours|days` back from now (default 1 day)."""
    end = _parse_iso(query["to"], "to") if query.get("to") else now_ms()
    if query.get("from"):
        return _parse_iso(query["from"], "from"), end
    for unit in ("minutes", "hours", "days"):
        text = query.get(f"timedelta_{unit}")
        if text:
            try:
                amount = float(text)
            except ValueError:
                raise ValidationError("must be a number", f"timedelta_{unit}") from None
            return end - int(timedelta(**{unit: amount}).total_seconds() * 1000), end
    return end - DAY_MS, end


def _path(ns: str, uid: str, name: str) -> str:
    return f"{ns}.{uid}.{name}"


def _point(stream: Stream, ns: str, uid: str, name: str, point: Interval) -> dict[str, Any]:
    if stream.type is StreamType.OBJECT and isinstance(point.value, dict):
        meta = point.value
        return {"r": point.timestamp, "t": _iso(point.timestamp),
                "v": f"/api/v1/download/value/{ns}/{uid}/{name}/{point.timestamp}/",
                "m": {"media_type": meta.get("contentType"), "size": meta.get("size"), "sha256": meta.get("sha256")}}
    return {"r": point.timestamp, "t": _iso(point.timestamp), "v": point.value, "m": {}}


def timeseries(request: Request) -> Reply:
    ns, uid, name = (request.path_params[k] for k in ("namespace", "uid", "field"))
    stream, _ = _field(request.principal, ns, uid, name)
    start, end = _window(request.query)
    if end < start:
        raise ValidationError("to must not be before from", "to")
    points = intervals.query_range(stream.id, start, end, limit=MAX_POINTS)
    total = counts.count(stream, start, end + 1) if len(points) == MAX_POINTS else len(points)
    path = _path(ns, uid, name)
    return Reply(200, {"meta": {"path": path}, "data": {
        "ts_data": [_point(stream, ns, uid, name, p) for p in points],
        "ts_meta": {"from": _iso(start), "to": _iso(end), "len": len(points), "orig_len": total,
                    "data_type": stream.type.value, "path": path, "reduced": False},
    }})


def _ref(request: Request) -> int:
    text = request.path_params["ref"]
    if not text.isdigit():
        raise NotFound("no value with this ref", "ref")
    return int(text)


def _at(stream: Stream, ref: int) -> Interval:
    found = intervals.get_at(stream.id, ref)
    if found is None:
        raise NotFound("no value with this ref", "ref")
    return found


def value(request: Request) -> Reply:
    ns, uid, name = (request.path_params[k] for k in ("namespace", "uid", "field"))
    stream, _ = _field(request.principal, ns, uid, name)
    point = _at(stream, _ref(request))
    out = _point(stream, ns, uid, name, point)
    return Reply(200, {"namespace_name": ns, "uid": uid, "field_name": name, "value": out["v"],
                       "timestamp": out["t"], "ref": point.timestamp, "meta": out["m"]})


def download(request: Request) -> Reply:
    """The object's bytes, decompressed and decoded; `decompress=false` compressed again as the
    field was sent, `decode=false` that as base64 text."""
    ns, uid, name = (request.path_params[k] for k in ("namespace", "uid", "field"))
    stream, doc = _field(request.principal, ns, uid, name)
    point = _at(stream, _ref(request))
    if stream.type is not StreamType.OBJECT or not isinstance(point.value, dict):
        data = str(point.value).encode("utf-8")
        return Reply(200, headers={"Content-Type": TEXT}, raw=data)
    meta = point.value
    data = objects.content(meta)
    media_type = str(meta.get("contentType") or objects.DEFAULT_CONTENT_TYPE)
    if request.query.get("decompress", "true").lower() == "false":
        data = fields.recompress(data, str((doc.get("props") or {}).get("compression") or "none"))
        media_type = "application/octet-stream"
    if request.query.get("decode", "true").lower() == "false":
        return Reply(200, headers={"Content-Type": TEXT}, raw=base64.b64encode(data))
    return Reply(200, headers={"Content-Type": media_type, "ETag": f'"{meta.get("sha256")}"'}, raw=data)


# listings


def _namespace_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {"name": doc["key"], "description": doc.get("description", "")}


def namespaces(request: Request) -> Reply:
    wanted = request.query.get("key")
    found = [_namespace_out(doc) for _, doc in cat.list_pools(request.principal, None)
             if doc.get("key") and (wanted is None or doc["key"] == wanted)]
    return Reply(200, found)


def _device_out(ns: str, station: dict[str, Any], streams: list[dict[str, Any]]) -> dict[str, Any]:
    last = station.get("lastOnlineTime")
    return {"uid": station["key"], "namespace": ns, "alias": station["name"],
            "is_online": bool(station.get("isOnline")),
            "last_contact": _iso(last) if isinstance(last, int) else None,
            "fields": [{"name": s["alias"], "data_type": s["type"]} for s in streams if s.get("alias")]}


def devices(request: Request) -> Reply:
    principal = request.principal
    ns = request.path_params["namespace"]
    try:
        pool = natural.pool(principal, ns, create=False)
    except NotFound:
        raise NotFound(f"no namespace {ns}", "namespace") from None
    wanted = request.query.get("key")
    out = []
    for _, station in cat.list_stations(principal, pool["id"], None):
        if wanted is not None and station["key"] != wanted:
            continue
        streams = [doc for _, doc in cat.list_streams(principal, station["id"], None)]
        out.append(_device_out(ns, station, streams))
    return Reply(200, out)


def search_devices(request: Request) -> Reply:
    principal = request.principal
    term = request.query.get("term") or ""
    try:
        limit = max(1, min(int(request.query.get("limit") or 20), 1000))
    except ValueError:
        raise ValidationError("must be a number", "limit") from None
    full = (request.query.get("full") or "false").lower() == "true"
    found: list[str] = []
    for _, pool in cat.list_pools(principal, None):
        if not pool.get("key"):
            continue
        for _, station in cat.list_stations(principal, pool["id"], None):
            path = f"{pool['key']}.{station['key']}"
            if term.lower() in (path if full else str(station["key"])).lower():
                found.append(path)
                if len(found) >= limit:
                    return Reply(200, {"meta": {"term": term}, "data": found})
    return Reply(200, {"meta": {"term": term}, "data": found})


def echo(request: Request) -> Reply:
    return Reply(200, dict(request.query))
