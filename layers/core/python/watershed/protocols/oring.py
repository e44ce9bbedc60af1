"""ORing PaaS v4 REST under `/oring/v4` (../shared/seeds/oring-paas-v4-api.txt): translation only.

A thing is a station of the organisation's ORing pool (key `oring`, made by the first create; a
station of any pool is readable by id), its id the station id, so the MQTT client `thing:<id>`
and the topics `things/<id>/...` are the same thing's; its name is the station's key (unique in
the pool). A data bucket is a bucket of the station, a data shape a stream in it, the shape id
the stream's alias (the `id` of an MQTT data item). Configs are the native config groups.

Errors are `{"code": "UNAUTHORIZED_ERROR", "message": ...}`: the seed's upper-case codes, here
our code upper-cased with `_ERROR`; `field` is added where known (ORing clients ignore it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from watershed import signing
from watershed import validation as v
from watershed.api.request import Reply, Request
from watershed.errors import Conflict, NotFound, ValidationError, WatershedError
from watershed.model import Principal, Stream
from watershed.services import cascade, configs, geo, natural, oauth
from watershed.services import catalog as cat
from watershed.services import timeline as timelines
from watershed.services.credentials import issuer
from watershed.services.mqtt import authorizer
from watershed.timefmt import DAY_MS, format_time, now_ms, parse_time

POOL_KEY = "oring"
POOL_NAME = "ORing things"
LIST_LIMIT = 100
VALUE_TYPES = ("string", "integer", "float", "hex", "boolean", "coordinate")
VISIBILITY = ("public", "private")
THING_FIELDS = ("name", "serialNumber", "modelName", "description", "coordinates", "isEon", "visibility",
                "timezone", "labels")
BUCKET_FIELDS = ("id", "description", "dataShapes")
SHAPE_FIELDS = ("id", "valueType", "alias", "unit")
OK = {"message": "ok"}
AT_OR_BEFORE = "~"
"""Appended to a catalog sort key, `before` includes that key (sort keys hold digits, hex, `#`, `-`)."""


def error_code(error: WatershedError) -> str:
    return f"{error.code.upper()}_ERROR"


def error_reply(error: WatershedError) -> Reply:
    body: dict[str, Any] = {"code": error_code(error), "message": error.message}
    if error.field:
        body["field"] = error.field
    return Reply(error.status, body)


# paging: absolute links that keep every current parameter


def _link(request: Request, drop: str, **params: str) -> str:
    query = {k: val for k, val in request.query.items() if k != drop}
    query.update(params)
    return f"{issuer()}{request.path}?{urlencode(query)}"


def _listing(request: Request, data: list[Any], total: int, after: str | None, before: str | None) -> Reply:
    return Reply(200, {
        "paging": {
            "beforeCursor": before,
            "afterCursor": after,
            "previousLink": _link(request, "afterCursor", beforeCursor=before) if before else None,
            "nextLink": _link(request, "beforeCursor", afterCursor=after) if after else None,
        },
        "metadata": {"total": total},
        "data": data,
    })


def _cursor(request: Request, scope: str) -> tuple[str | None, Any]:
    """("a" or "b", the position) of the request's afterCursor or beforeCursor, checked for this list."""
    after, before = request.query.get("afterCursor"), request.query.get("beforeCursor")
    if after and before:
        raise ValidationError("send afterCursor or beforeCursor, not both", "beforeCursor")
    name = "afterCursor" if after else "beforeCursor"
    token = after or before
    if not token:
        return None, None
    data = signing.verify(token, name)
    if data.get("s") != scope or data.get("d") != name[0]:
        raise ValidationError("the cursor does not belong to this list", name)
    return name[0], data.get("k")


def _token(scope: str, direction: str, position: Any) -> str:
    return signing.sign({"s": scope, "d": direction, "k": position})


def _limit(request: Request) -> int:
    return v.integer(request.query.get("limit", LIST_LIMIT), "limit", 1, 100)


# the account


