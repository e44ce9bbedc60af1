"""Object streams through the local runtime: uploads in every encoding come back byte for byte."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import os
import zlib
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform
from watershed import config

BLOB = os.urandom(200_000) + bytes(range(256))


@pytest.fixture
def blob_stream(api: httpx.Client) -> dict[str, Any]:
    pool = api.post("/v1/pools", json={"name": "objects site"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "camera"}).json()
    return dict(api.post(f"/v1/stations/{station['id']}/streams", json={"name": "frames", "type": "object"}).json())


def _envelope(packed: bytes, compression: str, ts: int) -> dict[str, Any]:
    return {"content": base64.b64encode(packed).decode(), "compression": compression,
            "contentType": "image/jpeg", "timestamp": ts}


@pytest.mark.parametrize(
    ("name", "pack"),
    [("base64", None), ("gzip", gzip.compress), ("bzip2", bz2.compress), ("zlib", zlib.compress)],
)
def test_envelope_uploads_round_trip_byte_for_byte(
    api: httpx.Client, blob_stream: dict[str, Any], name: str, pack: Any
) -> None:
    ts = 1_700_000_000_000
    body = _envelope(BLOB, "none", ts) if pack is None else _envelope(pack(BLOB), name, ts)
    stored = api.post(f"/v1/streams/{blob_stream['id']}/objects", json=body)
    assert stored.status_code == 201, stored.text
    assert stored.json()["value"]["sha256"] == hashlib.sha256(BLOB).hexdigest()
    fetched = api.get(f"/v1/streams/{blob_stream['id']}/objects/{ts}")
    assert fetched.status_code == 200
    assert fetched.content == BLOB
    assert fetched.headers["content-type"] == "image/jpeg"


def test_raw_upload_round_trips_and_is_an_interval(api: httpx.Client, blob_stream: dict[str, Any]) -> None:
    stored = api.post(f"/v1/streams/{blob_stream['id']}/objects", content=BLOB,
                      params={"timestamp": "2025-11-24T10:00:00Z"}, headers={"Content-Type": "image/png"})
    assert stored.status_code == 201, stored.text
    value = stored.json()["value"]
    assert value["size"] == len(BLOB) and value["contentType"] == "image/png"
    fetched = api.get(f"/v1/streams/{blob_stream['id']}/objects/2025-11-24T10:00:00.000Z")
    assert fetched.content == BLOB and fetched.headers["content-type"] == "image/png"
    listed = api.get(f"/v1/streams/{blob_stream['id']}/intervals").json()["data"]
    assert listed == [{"timestamp": "2025-11-24T10:00:00.000Z", "value": value}]


def test_presigned_url_serves_the_same_bytes(api: httpx.Client, blob_stream: dict[str, Any]) -> None:
    api.post(f"/v1/streams/{blob_stream['id']}/objects", content=BLOB, params={"timestamp": "1700000000000"},
             headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    linked = api.get(f"/v1/streams/{blob_stream['id']}/objects/1700000000000", params={"as": "url"})
    assert linked.status_code == 200, linked.text
    assert httpx.get(linked.json()["url"], timeout=30).content == BLOB


def test_corrupt_bzip2_is_400_and_stores_nothing(
    platform: Platform, api: httpx.Client, blob_stream: dict[str, Any]
) -> None:
    body = _envelope(bz2.compress(BLOB)[:-20], "bzip2", 1_700_000_000_000)
    refused = api.post(f"/v1/streams/{blob_stream['id']}/objects", json=body)
    assert refused.status_code == 400
    assert refused.json()["field"] == "content"
    assert api.get(f"/v1/streams/{blob_stream['id']}/objects/1700000000000").status_code == 404
    assert api.get(f"/v1/streams/{blob_stream['id']}/intervals").json()["data"] == []
    listing = httpx.get(f"{platform.url}/_local/s3/{config.OBJECTS_BUCKET}",
                        params={"prefix": f"{platform.org}/{blob_stream['id']}/"})
    assert listing.json()["keys"] == []


def test_object_over_the_api_limit_is_413_and_presigned_put_takes_it(
    api: httpx.Client, blob_stream: dict[str, Any]
) -> None:
    big = os.urandom(4_600_000)
    refused = api.post(f"/v1/streams/{blob_stream['id']}/objects", content=big,
                       headers={"Content-Type": "video/mp4"})
    assert refused.status_code == 413
    assert "presigned PUT" in refused.json()["message"]

    started = api.post(f"/v1/streams/{blob_stream['id']}/objects/uploads",
                       json={"contentType": "video/mp4", "timestamp": "2025-11-24T12:00:00Z"})
    assert started.status_code == 201, started.text
    ticket = started.json()
    put = httpx.put(ticket["url"], content=big, headers=ticket["headers"], timeout=60)
    assert put.status_code == 200, put.text
    done = api.post(f"/v1/streams/{blob_stream['id']}/objects/uploads/{ticket['upload']}")
    assert done.status_code == 201, done.text
    assert done.json()["value"]["size"] == len(big)
    assert done.json()["value"]["sha256"] == hashlib.sha256(big).hexdigest()
    redirect = api.get(f"/v1/streams/{blob_stream['id']}/objects/2025-11-24T12:00:00Z")
    assert redirect.status_code == 303
    assert httpx.get(redirect.headers["location"], timeout=60).content == big


def test_plain_pushes_to_an_object_stream_are_refused(api: httpx.Client, blob_stream: dict[str, Any]) -> None:
    refused = api.post(f"/v1/streams/{blob_stream['id']}/intervals",
                       json=[{"timestamp": 1_700_000_000_000, "value": "aGVsbG8="}])
    assert refused.status_code == 400
    assert "objects" in refused.json()["message"]


def test_deleting_an_object_stream_deletes_its_blobs(
    platform: Platform, api: httpx.Client, blob_stream: dict[str, Any]
) -> None:
    for ts in ("2025-11-24T10:00:00Z", "2025-11-24T11:00:00Z"):
        stored = api.post(f"/v1/streams/{blob_stream['id']}/objects", content=b"frame", params={"timestamp": ts},
                          headers={"Content-Type": "image/jpeg"})
        assert stored.status_code == 201, stored.text
    prefix = f"{platform.org}/{blob_stream['id']}/"
    listing = f"{platform.url}/_local/s3/{config.OBJECTS_BUCKET}"
    assert len(httpx.get(listing, params={"prefix": prefix}).json()["keys"]) == 2
    deleted = api.delete(f"/v1/stations/{blob_stream['station']}").json()["deleted"]
    assert deleted == {"pools": 0, "stations": 1, "buckets": 1, "streams": 1, "intervals": 2, "objects": 2}
    assert httpx.get(listing, params={"prefix": prefix}).json()["keys"] == []
