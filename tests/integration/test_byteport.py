"""Byteport HTTP API v1 under /byteport over real HTTP, replaying the reference Python 2 client's
exact requests (urllib2: a form-urlencoded POST or a GET with the pairs in the query string,
`User-Agent: Mozilla/5.0`) and the read formats of ../shared/wire/byteport.md."""

from __future__ import annotations

import base64
import bz2
import os
import uuid
import zlib
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.conftest import Platform

URLLIB2 = {"User-Agent": "Mozilla/5.0", "Accept-Encoding": "identity", "Connection": "close"}
FORM = {**URLLIB2, "Content-Type": "application/x-www-form-urlencoded"}


class Client:
    """What ByteportHttpClient / ByteportHttpGetClient send, with the base URL changed."""

    def __init__(self, platform: Platform, namespace: str, key: str, uid: str) -> None:
        self.http = httpx.Client(base_url=f"{platform.url}/byteport", timeout=30)
        self.namespace, self.key, self.uid = namespace, key, uid

    def store(self, data: dict[str, Any] | None = None, uid: str | None = None) -> httpx.Response:
        pairs = {**(data or {}), "_key": self.key}
        body = urlencode({k: str(v).encode("utf-8") for k, v in pairs.items()})
        return self.http.post(f"/api/v1/timeseries/{self.namespace}/{uid or self.uid}/", content=body.encode(),
                              headers=FORM)

    def get_store(self, data: dict[str, Any], uid: str | None = None) -> httpx.Response:
        query = urlencode({**{k: str(v) for k, v in data.items()}, "_key": self.key})
        return self.http.get(f"/api/v1/timeseries/{self.namespace}/{uid or self.uid}/?{query}", headers=URLLIB2)

    def base64_encode_and_store(self, field: str, blob: bytes, compression: str | None = None,
                                timestamp: float | None = None) -> httpx.Response:
        packed = {None: blob, "gzip": zlib.compress(blob) if compression == "gzip" else b"",
                  "bzip2": bz2.compress(blob) if compression == "bzip2" else b""}[compression]
        data: dict[str, Any] = {field: base64.b64encode(packed).decode()}
        if timestamp is not None:
            data["_ts"] = timestamp
        return self.store(data)

    def read(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/v1/{path}", params={**params, "_key": self.key}, headers=URLLIB2)


def _namespace(api: httpx.Client) -> tuple[str, dict[str, Any]]:
    name = f"space{uuid.uuid4().hex[:8]}"
    pool = api.post("/v1/pools", json={"name": f"Byteport {name}", "key": name})
    assert pool.status_code == 201, pool.text
    return name, pool.json()


@pytest.fixture
def space(platform: Platform, api: httpx.Client) -> tuple[Client, dict[str, Any]]:
    name, pool = _namespace(api)
    return Client(platform, name, platform.key, "barDev1"), pool


def _series(client: Client, field: str, **params: Any) -> dict[str, Any]:
    response = client.read(f"timeseries/{client.namespace}/{client.uid}/{field}/", **params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_heartbeat_creates_the_device_online(space: tuple[Client, dict[str, Any]], api: httpx.Client) -> None:
    client, pool = space
    beat = client.store()
    assert beat.status_code == 200 and beat.content == b""
    devices = client.read(f"namespace/{client.namespace}/device/").json()
    assert [(d["uid"], d["namespace"], d["is_online"], d["fields"]) for d in devices] == [
        ("barDev1", client.namespace, True, [])]
    station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": "barDev1"}).json()["data"][0]
    assert station["isOnline"] is True and station["lastOnlineTime"]


def test_store_numbers_and_text_then_read_the_timeseries(space: tuple[Client, dict[str, Any]]) -> None:
    client, _ = space
    stored = client.store({"info": "All systems nominal", "current_time": 1448276543.12, "_ts": "1448276543.25"})
    assert stored.status_code == 200 and stored.content == b""
    assert client.store({"current_time": 1448276603.5, "_ts": 1448276603.75}).status_code == 200
    body = _series(client, "current_time", **{"from": "2015-11-23T00:00:00", "to": "2015-11-24T00:00:00"})
    assert body["meta"] == {"path": f"{client.namespace}.barDev1.current_time"}
    points = body["data"]["ts_data"]
    assert [(p["t"], p["v"]) for p in points] == [("2015-11-23T11:02:23.250000", 1448276543.12),
                                                  ("2015-11-23T11:03:23.750000", 1448276603.5)]
    assert all(set(p) == {"r", "t", "v", "m"} for p in points)
    meta = body["data"]["ts_meta"]
    assert (meta["len"], meta["orig_len"], meta["data_type"], meta["reduced"], meta["path"]) == (
        2, 2, "float", False, f"{client.namespace}.barDev1.current_time")
    assert meta["from"] == "2015-11-23T00:00:00.000000" and meta["to"] == "2015-11-24T00:00:00.000000"
    text = _series(client, "info", **{"from": "2015-11-23T00:00:00", "to": "2015-11-24T00:00:00"})
    assert [p["v"] for p in text["data"]["ts_data"]] == ["All systems nominal"]
    assert text["data"]["ts_meta"]["data_type"] == "string"
    one = client.read(f"value/{client.namespace}/barDev1/current_time/{points[1]['r']}/")
    assert one.status_code == 200
    assert one.json() == {"namespace_name": client.namespace, "uid": "barDev1", "field_name": "current_time",
                          "value": 1448276603.5, "timestamp": "2015-11-23T11:03:23.750000", "ref": points[1]["r"],
                          "meta": {}}


def test_store_by_get_and_timedelta_reads(space: tuple[Client, dict[str, Any]]) -> None:
    client, _ = space
    assert client.get_store({"temperature": 21.5, "debug": "booted"}).status_code == 200
    recent = _series(client, "temperature", timedelta_minutes=5)["data"]["ts_data"]
    assert [p["v"] for p in recent] == [21.5]
    assert [p["v"] for p in _series(client, "temperature", timedelta_hours=1)["data"]["ts_data"]] == [21.5]
    assert _series(client, "debug", timedelta_days=1)["data"]["ts_data"][0]["v"] == "booted"
    too_long = client.get_store({"blob": "x" * 2100})
    assert too_long.status_code == 414 and "use POST" in too_long.text
    assert client.read(f"timeseries/{client.namespace}/barDev1/blob/").status_code == 404


@pytest.mark.parametrize("compression", ["gzip", "bzip2"])
def test_objects_are_detected_stored_decoded_and_read_back(
    space: tuple[Client, dict[str, Any]], api: httpx.Client, compression: str,
) -> None:
    client, pool = space
    blob = os.urandom(300) + b"status: ok\n" * 200
    assert client.base64_encode_and_store("status_files", blob, compression, timestamp=1700000000.5).status_code == 200
    points = _series(client, "status_files", **{"from": "2023-11-14T00:00:00", "to": "2023-11-15T00:00:00"})
    [point] = points["data"]["ts_data"]
    assert points["data"]["ts_meta"]["data_type"] == "object" and point["m"]["size"] == len(blob)
    base = f"download/value/{client.namespace}/barDev1/status_files/{point['r']}/"
    assert client.read(base).content == blob
    packed = client.read(base, decode="true", decompress="false").content
    assert (zlib.decompress(packed) if compression == "gzip" else bz2.decompress(packed)) == blob
    encoded = client.read(base, decode="false", decompress="false").content
    assert base64.b64decode(encoded) == packed
    station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": "barDev1"}).json()["data"][0]
    stream = api.get(f"/v1/stations/{station['id']}/streams", params={"alias": "status_files"}).json()["data"][0]
    assert stream["type"] == "object" and stream["props"]["compression"] == compression
    native = api.get(f"/v1/streams/{stream['id']}/objects/{point['r']}")
    assert native.status_code == 200 and native.content == blob


def test_a_field_definition_set_natively_wins_over_detection(
    space: tuple[Client, dict[str, Any]], api: httpx.Client,
) -> None:
    client, pool = space
    assert client.store().status_code == 200
    station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": "barDev1"}).json()["data"][0]
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    made = api.post(f"/v1/stations/{station['id']}/streams", json={
        "name": "camera", "alias": "camera", "type": "object",
        "props": {"encoding_type": "base64", "compression": "none", "media_type": "image/png"}})
    assert made.status_code == 201, made.text
    assert client.base64_encode_and_store("camera", png).status_code == 200
    [point] = _series(client, "camera")["data"]["ts_data"]
    got = client.read(f"download/value/{client.namespace}/barDev1/camera/{point['r']}/")
    assert got.content == png and got.headers["content-type"] == "image/png"
    assert client.store({"camera": "not base64 at all!"}).status_code == 400


def test_listings_search_and_echo(space: tuple[Client, dict[str, Any]], platform: Platform) -> None:
    client, _ = space
    client.store({"temp": 1})
    client.store({"temp": 2}, uid="otherDev")
    spaces = client.read("namespace/").json()
    assert {"name": client.namespace, "description": ""} in spaces
    assert client.read("namespace/", key=client.namespace).json() == [{"name": client.namespace, "description": ""}]
    devices = client.read(f"namespace/{client.namespace}/device/").json()
    assert sorted(d["uid"] for d in devices) == ["barDev1", "otherDev"]
    assert devices[0]["fields"] == [{"name": "temp", "data_type": "float"}]
    one = client.read(f"namespace/{client.namespace}/device/", key="otherDev").json()
    assert [d["uid"] for d in one] == ["otherDev"]
    found = client.read("search_devices/", term="otherdev", full="False", limit=20).json()
    assert found == {"meta": {"term": "otherdev"}, "data": [f"{client.namespace}.otherDev"]}
    echo = httpx.get(f"{platform.url}/byteport/api/v1/echo/", params={"hello": "world"})
    assert echo.status_code == 200 and echo.json() == {"hello": "world"}


def test_bad_names_and_values_store_nothing(space: tuple[Client, dict[str, Any]]) -> None:
    client, _ = space
    bad = client.store({"good": 1, "-bad": 2})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/plain") and "-bad" in bad.text
    assert client.read(f"namespace/{client.namespace}/device/").json() == []
    assert client.store({"level": 5}).status_code == 200
    mixed = client.store({"fresh": 1, "level": "high"})
    assert mixed.status_code == 400 and "level" in mixed.text
    assert client.read(f"timeseries/{client.namespace}/barDev1/fresh/").status_code == 404
    assert client.store({"x": 1}, uid="a").status_code == 400
    assert client.store({"_private": "ignored", "kept": "yes"}).status_code == 200
    assert client.read(f"timeseries/{client.namespace}/barDev1/_private/").status_code in (400, 404)


def test_keys_schemes_and_foreign_organisations(space: tuple[Client, dict[str, Any]], platform: Platform) -> None:
    client, _ = space
    assert client.store({"temp": 3}).status_code == 200
    with httpx.Client(base_url=f"{platform.url}/byteport", timeout=30) as raw:
        path = f"/api/v1/timeseries/{client.namespace}/barDev1/"
        assert raw.post(path, content=b"temp=4", headers=FORM).status_code == 403
        assert raw.post(path, content=b"temp=4&_key=wsk_wrong", headers=FORM).status_code == 403
        assert raw.post(path, content=b"temp=4", headers={**FORM, "Authorization": f"ApiKey {platform.key}"}
                        ).status_code == 403
        api_key = {"Authorization": f"ApiKey {platform.key}"}
        native = raw.get(f"{path}temp/", params={"timedelta_days": 1}, headers=api_key)
        assert native.status_code == 200 and native.json()["data"]["ts_data"][0]["v"] == 3.0
        assert raw.get(f"{path}temp/").status_code == 403
        _, foreign = platform.create_org(f"byteport-foreign-{uuid.uuid4().hex[:6]}")
        theirs = Client(platform, client.namespace, foreign, "barDev1")
        assert theirs.store({"temp": 9}).status_code == 404
        assert theirs.read(f"timeseries/{client.namespace}/barDev1/temp/").status_code == 404
        assert theirs.read(f"namespace/{client.namespace}/device/").status_code == 404
        assert client.namespace not in theirs.read("namespace/").text
        assert theirs.read("search_devices/", term="barDev1").json()["data"] == []
    with platform.client() as api:
        reader = api.post("/v1/keys", json={"name": "bp reader", "scopes": ["read"]}).json()["key"]
    read_only = Client(platform, client.namespace, reader, "barDev1")
    assert read_only.store({"temp": 5}).status_code == 403
    assert read_only.read(f"timeseries/{client.namespace}/barDev1/temp/").status_code == 200
    assert [p["v"] for p in _series(client, "temp")["data"]["ts_data"]] == [3.0]


def test_byteport_fields_are_native_streams(space: tuple[Client, dict[str, Any]], api: httpx.Client) -> None:
    client, pool = space
    assert client.store({"temp": 20.25, "_ts": 1700000000}).status_code == 200
    station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": "barDev1"}).json()["data"][0]
    stream = api.get(f"/v1/stations/{station['id']}/streams", params={"alias": "temp"}).json()["data"][0]
    assert stream["type"] == "float"
    assert api.get(f"/v1/streams/{stream['id']}/intervals").json()["data"] == [
        {"timestamp": "2023-11-14T22:13:20.000Z", "value": 20.25}]
    api.post(f"/v1/streams/{stream['id']}/intervals", json=[{"timestamp": "2023-11-14T22:14:20Z", "value": 21}])
    values = [p["v"] for p in _series(client, "temp", **{"from": "2023-11-14T00:00:00", "to": "2023-11-15T00:00:00"}
                                      )["data"]["ts_data"]]
    assert values == [20.25, 21.0]