def me(request: Request) -> Reply:
    """The user a token stands for; for a key or a client, the credential itself."""
    p = request.principal
    out: dict[str, Any] = {"id": p.key_id, "name": None, "email": None,
                           "role": "admin" if "admin" in p.scopes else "user", "orgId": p.org,
                           "kind": p.kind.value, "scopes": sorted(p.scopes), "lastLoginedAt": None,
                           "createdAt": None, "updatedAt": None}
    doc = oauth.credential(p)
    if doc is not None:
        out.update(name=doc.get("name"), createdAt=_time(doc.get("created")),
                   updatedAt=_time(doc.get("updated") or doc.get("created")))
    return Reply(200, {"data": out})


def org(request: Request) -> Reply:
    doc = cat.get_org(request.principal)
    return Reply(200, {"data": {"id": doc["id"], "name": doc.get("name"), "status": "active", "type": "standard",
                                "trialPeriod": None, "createdAt": _time(doc.get("created")),
                                "updatedAt": _time(doc.get("updated") or doc.get("created"))}})


def _time(ms: Any) -> str | None:
    return format_time(ms) if isinstance(ms, int) else None


# things


def _labels_in(value: Any, field: str = "labels") -> dict[str, str]:
    if not isinstance(value, list):
        raise ValidationError("must be an array of {key, value}", field)
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        at = f"{field}[{i}]"
        v.obj(item, ("key", "value"), ("key", "value"), at)
        key, text = item["key"], item["value"]
        for name, part in (("key", key), ("value", text)):
            if not isinstance(part, str) or not v.LABEL.match(part) or len(part) > v.LABEL_MAX:
                raise ValidationError(f"must match /^[a-zA-Z0-9-_:@.]+$/ (at most {v.LABEL_MAX} characters)",
                                      f"{at}.{name}")
        if key in out:
            raise ValidationError(f"label '{key}' is given twice", f"{at}.key")
        out[key] = text
    return v.label_map(out, field)


def _labels_out(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in cat.labels_of(doc).items()]


def _coordinates(value: Any) -> dict[str, float] | None:
    """ORing's `[lat, lng]` as the station's location."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationError("must be [lat, lng]", "coordinates")
    return {"lat": v.number(value[0], "coordinates[0]", -90, 90),
            "lon": v.number(value[1], "coordinates[1]", -180, 180)}


def _station_body(body: Any, creating: bool) -> dict[str, Any]:
    """A thing's fields as the station's: name is the key too, description and flags in props."""
    required = ("name", "serialNumber", "modelName") if creating else ()
    v.obj(body, THING_FIELDS, required)
    out: dict[str, Any] = {}
    if "name" in body:
        out["key"] = v.alias(body["name"], "name")
        out["name"] = v.text(body["name"], "name")
    for ours, theirs in (("serialNumber", "serialNumber"), ("model", "modelName")):
        if theirs in body:
            out[ours] = v.opt_text(body[theirs], theirs)
    if "coordinates" in body:
        out["location"] = _coordinates(body["coordinates"])
    if "labels" in body:
        out["labels"] = _labels_in(body["labels"])
    props: dict[str, Any] = {}
    if "description" in body:
        props["description"] = v.opt_text(body["description"], "description", v.DESCRIPTION_MAX)
    if "isEon" in body or creating:
        props["isEon"] = v.boolean(body.get("isEon", False), "isEon")
    if "visibility" in body or creating:
        visibility = body.get("visibility", "private")
        if visibility not in VISIBILITY:
            raise ValidationError("must be public or private", "visibility")
        props["visibility"] = visibility
    if "timezone" in body:
        props["timezone"] = v.time_zone(body["timezone"], "timezone")
    if props:
        out["props"] = props
    return out


def _thing_out(doc: dict[str, Any], last_data: int | None = None, secret: str | None = None) -> dict[str, Any]:
    props = doc.get("props") or {}
    location = doc.get("location")
    out: dict[str, Any] = {"id": doc["id"]}
    if secret is not None:
        out["secret"] = secret
    out.update({
        "modelName": doc.get("model"),
        "serialNumber": doc.get("serialNumber"),
        "name": doc.get("name"),
        "description": props.get("description"),
        "coordinates": [location["lat"], location["lon"]] if location else None,
        "timezone": props.get("timezone", "Etc/GMT"),
        "isEon": bool(props.get("isEon", False)),
        "isOnline": bool(doc.get("isOnline", False)),
        "status": "active",
        "visibility": props.get("visibility", "private"),
        "lastDataTime": _time(last_data),
        "lastCmdTime": None,
        "lastBirthTime": None,
        "lastDeathTime": None,
        "lastOnlineTime": _time(doc.get("lastOnlineTime")),
        "labels": _labels_out(doc),
        "createdAt": _time(doc.get("created")),
        "updatedAt": _time(doc.get("updated") or doc.get("created")),
    })
    return out


def _renamed(error: WatershedError) -> WatershedError:
    """A station error in the thing's own field names."""
    field = {"key": "name", "model": "modelName", "location": "coordinates"}.get(error.field or "", error.field)
    message = "a thing with this name exists" if isinstance(error, Conflict) else error.message
    return type(error)(message, field)


