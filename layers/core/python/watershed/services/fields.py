"""Store flat name/value pairs against a device: Byteport's model (namespace, device uid, field).

A namespace is a pool (its `key`), a device a station (its `key`), a field a stream (its
alias, default bucket). Unknown devices and fields are created on the first write, their type
inferred from the value: a number makes a float stream, base64 of zlib or bzip2 data an object
stream, anything else a string stream. A field that exists keeps its type; an object field's
props (`encoding_type`, `compression`, `media_type`) say how to decode its values, and win
over detection.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import json
import math
import re
import zlib
from dataclasses import dataclass
from typing import Any

from watershed.errors import ValidationError
from watershed.model import DEFAULT_BUCKET, Interval, Principal, Stream, StreamType
from watershed.services import catalog as cat
from watershed.services import ingest, natural, objects
from watershed.timefmt import now_ms

NAME = re.compile(r"^[0-9a-zA-Z:][0-9a-zA-Z\-_:]{1,31}$")
"""2 to 32 of `0-9 a-z A-Z - _ :`, not starting with `-` or `_` (Byteport's names)."""
NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
ZLIB_HEADERS = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")
ONLINE_REFRESH_MS = 60_000
"""A store refreshes the device's `lastOnlineTime` at most this often (a catalog write each time)."""


def check_name(value: str, field: str) -> str:
    if not NAME.match(value):
        raise ValidationError("names are 2-32 characters of 0-9 a-z A-Z - _ : and do not start with - or _",
                              field)
    return value


@dataclass(frozen=True)
class Packed:
    """A value that is base64 of (optionally compressed) bytes: the bytes as sent, and how."""

    data: bytes
    compression: str


def detect_packed(text: str) -> Packed | None:
    """Base64 whose decoded bytes start with a zlib or bzip2 header, else None."""
    if len(text) < 8:
        return None
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if data[:2] in ZLIB_HEADERS:
        return Packed(data, "gzip")
    if data[:3] == b"BZh":
        return Packed(data, "bzip2")
    return None


def _decode_object(stream_doc: dict[str, Any], text: str, field: str) -> tuple[bytes, str]:
    """The object's bytes (decoded and decompressed) and its media type, as its field says."""
    props = stream_doc.get("props") or {}
    media_type = str(props.get("media_type") or objects.DEFAULT_CONTENT_TYPE)
    if props.get("encoding_type", "base64") == "base64":
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("is not valid base64 for an object field", field) from None
    else:
        data = text.encode("utf-8")
    compression = props.get("compression")
    if compression is None:
        compression = "gzip" if data[:2] in ZLIB_HEADERS else "bzip2" if data[:3] == b"BZh" else "none"
    return objects.decompress(data, str(compression), field), media_type


def recompress(data: bytes, compression: str) -> bytes:
    """An object's bytes compressed again as its field was sent (same algorithm, not the same bytes)."""
    if compression in ("gzip", "zlib"):
        return zlib.compress(data)
    if compression == "bzip2":
        return bz2.compress(data)
    return data


def _typed(stream_type: StreamType, text: str, field: str) -> Any:
    if stream_type in (StreamType.FLOAT, StreamType.INTEGER):
        if not NUMBER.match(text) or not math.isfinite(float(text)):
            raise ValidationError(f"must be a number for a {stream_type.value} field", field)
        number = float(text)
        return ingest.check_value(stream_type, int(number) if stream_type is StreamType.INTEGER else number, field)
    if stream_type is StreamType.BOOLEAN:
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValidationError("must be true or false for a boolean field", field)
        return text.lower() in ("true", "1")
    if stream_type is StreamType.JSON:
        try:
            return ingest.check_value(stream_type, json.loads(text), field)
        except ValueError:
            raise ValidationError("must be JSON for a json field", field) from None
    return ingest.check_value(stream_type, text, field)


def infer_type(text: str) -> tuple[str, dict[str, Any]]:
    """The stream type (and props) a first value creates."""
    if NUMBER.match(text) and math.isfinite(float(text)):
        return StreamType.FLOAT.value, {}
    packed = detect_packed(text)
    if packed is not None:
        return StreamType.OBJECT.value, {"encoding_type": "base64", "compression": packed.compression}
    return StreamType.STRING.value, {}


@dataclass
class Stored:
    station: dict[str, Any]
    fields: int


def store(principal: Principal, namespace: str, uid: str, fields: dict[str, str], ts: int | None) -> Stored:
    """Validate every field, then create what is missing and write; nothing of a bad call is stored."""
    check_name(namespace, "namespace")
    check_name(uid, "uid")
    for name in fields:
        check_name(name, name)
    pool = natural.pool(principal, namespace, create=False)
    when = ts if ts is not None else now_ms()
    station = natural.station(principal, pool, uid, create=True)
    plans: list[tuple[dict[str, Any] | None, str, str, str, dict[str, Any]]] = []
    known = _fields_of(station, list(fields))
    for name, text in fields.items():
        doc = known.get(name)
        kind, props = (doc["type"], doc.get("props") or {}) if doc is not None else infer_type(text)
        _check(kind, props, text, name)
        plans.append((doc, name, text, kind, props))
    values: list[tuple[Stream, list[Interval]]] = []
    for doc, name, text, kind, props in plans:
        if doc is None:
            doc = natural.stream(station, name, kind, {"props": props})
        stream = cat.stream_from_doc(doc)
        if stream.type is StreamType.OBJECT:
            data, media_type = _decode_object(doc, text, name)
            objects.store(stream, objects.Blob(data, media_type, when), when)
        else:
            values.append((stream, [Interval(when, _typed(stream.type, text, name))]))
    ingest.write_many(values)
    _online(station, now_ms())
    return Stored(station, len(fields))


def _check(type_name: str, props: dict[str, Any], text: str, field: str) -> None:
    kind = StreamType(type_name)
    if kind is StreamType.OBJECT:
        _decode_object({"props": props}, text, field)
    elif kind in (StreamType.COORDINATE, StreamType.HEX):
        raise ValidationError(f"a {kind.value} field cannot be stored through this API", field)
    else:
        _typed(kind, text, field)


def _fields_of(station: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """The device's existing fields among `names`, by alias: GetItems for one or two, else one
    Query over the station's streams."""
    if len(names) <= 2:
        found = {name: cat.find_stream_by_alias(station["id"], DEFAULT_BUCKET, name) for name in names}
        return {name: doc for name, doc in found.items() if doc is not None}
    return {doc["alias"]: doc for doc in cat.bucket_streams(station["id"], DEFAULT_BUCKET) if doc.get("alias")}


def _online(station: dict[str, Any], at: int) -> None:
    last = station.get("lastOnlineTime")
    if station.get("isOnline") and isinstance(last, int) and at - last < ONLINE_REFRESH_MS:
        return
    station["isOnline"] = True
    station["lastOnlineTime"] = max(at, last) if isinstance(last, int) else at
    cat.save_station(station)
