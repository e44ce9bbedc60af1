"""Object streams: the blob in S3, its key, size, content type and SHA-256 in the interval.

An object lives at `<org>/<stream>/<timestamp ms>` in OBJECTS_BUCKET, one per interval, so a new
upload at the same timestamp replaces the old one exactly as a new value replaces an interval.
Through the API a blob is at most MAX_INLINE_BYTES decoded: Lambda's 6 MB payload has to carry
the base64 of a binary body. Larger blobs go through a presigned PUT (start_upload /
complete_upload).
"""

from __future__ import annotations

import base64
import binascii
import bz2
import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import Any

from watershed import blobs, config, signing
from watershed.errors import NotFound, PayloadTooLarge, ValidationError
from watershed.model import Interval, Stream, StreamType
from watershed.services import ingest
from watershed.store import intervals
from watershed.timefmt import now_ms, parse_time
from watershed.validation import obj

MAX_INLINE_BYTES = 4_500_000
"""Largest decoded object through the API; its base64 (6,000,000 bytes) still fits Lambda's 6 MB."""
URL_TTL_S = 3600
UPLOAD_TTL_S = 3600
COMPRESSIONS = ("none", "gzip", "bzip2", "zlib")
ENVELOPE_FIELDS = ("content", "compression", "contentType", "timestamp")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")
MEDIA_TYPE_MAX = 255
BASE64 = re.compile(r"^\s*(([A-Za-z0-9+/]\s*){4})*(([A-Za-z0-9+/]\s*){2}==|([A-Za-z0-9+/]\s*){3}=)?\s*$")
"""Standard base64, padded; whitespace between characters is ignored (as line-wrapped files have it)."""
UPLOADS_HINT = "POST /v1/streams/{id}/objects/uploads hands out a presigned PUT for larger objects"


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str
    timestamp: int | None


def require_object_stream(stream: Stream) -> None:
    if stream.type is not StreamType.OBJECT:
        raise ValidationError(f"stream is of type {stream.type.value}, not object", "id")