def _thing(principal: Principal, thing_id: str) -> dict[str, Any]:
    try:
        return cat.get_station(principal, thing_id)
    except NotFound:
        raise NotFound("thing not found", "id") from None


def _last_data(principal: Principal, thing_id: str) -> int | None:
    streams = [cat.stream_from_doc(doc) for _, doc in cat.list_streams(principal, thing_id, None)]
    stamps = [point.timestamp for _, point in timelines.last_of_each(streams) if point is not None]
    return max(stamps, default=None)


def create_thing(request: Request) -> Reply:
    """201 with the thing and its MQTT `secret`, shown only here (stored as a hash)."""
    principal = request.principal
    body = _station_body(request.json(), creating=True)
    pool = natural.pool(principal, POOL_KEY, create=True, name=POOL_NAME)
    try:
        doc = cat.create_station(principal, pool["id"], body)
    except (Conflict, ValidationError) as error:
        raise _renamed(error) from None
    secret = authorizer.rotate_secret(principal, doc["id"])["password"]
    return Reply(201, {"data": _thing_out(doc, secret=secret)})


def _thing_filter(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """labels[k]=v with labelOperator and|or (default or), serialNumber, modelName, polygon."""
    operator = query.get("labelOperator", "or")
    if operator not in ("and", "or"):
        raise ValidationError("must be and or or", "labelOperator")
    labelled = cat.label_filter({**{k: val for k, val in query.items() if k.startswith("labels")},
                                 "labelsMatch": "all" if operator == "and" else "any"})
    serial, model = query.get("serialNumber"), query.get("modelName")
    polygon = geo.parse_polygon(query["polygon"]) if query.get("polygon") else None

    def keep(doc: dict[str, Any]) -> bool:
        if serial is not None and doc.get("serialNumber") != serial:
            return False
        if model is not None and doc.get("model") != model:
            return False
        if polygon is not None:
            location = doc.get("location")
            if not location or not geo.contains(polygon, (location["lat"], location["lon"])):
                return False
        return labelled(doc)

    return keep


def _window(rows: list[tuple[str, Any]], direction: str | None, key: Any, limit: int
            ) -> tuple[list[tuple[str, Any]], str | None, str | None]:
    """One page of sorted (sort key, item) rows around a cursor: (page, next key, previous key)."""
    if direction == "b":
        end = sum(1 for sort_key, _ in rows if sort_key < str(key))
        begin = max(0, end - limit)
    else:
        begin = sum(1 for sort_key, _ in rows if sort_key <= str(key)) if direction == "a" else 0
        end = begin + limit
    chosen = rows[begin:end]
    following = chosen[-1][0] if chosen and end < len(rows) else None
    preceding = chosen[0][0] if chosen and begin > 0 else None
    if not chosen and direction == "a" and begin > 0:
        preceding = str(key) + AT_OR_BEFORE
    return chosen, following, preceding


def list_things(request: Request) -> Reply:
    """The organisation's ORing pool, filtered; `metadata.total` counts every match."""
    principal = request.principal
    limit = _limit(request)
    keep = _thing_filter(request.query)
    pool = cat.find_pool_by_key(principal, POOL_KEY)
    scope = f"things:{pool['id'] if pool else principal.org}"
    direction, key = _cursor(request, scope)
    rows = [(sort_key, doc) for sort_key, doc in (cat.list_stations(principal, pool["id"], None) if pool else ())
            if keep(doc)]
    chosen, following, preceding = _window(rows, direction, key, limit)
    after = _token(scope, "a", following) if following else None
    before = _token(scope, "b", preceding) if preceding else None
    return _listing(request, [_thing_out(doc) for _, doc in chosen], len(rows), after, before)


def get_thing(request: Request) -> Reply:
    doc = _thing(request.principal, request.id)
    return Reply(200, {"data": _thing_out(doc, _last_data(request.principal, doc["id"]))})


def update_thing(request: Request) -> Reply:
    principal = request.principal
    doc = _thing(principal, request.id)
    body = _station_body(request.json(), creating=False)
    try:
        doc = cat.update_station(principal, doc["id"], body)
    except (Conflict, ValidationError) as error:
        raise _renamed(error) from None
    return Reply(200, {"data": _thing_out(doc, _last_data(principal, doc["id"]))})


def delete_thing(request: Request) -> Reply:
    cascade.delete_station(request.principal, _thing(request.principal, request.id)["id"])
    return Reply(200, OK)


def put_label(request: Request) -> Reply:
    principal = request.principal
    doc = _thing(principal, request.id)
    key = request.path_params["key"]
    body = request.json()
    v.obj(body, ("value",), ("value",))
    for name, part in (("key", key), ("value", body["value"])):
        if not isinstance(part, str) or not v.LABEL.match(part) or len(part) > v.LABEL_MAX:
            raise ValidationError(f"must match /^[a-zA-Z0-9-_:@.]+$/ (at most {v.LABEL_MAX} characters)", name)
    try:
        cat.update_station(principal, doc["id"], {"labels": {**cat.labels_of(doc), key: body["value"]}})
    except ValidationError as error:
        raise ValidationError(error.message, "key") from None
    return Reply(200, OK)


def delete_label(request: Request) -> Reply:
    principal = request.principal
    doc = _thing(principal, request.id)
    labels = cat.labels_of(doc)
    if labels.pop(request.path_params["key"], None) is None:
        raise NotFound("label not found", "key")
    cat.update_station(principal, doc["id"], {"labels": labels})
    return Reply(200, OK)


# configs: the native config groups


def _config_out(view: dict[str, Any]) -> dict[str, Any]:
    return {name: view[name] for name in ("name", "configs", "lastConfigTime", "lastReportTime")}


def _group(request: Request) -> str:
    return request.path_params["group"]


def put_config(request: Request) -> Reply:
    thing = _thing(request.principal, request.id)
    return Reply(200, {"data": _config_out(configs.put_config(request.principal, thing["id"], _group(request),
                                                              request.json()))})


def list_configs(request: Request) -> Reply:
    thing = _thing(request.principal, request.id)
    name = request.query.get("name")
    return Reply(200, {"data": [_config_out(view) for view in configs.list_configs(request.principal, thing["id"])
                                if name is None or view["name"] == name]})


def get_config(request: Request) -> Reply:
    thing = _thing(request.principal, request.id)
    try:
        view = configs.get_config(request.principal, thing["id"], _group(request))
    except (NotFound, ValidationError):
        raise NotFound("config group not found", "configGroupName") from None
    return Reply(200, {"data": _config_out(view)})


def delete_config(request: Request) -> Reply:
    thing = _thing(request.principal, request.id)
    try:
        configs.delete_config(request.principal, thing["id"], _group(request))
    except (NotFound, ValidationError):
        raise NotFound("config group not found", "configGroupName") from None
    return Reply(200, OK)


# data buckets and data shapes: buckets and the streams in them


def _shape_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc.get("alias"), "alias": (doc.get("props") or {}).get("alias"), "unit": doc.get("unit"),
            "valueType": doc["type"], "createdAt": _time(doc.get("created")),
            "updatedAt": _time(doc.get("updated") or doc.get("created"))}


