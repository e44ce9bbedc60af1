"""The native API v1: JSON in camelCase, bare resources, `{"data", "paging"}` lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from watershed import signing
from watershed import validation as v
from watershed.api.request import Reply, Request
from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import DEFAULT_BUCKET, Principal, Stream
from watershed.services import aggregates, cascade, counts, ingest, keys, query
from watershed.services import catalog as cat
from watershed.validation import LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX, integer

Lister = Callable[[str | None, str | None], Iterable[tuple[str, dict[str, Any]]]]
"""Catalog children after one sort key (ascending), or before one (descending)."""
AT_OR_BEFORE = "~"
"""Appended to a sort key, `before` includes that key: sort keys hold only digits, hex, `#`, `-`."""


def _paging(request: Request, scope: str) -> tuple[int, str | None, str | None]:
    """A list's `limit` and where its signed cursor (bound to `scope`) starts: after or before a key."""
    limit = integer(request.query.get("limit", LIST_LIMIT_DEFAULT), "limit", 1, LIST_LIMIT_MAX)
    if not request.query.get("cursor"):
        return limit, None, None
    cursor = signing.verify(request.query["cursor"])
    if cursor.get("s") != scope:
        raise ValidationError("cursor does not belong to this list", "cursor")
    if cursor.get("d") == "b":
        return limit, None, str(cursor["k"])
    return limit, str(cursor["k"]), None


def _found(
    request: Request, scope: str, found: dict[str, Any] | None, keep: Callable[[dict[str, Any]], bool]
) -> Reply:
    """A natural-key look-up answered as a list of at most one: the list's other parameters are
    checked as on any page, and its filters apply to the one item found."""
    _paging(request, scope)
    kept = [cat.public(found)] if found is not None and keep(found) else []
    return Reply(200, listing(request, kept, None))


def _page(
    request: Request,
    scope: str,
    lister: Lister,
    keep: Callable[[dict[str, Any]], bool] = lambda _doc: True,
    out: Callable[[dict[str, Any]], dict[str, Any]] = cat.public,
) -> Reply:
    """A `{"data", "paging"}` page of catalog children, forwards or backwards from a signed cursor
    bound to `scope`: `afterCursor`/`nextLink` and `beforeCursor`/`previousLink`."""
    limit, after, before = _paging(request, scope)
    rows: list[tuple[str, dict[str, Any]]] = []
    more = False
    for sort_key, doc in lister(after, before):
        if not keep(doc):
            continue
        if len(rows) == limit:
            more = True
            break
        rows.append((sort_key, doc))
    backwards = before is not None
    if backwards:
        rows.reverse()
    has_next, has_previous = (True, more) if backwards else (more, after is not None)
    next_token = previous_token = None
    if rows:
        next_token = signing.sign({"s": scope, "k": rows[-1][0], "d": "a"}) if has_next else None
        previous_token = signing.sign({"s": scope, "k": rows[0][0], "d": "b"}) if has_previous else None
    elif after is not None:
        previous_token = signing.sign({"s": scope, "k": after + AT_OR_BEFORE, "d": "b"})
    return Reply(200, listing(request, [out(doc) for _, doc in rows], next_token, previous_token))


def listing(request: Request, data: list[Any], token: str | None, previous: str | None = None) -> dict[str, Any]:
    return {
        "data": data,
        "paging": {
            "afterCursor": token,
            "nextLink": request.link_with(cursor=token) if token else None,
            "beforeCursor": previous,
            "previousLink": request.link_with(cursor=previous) if previous else None,
        },
    }


def error_reply(error: WatershedError) -> Reply:
    """The native dialect: `{"code", "message", "field"}` with the error's status."""
    return Reply(error.status, error.to_body())


def health(request: Request) -> Reply:
    return Reply(200, {"status": "ok"})


# pools


def create_pool(request: Request) -> Reply:
    return Reply(201, cat.public(cat.create_pool(request.principal, request.json())))


def list_pools(request: Request) -> Reply:
    p = request.principal
    scope, keep = f"pools:{p.org}", cat.label_filter(request.query)
    if request.query.get("key"):
        return _found(request, scope, cat.find_pool_by_key(p, request.query["key"]), keep)
    return _page(request, scope, lambda after, before: cat.list_pools(p, after, before), keep)


def get_pool(request: Request) -> Reply:
    return Reply(200, cat.public(cat.get_pool(request.principal, request.id)))


def update_pool(request: Request) -> Reply:
    return Reply(200, cat.public(cat.update_pool(request.principal, request.id, request.json())))


def delete_pool(request: Request) -> Reply:
    return Reply(200, {"deleted": cascade.delete_pool(request.principal, request.id)})


# stations


def create_station(request: Request) -> Reply:
    return Reply(201, cat.public(cat.create_station(request.principal, request.id, request.json())))


def list_stations(request: Request) -> Reply:
    p = request.principal
    scope, keep = f"stations:{request.id}", cat.station_filter(request.query)
    if request.query.get("key"):
        cat.get_pool(p, request.id)
        return _found(request, scope, cat.find_station_by_key(p, request.id, request.query["key"]), keep)
    return _page(request, scope, lambda after, before: cat.list_stations(p, request.id, after, before), keep)