def content_type(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > MEDIA_TYPE_MAX or not MEDIA_TYPE.match(value.strip()):
        raise ValidationError("must be a media type such as image/png", field)
    return value.strip()


def _content_type_field(body: dict[str, Any]) -> str:
    if not body.get("contentType"):
        return DEFAULT_CONTENT_TYPE
    return content_type(body["contentType"], "contentType")


def _too_large(size: int | str) -> PayloadTooLarge:
    return PayloadTooLarge(f"object is {size} bytes decoded; the API takes at most {MAX_INLINE_BYTES}. "
                           f"{UPLOADS_HINT}", None, maxBytes=MAX_INLINE_BYTES)


def decompress(data: bytes, compression: str, field: str = "content") -> bytes:
    """Undo the sender's compression, refusing corrupt data and anything over MAX_INLINE_BYTES."""
    if compression == "none":
        out = data
    elif compression in ("gzip", "zlib"):
        # wbits 47 reads a gzip or a zlib header: Byteport's "gzip" option is really zlib.compress.
        inflater = zlib.decompressobj(47)
        try:
            out = inflater.decompress(data, MAX_INLINE_BYTES + 1)
        except zlib.error as error:
            raise ValidationError(f"content is not valid {compression} data: {error}", field) from None
        if len(out) > MAX_INLINE_BYTES:
            raise _too_large(f"over {MAX_INLINE_BYTES}")
        if not inflater.eof or inflater.unused_data:
            raise ValidationError(f"content is not valid {compression} data: truncated or trailing bytes",
                                  field)
    elif compression == "bzip2":
        unpacker = bz2.BZ2Decompressor()
        try:
            out = unpacker.decompress(data, MAX_INLINE_BYTES + 1)
        except (OSError, ValueError) as error:
            raise ValidationError(f"content is not valid bzip2 data: {error}", field) from None
        if len(out) > MAX_INLINE_BYTES:
            raise _too_large(f"over {MAX_INLINE_BYTES}")
        if not unpacker.eof or unpacker.unused_data:
            raise ValidationError("content is not valid bzip2 data: truncated or trailing bytes", field)
    else:
        raise ValidationError(f"compression must be one of {', '.join(COMPRESSIONS)}", "compression")
    if len(out) > MAX_INLINE_BYTES:
        raise _too_large(len(out))
    return out


def from_envelope(body: Any) -> Blob:
    """`{"content": base64, "compression", "contentType", "timestamp"}`, as Byteport sends files."""
    obj(body, ENVELOPE_FIELDS, ("content",))
    if not isinstance(body["content"], str):
        raise ValidationError("content must be a base64 string", "content")
    compression = body.get("compression") or "none"
    if compression not in COMPRESSIONS:
        raise ValidationError(f"compression must be one of {', '.join(COMPRESSIONS)}", "compression")
    try:
        packed = base64.b64decode("".join(body["content"].split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("content is not valid base64", "content") from None
    data = decompress(packed, compression)
    kind = _content_type_field(body)
    ts = parse_time(body["timestamp"], "timestamp") if body.get("timestamp") is not None else None
    return Blob(data, kind, ts)


def from_raw(data: bytes, header_content_type: str | None) -> Blob:
    if len(data) > MAX_INLINE_BYTES:
        raise _too_large(len(data))
    kind = content_type(header_content_type, "Content-Type") if header_content_type else DEFAULT_CONTENT_TYPE
    return Blob(data, kind, None)


def stream_prefix(org: str, stream_id: str) -> str:
    """Where every blob of one object stream lives."""
    return f"{org}/{stream_id}/"


def object_key(stream: Stream, ts: int) -> str:
    return f"{stream_prefix(stream.org, stream.id)}{ts}"


def remove_stream_blobs(org: str, stream_id: str) -> int:
    """Delete an object stream's blobs (its cascade delete); how many there were."""
    return blobs.delete_prefix(config.OBJECTS_BUCKET, stream_prefix(org, stream_id))


def store(stream: Stream, blob: Blob, ts: int | None) -> Interval:
    """Put the blob in S3, then the interval that points at it."""
    require_object_stream(stream)
    when = ts if ts is not None else (blob.timestamp if blob.timestamp is not None else now_ms())
    key = object_key(stream, when)
    digest = hashlib.sha256(blob.data).hexdigest()
    blobs.put(config.OBJECTS_BUCKET, key, blob.data, blob.content_type, {"sha256": digest})
    value = {"key": key, "size": len(blob.data), "contentType": blob.content_type, "sha256": digest}
    return _register(stream, when, value)


def _register(stream: Stream, ts: int, value: dict[str, Any]) -> Interval:
    interval = Interval(ts, value)
    ingest.write(stream, [interval])
    return interval


def find(stream: Stream, ts: int) -> dict[str, Any]:
    """The interval value of the object at exactly `ts`; a 404 if there is none."""
    require_object_stream(stream)
    found = intervals.query_range(stream.id, ts, ts)
    if not found or not isinstance(found[0].value, dict):
        raise NotFound("no object at this timestamp", "timestamp")
    return dict(found[0].value)


def content(meta: dict[str, Any]) -> bytes:
    found = blobs.get(config.OBJECTS_BUCKET, meta["key"])
    if found is None:
        raise NotFound("the object's content is gone", "timestamp")
    return found[0]


def url(meta: dict[str, Any]) -> str:
    return blobs.presigned_get(config.OBJECTS_BUCKET, meta["key"], URL_TTL_S)


# uploads through a presigned PUT


def start_upload(stream: Stream, body: Any) -> dict[str, Any]:
    """A presigned PUT for one object and the token that registers it once the PUT is done."""
    require_object_stream(stream)
    body = obj(body if body is not None else {}, ("contentType", "timestamp"))
    kind = _content_type_field(body)
    ts = parse_time(body["timestamp"], "timestamp") if body.get("timestamp") is not None else now_ms()
    key = object_key(stream, ts)
    token = signing.sign({"u": stream.id, "t": ts, "c": kind})
    return {
        "upload": token,
        "url": blobs.presigned_put(config.OBJECTS_BUCKET, key, kind, UPLOAD_TTL_S),
        "method": "PUT",
        "headers": {"Content-Type": kind},
        "timestamp": ts,
        "expiresIn": UPLOAD_TTL_S,
    }


def complete_upload(stream: Stream, token: str) -> Interval:
    """Register the interval of an object uploaded through start_upload's URL."""
    require_object_stream(stream)
    claim = signing.verify(token, "upload")
    if claim.get("u") != stream.id:
        raise ValidationError("upload does not belong to this stream", "upload")
    ts = int(claim["t"])
    key = object_key(stream, ts)
    head = blobs.head(config.OBJECTS_BUCKET, key)
    if head is None:
        raise ValidationError("nothing was uploaded to this upload's URL yet", "upload")
    digest = hashlib.sha256()
    size = 0
    for chunk in blobs.chunks(config.OBJECTS_BUCKET, key):
        digest.update(chunk)
        size += len(chunk)
    value = {"key": key, "size": size, "contentType": str(claim["c"]), "sha256": digest.hexdigest()}
    return _register(stream, ts, value)