def _bucket_out(doc: dict[str, Any], shapes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"id": doc["name"], "description": doc.get("description") or None,
            "dataShapes": [_shape_out(s) for s in shapes if s.get("alias")],
            "createdAt": _time(doc.get("created")), "updatedAt": _time(doc.get("updated") or doc.get("created"))}


def _shape_body(item: Any, field: str, bucket: str) -> dict[str, Any]:
    """A data shape as a stream's fields: id is the alias, ORing's alias a display name."""
    v.obj(item, SHAPE_FIELDS, ("id", "valueType"), field)
    alias = v.alias(item["id"], v.path(field, "id"))
    if item["valueType"] not in VALUE_TYPES:
        raise ValidationError(f"must be one of {', '.join(VALUE_TYPES)}", v.path(field, "valueType"))
    label = v.opt_text(item.get("alias"), v.path(field, "alias"))
    return {"name": label or alias, "alias": alias, "type": item["valueType"], "bucket": bucket,
            "unit": v.opt_text(item.get("unit"), v.path(field, "unit"), v.UNIT_MAX), "props": {"alias": label}}


def _bucket(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    thing = _thing(request.principal, request.id)
    try:
        bucket = cat.get_bucket(request.principal, thing["id"], request.path_params["bucket"])
    except NotFound:
        raise NotFound("data bucket not found", "dataBucketId") from None
    return thing, bucket


def _create_shape(station: dict[str, Any], body: dict[str, Any], field: str) -> dict[str, Any]:
    try:
        return cat.create_stream_in(station, body)
    except Conflict:
        raise Conflict("a data shape with this id exists in the bucket", field) from None


def create_bucket(request: Request) -> Reply:
    """The bucket and its shapes; every shape is checked before anything is written."""
    principal = request.principal
    thing = _thing(principal, request.id)
    body = request.json()
    v.obj(body, BUCKET_FIELDS, ("id", "dataShapes"))
    name = v.bucket(body["id"], "id")
    if not isinstance(body["dataShapes"], list):
        raise ValidationError("must be an array of data shapes", "dataShapes")
    shapes = [_shape_body(item, f"dataShapes[{i}]", name) for i, item in enumerate(body["dataShapes"])]
    seen: set[str] = set()
    for i, shape in enumerate(shapes):
        if shape["alias"] in seen:
            raise ValidationError(f"data shape '{shape['alias']}' is given twice", f"dataShapes[{i}].id")
        seen.add(shape["alias"])
    try:
        doc = cat.create_bucket(principal, thing["id"], {"name": name, "description": body.get("description") or ""})
    except Conflict:
        raise Conflict("a data bucket with this id exists", "id") from None
    except ValidationError as error:
        raise ValidationError(error.message, "description" if error.field == "description" else "id") from None
    created = [_create_shape(thing, shape, f"dataShapes[{i}].id") for i, shape in enumerate(shapes)]
    return Reply(201, {"data": _bucket_out(doc, created)})


def list_buckets(request: Request) -> Reply:
    principal = request.principal
    thing = _thing(principal, request.id)
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for _, stream in cat.list_streams(principal, thing["id"], None):
        by_bucket.setdefault(stream.get("bucket") or "default", []).append(stream)
    return Reply(200, {"data": [_bucket_out(doc, by_bucket.get(doc["name"], []))
                                for _, doc in cat.list_buckets(principal, thing["id"], None)]})


def get_bucket(request: Request) -> Reply:
    thing, bucket = _bucket(request)
    return Reply(200, {"data": _bucket_out(bucket, cat.bucket_streams(thing["id"], bucket["name"]))})


def delete_bucket(request: Request) -> Reply:
    thing, bucket = _bucket(request)
    cascade.delete_bucket(request.principal, thing["id"], bucket["name"])
    return Reply(200, OK)


def create_shape(request: Request) -> Reply:
    thing, bucket = _bucket(request)
    body = _shape_body(request.json(), "", bucket["name"])
    return Reply(201, {"data": _shape_out(_create_shape(thing, body, "id"))})


def _shape_doc(thing: dict[str, Any], bucket: dict[str, Any], alias: str, field: str) -> dict[str, Any]:
    found = cat.find_stream_by_alias(thing["id"], bucket["name"], alias) if v.ALIAS.match(alias) else None
    if found is None:
        raise NotFound(f"data shape '{alias[:128]}' not found", field)
    return found


def delete_shape(request: Request) -> Reply:
    thing, bucket = _bucket(request)
    doc = _shape_doc(thing, bucket, request.path_params["shape"], "dataShapeId")
    cascade.delete_stream(request.principal, doc["id"])
    return Reply(200, OK)


# telemetry


def _time_range(query: dict[str, str]) -> tuple[int, int]:
    start = parse_time(query["begin"], "begin", bounded=False) if query.get("begin") else 0
    end = parse_time(query["end"], "end", bounded=False) if query.get("end") else now_ms() + 2 * DAY_MS
    if end <= start:
        raise ValidationError("end must be after begin", "end")
    return max(start, 0), end


def timeline_rows(request: Request) -> tuple[list[str], list[Stream]]:
    """The shapes `dataShapes=a,b` names, in that order (each once)."""
    thing, bucket = _bucket(request)
    names = list(dict.fromkeys(part.strip() for part in (request.query.get("dataShapes") or "").split(",")
                               if part.strip()))
    if not names:
        raise ValidationError("dataShapes is required: comma separated data shape ids", "dataShapes")
    if len(names) > 100:
        raise ValidationError("at most 100 data shapes", "dataShapes")
    return names, [cat.stream_from_doc(_shape_doc(thing, bucket, name, "dataShapes")) for name in names]


def timeline(request: Request) -> Reply:
    """Rows `{timestamp, values: [{id, value}]}` of the named shapes, merged at equal timestamps."""
    query = request.query
    names, streams = timeline_rows(request)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ValidationError("must be asc or desc", "order")
    limit = _limit(request)
    start, end = _time_range(query)
    scope = f"timeline:{streams[0].station}:{streams[0].bucket}:{order}:{','.join(names)}"
    direction, key = _cursor(request, scope)
    edge = int(key) if direction else None
    page = timelines.page(streams, start, end, descending=order == "desc", limit=limit,
                         after=edge if direction == "a" else None, before=edge if direction == "b" else None)
    has_next, has_previous = (True, page.more) if direction == "b" else (page.more, direction == "a")
    rows = page.rows
    after = _token(scope, "a", rows[-1].timestamp) if rows and has_next else None
    before = _token(scope, "b", rows[0].timestamp) if rows and has_previous else None
    if not rows and direction == "a" and edge is not None:
        before = _token(scope, "b", edge - 1 if order == "desc" else edge + 1)
    data = [{"timestamp": format_time(row.timestamp), "values": [{"id": names[i], "value": value}
                                                                  for i, value in row.values]} for row in rows]
    return _listing(request, data, timelines.total(streams, start, end), after, before)


def last_telemetries(request: Request) -> Reply:
    """The latest value of every shape in the bucket (null value and timestamp before the first)."""
    thing, bucket = _bucket(request)
    docs = [doc for doc in cat.bucket_streams(thing["id"], bucket["name"]) if doc.get("alias")]
    latest = timelines.last_of_each([cat.stream_from_doc(doc) for doc in docs])
    return Reply(200, {"data": [
        {"id": doc["alias"], "value": point.value if point else None, "valueType": doc["type"],
         "alias": (doc.get("props") or {}).get("alias"), "unit": doc.get("unit"),
         "timestamp": format_time(point.timestamp) if point else None}
        for doc, (_, point) in zip(docs, latest, strict=True)]})