def get_station(request: Request) -> Reply:
    return Reply(200, cat.public(cat.get_station(request.principal, request.id)))


def update_station(request: Request) -> Reply:
    return Reply(200, cat.public(cat.update_station(request.principal, request.id, request.json())))


def delete_station(request: Request) -> Reply:
    return Reply(200, {"deleted": cascade.delete_station(request.principal, request.id)})


# buckets


def create_bucket(request: Request) -> Reply:
    return Reply(201, cat.bucket_public(cat.create_bucket(request.principal, request.id, request.json())))


def list_buckets(request: Request) -> Reply:
    p = request.principal
    return _page(request, f"buckets:{request.id}",
                 lambda after, before: cat.list_buckets(p, request.id, after, before), out=cat.bucket_public)


def get_bucket(request: Request) -> Reply:
    return Reply(200, cat.bucket_public(cat.get_bucket(request.principal, request.id, request.path_params["name"])))


def update_bucket(request: Request) -> Reply:
    doc = cat.update_bucket(request.principal, request.id, request.path_params["name"], request.json())
    return Reply(200, cat.bucket_public(doc))


def delete_bucket(request: Request) -> Reply:
    return Reply(200, {"deleted": cascade.delete_bucket(request.principal, request.id, request.path_params["name"])})


# streams


def create_stream(request: Request) -> Reply:
    return Reply(201, cat.public(cat.create_stream(request.principal, request.id, request.json())))


def list_streams(request: Request) -> Reply:
    p = request.principal
    scope, keep = f"streams:{request.id}", cat.label_filter(request.query)
    if request.query.get("alias"):
        cat.get_station(p, request.id)
        bucket = v.bucket(request.query.get("bucket") or DEFAULT_BUCKET)
        return _found(request, scope, cat.find_stream_by_alias(request.id, bucket, request.query["alias"]), keep)
    return _page(request, scope, lambda after, before: cat.list_streams(p, request.id, after, before), keep)


def get_stream(request: Request) -> Reply:
    return Reply(200, cat.public(cat.get_stream(request.principal, request.id)))


def update_stream(request: Request) -> Reply:
    return Reply(200, cat.public(cat.update_stream(request.principal, request.id, request.json())))


def delete_stream(request: Request) -> Reply:
    return Reply(200, {"deleted": cascade.delete_stream(request.principal, request.id)})


# keys


def create_key(request: Request) -> Reply:
    doc, secret = keys.create_key(request.principal, request.json())
    return Reply(201, {**cat.public(doc), "key": secret})


def list_keys(request: Request) -> Reply:
    data = [cat.public(doc) for doc in keys.list_keys(request.principal)]
    return Reply(200, listing(request, data, None))


def delete_key(request: Request) -> Reply:
    keys.revoke_key(request.principal, request.id)
    return Reply(204)


# intervals


def _stream(principal: Principal, stream_id: str, field: str = "id") -> Stream:
    return cat.stream_from_doc(cat.get_stream(principal, stream_id, field))


def push_stream(request: Request) -> Reply:
    """Validated whole, then written; `accepted` is how many intervals were stored."""
    return Reply(200, {"accepted": ingest.push(request.principal, request.id, request.json())})


def push_many(request: Request) -> Reply:
    return Reply(200, {"accepted": ingest.push_many(request.principal, request.json())})


def delete_range(request: Request) -> Reply:
    return Reply(200, {"deleted": ingest.delete_range(request.principal, request.id, request.query)})


def pull(request: Request) -> Reply:
    stream = _stream(request.principal, request.id)
    if any(request.query.get(name) for name in aggregates.SPEC_FIELDS):
        from watershed.protocols import native_aggregates

        return native_aggregates.pull(request, stream)
    page = query.pull(stream, request.query)
    return Reply(200, listing(request, [query.interval_out(i) for i in page.items], page.cursor))


def summary(request: Request) -> Reply:
    """Count, first and last interval of a stream in [start, end): served from the rollups."""
    stream = _stream(request.principal, request.id)
    start, end = query.time_range(request.query)
    found = counts.summary(stream, start, end)
    return Reply(200, {
        "count": found.count,
        "first": query.interval_out(found.first) if found.first else None,
        "last": query.interval_out(found.last) if found.last else None,
    })


def latest(request: Request) -> Reply:
    stream = _stream(request.principal, request.id)
    found = query.latest(stream)
    if found is None:
        raise NotFound("stream has no intervals yet", "id")
    return Reply(200, query.interval_out(found))


def station_latest(request: Request) -> Reply:
    principal = request.principal
    cat.get_station(principal, request.id)
    data = []
    for _, doc in cat.list_streams(principal, request.id, None):
        found = query.latest(cat.stream_from_doc(doc))
        data.append({
            "stream": doc["id"], "name": doc["name"], "alias": doc.get("alias"), "bucket": doc.get("bucket"),
            **(query.interval_out(found) if found else {"timestamp": None, "value": None}),
        })
    return Reply(200, listing(request, data, None))


def query_many(request: Request) -> Reply:
    from watershed.protocols import native_aggregates

    return native_aggregates.query_many(request)
