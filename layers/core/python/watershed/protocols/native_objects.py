"""Native API v1 operations for object streams and exports (routes `native_objects:<name>`)."""

from __future__ import annotations

from watershed.api.request import Reply, Request
from watershed.errors import ValidationError
from watershed.model import Interval, Stream
from watershed.services import catalog as cat
from watershed.services import exports, objects
from watershed.timefmt import format_time, parse_time

ANSWER_SHAPES = ("content", "url")
"""What `GET .../objects/{timestamp}?as=` answers: the bytes, or a presigned URL to them."""

JSON = "application/json"


def _stream(request: Request) -> Stream:
    stream = cat.stream_from_doc(cat.get_stream(request.principal, request.id))
    objects.require_object_stream(stream)
    return stream


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _out(interval: Interval) -> dict[str, object]:
    return {"timestamp": format_time(interval.timestamp), "value": interval.value}


def upload_object(request: Request) -> Reply:
    """A raw body with its Content-Type, or (Content-Type application/json) the base64 envelope."""
    stream = _stream(request)
    header = request.headers.get("content-type")
    if _media_type(header) == JSON:
        blob = objects.from_envelope(request.json())
    else:
        blob = objects.from_raw(request.body, header)
    ts = parse_time(request.query["timestamp"], "timestamp") if request.query.get("timestamp") else None
    return Reply(201, _out(objects.store(stream, blob, ts)))


def get_object(request: Request) -> Reply:
    """The bytes with their content type; `?as=url` a presigned URL; a 303 to it when too big to inline."""
    stream = _stream(request)
    ts = parse_time(request.path_params["timestamp"], "timestamp", bounded=False)
    shape = request.query.get("as", "content")
    if shape not in ANSWER_SHAPES:
        raise ValidationError("as must be 'content' or 'url'", "as")
    meta = objects.find(stream, ts)
    if shape == "url":
        return Reply(200, {"url": objects.url(meta), "expiresIn": objects.URL_TTL_S, **meta})
    if int(meta["size"]) > objects.MAX_INLINE_BYTES:
        return Reply(303, None, {"Location": objects.url(meta)})
    headers = {"Content-Type": str(meta["contentType"]), "ETag": f'"{meta["sha256"]}"'}
    return Reply(200, headers=headers, raw=objects.content(meta))


def start_upload(request: Request) -> Reply:
    stream = _stream(request)
    body = request.json() if request.body.strip() else None
    return Reply(201, objects.start_upload(stream, body))


def complete_upload(request: Request) -> Reply:
    stream = _stream(request)
    return Reply(201, _out(objects.complete_upload(stream, request.path_params["upload"])))


def create_export(request: Request) -> Reply:
    status = exports.create(request.principal, request.json())
    if status["status"] == "done":
        return Reply(201, status)
    return Reply(202, status, {"Location": f"/v1/exports/{status['id']}"})


def get_export(request: Request) -> Reply:
    return Reply(200, exports.get(request.principal, request.id))
