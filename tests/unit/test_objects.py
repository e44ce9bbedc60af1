"""Object streams below HTTP: decoding, limits, and the blob/interval pair they store."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from watershed import config
from watershed.api.request import Request
from watershed.errors import NotFound, PayloadTooLarge, ValidationError
from watershed.model import Principal
from watershed.protocols import native_objects
from watershed.services import catalog as cat
from watershed.services import objects
from watershed.store import intervals

PAYLOAD = bytes(range(256)) * 40 + b"\x00\xff end"


@pytest.fixture
def setup(aws: None) -> Iterator[tuple[Principal, dict[str, Any], dict[str, Any]]]:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=config.OBJECTS_BUCKET)
    from watershed.admin import create_org

    principal = Principal(create_org("objects").org_id, frozenset({"admin"}))
    pool = cat.create_pool(principal, {"name": "site"})
    station = cat.create_station(principal, pool["id"], {"name": "camera"})
    blob_stream = cat.create_stream(principal, station["id"], {"name": "snapshots", "type": "object"})
    number_stream = cat.create_stream(principal, station["id"], {"name": "temp", "type": "float"})
    yield principal, blob_stream, number_stream


def upload(principal: Principal, stream_id: str, body: bytes, content_type: str, **query: str) -> Any:
    request = Request(path="", path_params={"id": stream_id}, query=query, headers={"content-type": content_type},
                      body=body, principal_or_none=principal)
    return native_objects.upload_object(request)


def download(principal: Principal, stream_id: str, ts: str, **query: str) -> Any:
    request = Request(path="", path_params={"id": stream_id, "timestamp": ts}, query=query,
                      principal_or_none=principal)
    return native_objects.get_object(request)


@pytest.mark.parametrize(
    ("compression", "pack"),
    [("none", lambda b: b), ("gzip", gzip.compress), ("gzip", zlib.compress), ("zlib", zlib.compress),
     ("bzip2", bz2.compress)],
)
def test_decompress_undoes_each_compression(compression: str, pack: Any) -> None:
    assert objects.decompress(pack(PAYLOAD), compression) == PAYLOAD


@pytest.mark.parametrize(
    ("compression", "data"),
    [("bzip2", bz2.compress(PAYLOAD)[:-7]), ("bzip2", b"BZh91AY&SY" + b"\x00" * 40),
     ("gzip", gzip.compress(PAYLOAD)[:-9]), ("zlib", b"not zlib at all"),
     ("gzip", gzip.compress(PAYLOAD) + b"trailing")],
)
def test_corrupt_or_truncated_data_is_a_400(compression: str, data: bytes) -> None:
    with pytest.raises(ValidationError) as error:
        objects.decompress(data, compression)
    assert error.value.field == "content"


def test_a_small_bomb_is_refused_without_inflating_it_whole() -> None:
    bomb = zlib.compress(b"\x00" * (objects.MAX_INLINE_BYTES + 10))
    with pytest.raises(PayloadTooLarge, match="uploads"):
        objects.decompress(bomb, "zlib")


def test_envelope_rejects_bad_base64_and_unknown_compression() -> None:
    with pytest.raises(ValidationError) as error:
        objects.from_envelope({"content": "@@@not base64"})
    assert error.value.field == "content"
    with pytest.raises(ValidationError) as error:
        objects.from_envelope({"content": "AAAA", "compression": "lzma"})
    assert error.value.field == "compression"


def test_raw_upload_round_trips_and_records_key_size_type_and_checksum(setup: Any) -> None:
    principal, stream, _ = setup
    reply = upload(principal, stream["id"], PAYLOAD, "image/png", timestamp="1700000000123")
    assert reply.status == 201
    assert reply.body == {
        "timestamp": "2023-11-14T22:13:20.123Z",
        "value": {"key": f"{principal.org}/{stream['id']}/1700000000123", "size": len(PAYLOAD),
                  "contentType": "image/png", "sha256": hashlib.sha256(PAYLOAD).hexdigest()},
    }
    stored = intervals.query_range(stream["id"], 0, 2**53)
    assert [i.value for i in stored] == [reply.body["value"]]
    fetched = download(principal, stream["id"], "1700000000123")
    assert (fetched.status, fetched.raw, fetched.headers["Content-Type"]) == (200, PAYLOAD, "image/png")
    by_iso = download(principal, stream["id"], "2023-11-14T22:13:20.123Z")
    assert by_iso.raw == PAYLOAD


def test_envelope_upload_decodes_byteport_style_zlib(setup: Any) -> None:
    principal, stream, _ = setup
    body = {"content": base64.b64encode(zlib.compress(PAYLOAD)).decode(), "compression": "gzip",
            "contentType": "application/pdf", "timestamp": 1700000000000}
    reply = upload(principal, stream["id"], json.dumps(body).encode(), "application/json")
    assert reply.body["value"]["size"] == len(PAYLOAD)
    assert download(principal, stream["id"], "1700000000000").raw == PAYLOAD


def test_corrupt_bzip2_stores_neither_blob_nor_interval(setup: Any) -> None:
    principal, stream, _ = setup
    body = {"content": base64.b64encode(bz2.compress(PAYLOAD)[:-5]).decode(), "compression": "bzip2",
            "timestamp": 1700000000000}
    with pytest.raises(ValidationError):
        upload(principal, stream["id"], json.dumps(body).encode(), "application/json")
    assert intervals.query_range(stream["id"], 0, 2**53) == []
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=config.OBJECTS_BUCKET)
    assert listed.get("KeyCount") == 0


def test_over_the_inline_limit_is_413_pointing_at_presigned_uploads(setup: Any) -> None:
    principal, stream, _ = setup
    with pytest.raises(PayloadTooLarge, match="presigned PUT"):
        upload(principal, stream["id"], b"x" * (objects.MAX_INLINE_BYTES + 1), "application/octet-stream")


def test_objects_only_go_to_object_streams(setup: Any) -> None:
    principal, _, number_stream = setup
    with pytest.raises(ValidationError, match="not object"):
        upload(principal, number_stream["id"], PAYLOAD, "image/png")


def test_missing_object_is_404_and_as_url_gives_a_presigned_link(setup: Any) -> None:
    principal, stream, _ = setup
    with pytest.raises(NotFound):
        download(principal, stream["id"], "1700000000000")
    upload(principal, stream["id"], PAYLOAD, "image/png", timestamp="1700000000000")
    linked = download(principal, stream["id"], "1700000000000", **{"as": "url"})
    assert linked.status == 200
    assert f"{principal.org}/{stream['id']}/1700000000000" in linked.body["url"]
    assert "X-Amz-Signature" in linked.body["url"]


def test_another_organisation_cannot_read_the_object(setup: Any) -> None:
    principal, stream, _ = setup
    upload(principal, stream["id"], PAYLOAD, "image/png", timestamp="1700000000000")
    stranger = Principal("someone-else", frozenset({"admin"}))
    with pytest.raises(NotFound):
        download(stranger, stream["id"], "1700000000000")


def test_presigned_upload_registers_the_interval_on_completion(setup: Any) -> None:
    principal, stream, _ = setup
    started = objects.start_upload(cat.stream_from_doc(stream), {"contentType": "video/mp4",
                                                                 "timestamp": 1700000000000})
    assert started["method"] == "PUT" and "X-Amz-Signature" in started["url"]
    blob_stream = cat.stream_from_doc(stream)
    with pytest.raises(ValidationError, match="nothing was uploaded"):
        objects.complete_upload(blob_stream, started["upload"])
    big = b"v" * (objects.MAX_INLINE_BYTES + 100)
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=config.OBJECTS_BUCKET, Key=objects.object_key(blob_stream, 1700000000000), Body=big)
    done = objects.complete_upload(blob_stream, started["upload"])
    assert done.value["size"] == len(big)
    assert done.value["sha256"] == hashlib.sha256(big).hexdigest()
    too_big = download(principal, stream["id"], "1700000000000")
    assert too_big.status == 303 and "X-Amz-Signature" in too_big.headers["Location"]
