"""ORing PaaS v4 under /oring/v4 over real HTTP: every REST endpoint of the seed with its example
bodies (../shared/seeds/oring-paas-v4-api.txt), the list filters in combination, paging links
followed to the end both ways, `{code, message}` errors, and the same data through /v1.

Each test works in an organisation of its own, so `metadata.total` is exact."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.conftest import Platform
from tests.integration.test_oauth import REDIRECT, _sign_in

THING_FIELDS = {"id", "modelName", "serialNumber", "name", "description", "coordinates", "timezone", "isEon",
                "isOnline", "status", "visibility", "lastDataTime", "lastCmdTime", "lastBirthTime", "lastDeathTime",
                "lastOnlineTime", "labels", "createdAt", "updatedAt"}
SHAPE_FIELDS = {"id", "alias", "unit", "valueType", "createdAt", "updatedAt"}
SEED_THING = {
    "name": "name-02", "serialNumber": "sn-02", "description": "My ORIO", "modelName": "ORIO", "coordinates": [0, 0],
    "isEon": True, "visibility": "private",
    "labels": [{"key": "foo", "value": "bar"}, {"key": "foo1", "value": "bar1"}],
}
SEED_BUCKET: dict[str, Any] = {"id": "sensorData", "description": "description", "dataShapes": [
    {"id": "floatType", "valueType": "float", "alias": "my alias", "unit": "unit"},
    {"id": "integerType", "valueType": "float", "alias": "my alias", "unit": "unit"},
    {"id": "stringType", "valueType": "string", "alias": "my alias", "unit": "unit"},
    {"id": "booleanType", "valueType": "boolean", "alias": "my alias", "unit": "unit"},
    {"id": "hexType", "valueType": "hex", "alias": "my alias", "unit": "unit"},
    {"id": "coordinateType", "valueType": "coordinate", "alias": "my alias", "unit": "unit"},
]}


@pytest.fixture
def org(platform: Platform) -> tuple[str, str]:
    """A fresh organisation and its admin key."""
    return platform.create_org(f"oring-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def oring(platform: Platform, org: tuple[str, str]) -> Iterator[httpx.Client]:
    """An ORing client: base URL `/oring`, `Authorization: ApiKey <key>`."""
    with httpx.Client(base_url=f"{platform.url}/oring", headers={"Authorization": f"ApiKey {org[1]}"},
                      timeout=30) as client:
        yield client


@pytest.fixture
def native(platform: Platform, org: tuple[str, str]) -> Iterator[httpx.Client]:
    with platform.client(org[1]) as client:
        yield client


def _thing(oring: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {**SEED_THING, "name": f"t-{uuid.uuid4().hex[:8]}", **fields}
    created = oring.post("/v4/things", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json()["data"])


# things


def test_create_thing_answers_the_seed_fields_and_the_secret_once(oring: httpx.Client, native: httpx.Client) -> None:
    created = oring.post("/v4/things", json=SEED_THING)
    assert created.status_code == 201, created.text
    thing = created.json()["data"]
    assert set(thing) == THING_FIELDS | {"secret"} and len(thing["secret"]) >= 16
    assert (thing["name"], thing["serialNumber"], thing["modelName"], thing["description"], thing["coordinates"],
            thing["isEon"], thing["visibility"], thing["status"], thing["isOnline"], thing["lastOnlineTime"]) == (
        "name-02", "sn-02", "ORIO", "My ORIO", [0, 0], True, "private", "active", False, None)
    assert thing["labels"] == SEED_THING["labels"]
    assert thing["createdAt"].endswith("Z")
    got = oring.get(f"/v4/things/{thing['id']}")
    assert got.status_code == 200
    assert set(got.json()["data"]) == THING_FIELDS and "secret" not in got.json()["data"]
    assert got.json()["data"]["lastDataTime"] is None
    station = native.get(f"/v1/stations/{thing['id']}").json()
    assert (station["name"], station["key"], station["serialNumber"], station["model"]) == (
        "name-02", "name-02", "sn-02", "ORIO")
    assert station["labels"] == {"foo": "bar", "foo1": "bar1"}
    twice = oring.post("/v4/things", json=SEED_THING)
    assert twice.status_code == 409 and twice.json()["code"] == "CONFLICT_ERROR"


def test_list_things_pages_both_ways_with_absolute_links(platform: Platform, oring: httpx.Client) -> None:
    made = [_thing(oring)["id"] for _ in range(7)]
    first = oring.get("/v4/things", params={"limit": 3})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"paging", "metadata", "data"} and body["metadata"] == {"total": 7}
    assert set(body["paging"]) == {"beforeCursor", "afterCursor", "previousLink", "nextLink"}
    assert body["paging"]["beforeCursor"] is None and body["paging"]["previousLink"] is None
    assert body["paging"]["nextLink"].startswith(f"{platform.url}/oring/v4/things?")
    pages = [body]
    while pages[-1]["paging"]["nextLink"]:
        link = pages[-1]["paging"]["nextLink"]
        assert parse_qs(urlsplit(link).query)["limit"] == ["3"]
        pages.append(httpx.get(link, headers=oring.headers, timeout=30).json())
    assert [len(p["data"]) for p in pages] == [3, 3, 1]
    assert [t["id"] for p in pages for t in p["data"]] == made
    assert all(p["metadata"]["total"] == 7 for p in pages)
    back = [pages[-1]]
    while back[-1]["paging"]["previousLink"]:
        back.append(httpx.get(back[-1]["paging"]["previousLink"], headers=oring.headers, timeout=30).json())
    assert [[t["id"] for t in p["data"]] for p in reversed(back)] == [[t["id"] for t in p["data"]] for p in pages]
    assert back[-1]["paging"]["previousLink"] is None and back[-1]["paging"]["nextLink"] is not None


def test_list_filters_combine(oring: httpx.Client) -> None:
    a = _thing(oring, serialNumber="sn-a", modelName="ORIO", coordinates=[25.0, 121.5],
               labels=[{"key": "foo", "value": "bar"}, {"key": "foo2", "value": "bar2"}])
    b = _thing(oring, serialNumber="sn-b", modelName="ORIO", coordinates=[10.0, 10.0],
               labels=[{"key": "foo", "value": "bar"}])
    c = _thing(oring, serialNumber="sn-c", modelName="IGS", coordinates=[25.1, 121.6],
               labels=[{"key": "foo2", "value": "bar2"}])
    d = _thing(oring, serialNumber="sn-d", modelName="IGS", coordinates=None, labels=[])

    def ids(params: dict[str, Any]) -> list[str]:
        response = oring.get("/v4/things", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["metadata"]["total"] == len(response.json()["data"])
        return [t["id"] for t in response.json()["data"]]

    labels = {"labels[foo]": "bar", "labels[foo2]": "bar2"}
    assert ids({**labels, "labelOperator": "and"}) == [a["id"]]
    assert ids({**labels, "labelOperator": "or"}) == [a["id"], b["id"], c["id"]]
    assert ids(labels) == [a["id"], b["id"], c["id"]]
    assert ids({"serialNumber": "sn-b"}) == [b["id"]]
    assert ids({"modelName": "IGS"}) == [c["id"], d["id"]]
    taipei = "[[24.9, 121.4], [24.9, 121.7], [25.2, 121.7], [25.2, 121.4]]"
    assert ids({"polygon": taipei}) == [a["id"], c["id"]]
    assert ids({"polygon": taipei, "modelName": "ORIO"}) == [a["id"]]
    assert ids({"polygon": taipei, "labels[foo]": "bar", "labelOperator": "and"}) == [a["id"]]
    assert ids({"modelName": "ORIO", "labels[foo2]": "bar2"}) == [a["id"]]
    assert ids({"serialNumber": "sn-c", "modelName": "ORIO"}) == []
    seed_polygon = "[[102.0, 0.0], [103.0, 1.0], [104.0, 0.0], [105.0, 1.0]]"
    assert ids({"polygon": seed_polygon}) == []
    bad = oring.get("/v4/things", params={"polygon": "[[0,0],[1,1]]"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_REQUEST_ERROR"
    assert oring.get("/v4/things", params={"labelOperator": "xor"}).status_code == 400
    assert oring.get("/v4/things", params={"limit": 101}).status_code == 400
    assert oring.get("/v4/things", params={"limit": 0}).status_code == 400


def test_update_thing_labels_and_delete(oring: httpx.Client, native: httpx.Client) -> None:
    thing = _thing(oring)
    patched = oring.patch(f"/v4/things/{thing['id']}", json={
        "name": "name-03", "serialNumber": "sn-03", "description": "My ORIO 2", "modelName": "ORIO-2",
        "coordinates": [25.03, 121.56], "isEon": False, "visibility": "public"})
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert (data["name"], data["serialNumber"], data["description"], data["modelName"], data["coordinates"],
            data["isEon"], data["visibility"]) == ("name-03", "sn-03", "My ORIO 2", "ORIO-2", [25.03, 121.56],
                                                   False, "public")
    assert data["labels"] == SEED_THING["labels"] and set(data) == THING_FIELDS
    station = native.get(f"/v1/stations/{thing['id']}").json()
    assert (station["key"], station["location"]) == ("name-03", {"lat": 25.03, "lon": 121.56})

    put = oring.put(f"/v4/things/{thing['id']}/labels/foo", json={"value": "cool"})
    assert (put.status_code, put.json()) == (200, {"message": "ok"})
    assert oring.put(f"/v4/things/{thing['id']}/labels/new", json={"value": "one"}).status_code == 200
    labels = oring.get(f"/v4/things/{thing['id']}").json()["data"]["labels"]
    assert labels == [{"key": "foo", "value": "cool"}, {"key": "foo1", "value": "bar1"}, {"key": "new", "value": "one"}]
    bad = oring.put(f"/v4/things/{thing['id']}/labels/foo", json={"value": "not cool!"})
    assert bad.status_code == 400 and bad.json()["field"] == "value"
    gone = oring.delete(f"/v4/things/{thing['id']}/labels/foo1")
    assert (gone.status_code, gone.json()) == (200, {"message": "ok"})
    assert oring.delete(f"/v4/things/{thing['id']}/labels/foo1").status_code == 404
    assert [label["key"] for label in oring.get(f"/v4/things/{thing['id']}").json()["data"]["labels"]] == ["foo", "new"]

    deleted = oring.delete(f"/v4/things/{thing['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "ok"})
    missing = oring.get(f"/v4/things/{thing['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND_ERROR"
    assert native.get(f"/v1/stations/{thing['id']}").status_code == 404


def test_errors_speak_the_dialect(platform: Platform, oring: httpx.Client, native: httpx.Client) -> None:
    url = f"{platform.url}/oring/v4/things"
    none = httpx.get(url, timeout=30)
    assert none.status_code == 401 and none.json()["code"] == "UNAUTHORIZED_ERROR" and none.json()["message"]
    wrong = httpx.get(url, headers={"Authorization": "ApiKey wsk_nope"}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["code"] == "UNAUTHORIZED_ERROR"
    other_scheme = httpx.get(url, headers={"Authorization": f"Bitpool2 {oring.headers['authorization'][7:]}"},
                             timeout=30)
    assert other_scheme.status_code == 401
    reader = native.post("/v1/keys", json={"name": "reader", "scopes": ["read"]}).json()["key"]
    read_only = httpx.post(url, json=SEED_THING, headers={"Authorization": f"ApiKey {reader}"}, timeout=30)
    assert read_only.status_code == 403 and read_only.json()["code"] == "FORBIDDEN_ERROR"
    assert httpx.get(url, headers={"Authorization": f"ApiKey {reader}"}, timeout=30).status_code == 200
    missing = oring.post("/v4/things", json={"name": "x"})
    assert missing.status_code == 400 and missing.json()["code"] == "INVALID_REQUEST_ERROR"
    assert missing.json()["field"] == "serialNumber"
    bad_label = oring.post("/v4/things", json={**SEED_THING, "labels": [{"key": "a b", "value": "c"}]})
    assert bad_label.status_code == 400 and bad_label.json()["field"] == "labels[0].key"
    bad_visibility = oring.post("/v4/things", json={**SEED_THING, "visibility": "secret"})
    assert bad_visibility.status_code == 400 and bad_visibility.json()["field"] == "visibility"
    bad_coordinates = oring.post("/v4/things", json={**SEED_THING, "coordinates": [91, 0]})
    assert bad_coordinates.status_code == 400 and bad_coordinates.json()["field"] == "coordinates[0]"
    no_route = oring.get("/v4/nothing-here")
    assert no_route.status_code == 404 and no_route.json()["code"] == "NOT_FOUND_ERROR"
    forged = oring.get("/v4/things", params={"afterCursor": "abc"})
    assert forged.status_code == 400 and forged.json()["field"] == "afterCursor"


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", None), (b"[1, 2]", None), (b'{"name": "x", "serialNumber": "s", "modelName": "m", "colour": 1}',
                                             "colour"),
    (b'{"name": "has space", "serialNumber": "s", "modelName": "m"}', "name"),
    (b'{"name": "x", "serialNumber": "s", "modelName": "m", "labels": {"a": "b"}}', "labels"),
    (b'{"name": "x", "serialNumber": "s", "modelName": "m", "coordinates": [1]}', "coordinates"),
    (b'{"name": "x", "serialNumber": "s", "modelName": "m", "isEon": "yes"}', "isEon"),
])
def test_bad_thing_bodies_are_400_naming_the_field(oring: httpx.Client, body: bytes, field: str | None) -> None:
    answer = oring.post("/v4/things", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "INVALID_REQUEST_ERROR" and answer.json()["message"]
    if field is not None:
        assert answer.json()["field"] == field
    assert oring.get("/v4/things").json()["metadata"]["total"] == 0


def test_a_foreign_thing_is_a_404(platform: Platform, oring: httpx.Client) -> None:
    thing = _thing(oring)
    _, other_key = platform.create_org("oring-other")
    other = httpx.get(f"{platform.url}/oring/v4/things/{thing['id']}", headers={"Authorization": f"ApiKey {other_key}"},
                      timeout=30)
    assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND_ERROR"
    listed = httpx.get(f"{platform.url}/oring/v4/things", headers={"Authorization": f"ApiKey {other_key}"}, timeout=30)
    assert listed.json()["metadata"]["total"] == 0 and listed.json()["data"] == []


def test_a_native_station_is_a_thing_by_id_but_not_listed(oring: httpx.Client, native: httpx.Client) -> None:
    pool = native.post("/v1/pools", json={"name": "site"}).json()
    station = native.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gw", "serialNumber": "n-1"}).json()
    native.post(f"/v1/stations/{station['id']}/streams", json={"name": "t", "type": "float", "alias": "temp",
                                                              "bucket": "env"})
    native.post(f"/v1/stations/{station['id']}/streams", json={"name": "no alias", "type": "float", "bucket": "env"})
    got = oring.get(f"/v4/things/{station['id']}")
    assert got.status_code == 200 and got.json()["data"]["serialNumber"] == "n-1"
    buckets = oring.get(f"/v4/things/{station['id']}/data-buckets").json()["data"]
    assert [(b["id"], [s["id"] for s in b["dataShapes"]]) for b in buckets] == [("env", ["temp"])]
    assert oring.get("/v4/things").json()["metadata"]["total"] == 0


# the account


def test_me_and_org(oring: httpx.Client, native: httpx.Client, org: tuple[str, str]) -> None:
    me = oring.get("/v4/me")
    assert me.status_code == 200
    assert {"id", "name", "email", "role", "orgId", "lastLoginedAt", "createdAt", "updatedAt"} <= set(me.json()["data"])
    assert me.json()["data"]["orgId"] == org[0] and me.json()["data"]["role"] == "admin"
    key = me.json()["data"]
    stored = next(k for k in native.get("/v1/keys").json()["data"] if k["id"] == key["id"])
    assert (key["kind"], key["name"], key["createdAt"]) == ("key", stored["name"], stored["created"])
    found = oring.get("/v4/org")
    assert found.status_code == 200
    data = found.json()["data"]
    assert {"id", "name", "status", "type", "trialPeriod", "createdAt", "updatedAt"} <= set(data)
    assert data["id"] == org[0] and data["name"].startswith("oring-")


# configs


def test_configs_are_the_native_config_groups(oring: httpx.Client, native: httpx.Client) -> None:
    thing = _thing(oring)
    base = f"/v4/things/{thing['id']}/configs"
    put = oring.put(f"{base}/config1", json={"configs": {"foo": "bar", "number": 1, "boolean": True},
                                             "partialUpdate": False})
    assert put.status_code == 200, put.text
    data = put.json()["data"]
    assert set(data) == {"name", "configs", "lastConfigTime", "lastReportTime"}
    assert data["name"] == "config1" and data["lastReportTime"] is None and data["lastConfigTime"].endswith("Z")
    assert data["configs"] == [{"key": "foo", "expectedValue": "bar", "reportedValue": None},
                               {"key": "number", "expectedValue": 1, "reportedValue": None},
                               {"key": "boolean", "expectedValue": True, "reportedValue": None}]
    partial = oring.put(f"{base}/config1", json={"configs": {"number": 2}, "partialUpdate": True}).json()["data"]
    assert [(c["key"], c["expectedValue"]) for c in partial["configs"]] == [("foo", "bar"), ("number", 2),
                                                                            ("boolean", True)]
    assert oring.put(f"{base}/gw-1-mode", json={"configs": {"GW1_00800": 1}}).status_code == 200
    native_view = native.get(f"/v1/stations/{thing['id']}/configs/config1").json()
    assert native_view["expected"] == {"foo": "bar", "number": 2, "boolean": True}
    listed = oring.get(base)
    assert listed.status_code == 200 and [c["name"] for c in listed.json()["data"]] == ["config1", "gw-1-mode"]
    assert [c["name"] for c in oring.get(base, params={"name": "gw-1-mode"}).json()["data"]] == ["gw-1-mode"]
    one = oring.get(f"{base}/gw-1-mode")
    assert one.status_code == 200 and one.json()["data"]["configs"] == [
        {"key": "GW1_00800", "expectedValue": 1, "reportedValue": None}]
    deleted = oring.delete(f"{base}/gw-1-mode")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "ok"})
    assert oring.get(f"{base}/gw-1-mode").status_code == 404
    assert oring.put(f"{base}/config1", json={"configs": [1]}).status_code == 400


# data buckets and shapes


def test_buckets_and_shapes_are_native_buckets_and_streams(oring: httpx.Client, native: httpx.Client) -> None:
    thing = _thing(oring)
    base = f"/v4/things/{thing['id']}/data-buckets"
    created = oring.post(base, json=SEED_BUCKET)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert set(data) == {"id", "description", "dataShapes", "createdAt", "updatedAt"}
    assert (data["id"], data["description"]) == ("sensorData", "description")
    assert all(set(s) == SHAPE_FIELDS for s in data["dataShapes"])
    assert [(s["id"], s["valueType"], s["alias"], s["unit"]) for s in data["dataShapes"]] == [
        (s["id"], s["valueType"], s["alias"], s["unit"]) for s in SEED_BUCKET["dataShapes"]]
    bucket = native.get(f"/v1/stations/{thing['id']}/buckets/sensorData")
    assert bucket.status_code == 200 and bucket.json()["description"] == "description"
    streams = native.get(f"/v1/stations/{thing['id']}/streams").json()["data"]
    assert {(s["alias"], s["type"], s["bucket"], s["unit"]) for s in streams} == {
        (s["id"], s["valueType"], "sensorData", "unit") for s in SEED_BUCKET["dataShapes"]}
    assert oring.post(base, json=SEED_BUCKET).status_code == 409

    bare = oring.post(base, json={"id": "sensorData2", "dataShapes": [{"id": "integerType", "valueType": "integer"}]})
    assert bare.status_code == 201
    assert bare.json()["data"]["description"] is None and bare.json()["data"]["dataShapes"][0]["alias"] is None
    listed = oring.get(base)
    assert listed.status_code == 200 and [b["id"] for b in listed.json()["data"]] == ["sensorData", "sensorData2"]
    assert len(listed.json()["data"][0]["dataShapes"]) == 6
    one = oring.get(f"{base}/sensorData")
    assert one.status_code == 200 and one.json()["data"]["id"] == "sensorData"

    shape = oring.post(f"{base}/sensorData/data-shapes", json={"id": "floatType2", "alias": "alias", "unit": "unit",
                                                               "valueType": "float"})
    assert shape.status_code == 201, shape.text
    assert set(shape.json()["data"]) == SHAPE_FIELDS and shape.json()["data"]["id"] == "floatType2"
    assert oring.post(f"{base}/sensorData/data-shapes", json={"id": "floatType2", "valueType": "float"}
                      ).status_code == 409
    wrong_type = oring.post(f"{base}/sensorData/data-shapes", json={"id": "x", "valueType": "double"})
    assert wrong_type.status_code == 400 and wrong_type.json()["field"] == "valueType"
    dropped = oring.delete(f"{base}/sensorData/data-shapes/floatType2")
    assert (dropped.status_code, dropped.json()) == (200, {"message": "ok"})
    assert oring.delete(f"{base}/sensorData/data-shapes/floatType2").status_code == 404
    assert len(oring.get(f"{base}/sensorData").json()["data"]["dataShapes"]) == 6

    bad = oring.post(base, json={"id": "b3", "dataShapes": [{"id": "a", "valueType": "float"},
                                                           {"id": "b", "valueType": "nope"}]})
    assert bad.status_code == 400 and bad.json()["field"] == "dataShapes[1].valueType"
    assert oring.get(f"{base}/b3").status_code == 404
    gone = oring.delete(f"{base}/sensorData2")
    assert (gone.status_code, gone.json()) == (200, {"message": "ok"})
    assert oring.get(f"{base}/sensorData2").status_code == 404
    assert native.get(f"/v1/stations/{thing['id']}/buckets/sensorData2").status_code == 404


# timeline


def _seeded(oring: httpx.Client, native: httpx.Client) -> tuple[dict[str, Any], dict[str, str]]:
    """A thing with bucket sensorData (temperature, humidity) and data pushed over /v1: 12 timestamps,
    humidity at every other one, one humidity-only timestamp."""
    thing = _thing(oring)
    created = oring.post(f"/v4/things/{thing['id']}/data-buckets", json={"id": "sensorData", "dataShapes": [
        {"id": "temperature", "valueType": "float"}, {"id": "humidity", "valueType": "float"}]})
    assert created.status_code == 201
    streams = {s["alias"]: s["id"] for s in native.get(f"/v1/stations/{thing['id']}/streams").json()["data"]}
    base = 1_589_444_400_000
    temps = [{"timestamp": base + i * 1000, "value": 20 + i / 2} for i in range(12)]
    hums = [{"timestamp": base + i * 1000, "value": round(0.5 + i / 100, 2)} for i in range(0, 12, 2)]
    hums.append({"timestamp": base + 500, "value": 0.9})
    for alias, points in (("temperature", temps), ("humidity", hums)):
        pushed = native.post(f"/v1/streams/{streams[alias]}/intervals", json=points)
        assert pushed.status_code in (200, 201), pushed.text
    return thing, streams


def _merged_native(native: httpx.Client, streams: dict[str, str], names: list[str]) -> list[dict[str, Any]]:
    """The native raw reads of each stream, merged by timestamp, newest first."""
    by_time: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        for point in native.get(f"/v1/streams/{streams[name]}/intervals", params={"limit": 1000}).json()["data"]:
            by_time.setdefault(point["timestamp"], []).append({"id": name, "value": point["value"]})
    return [{"timestamp": ts, "values": by_time[ts]} for ts in sorted(by_time, reverse=True)]


def test_timeline_equals_native_reads_merged_and_pages_both_ways(platform: Platform, oring: httpx.Client,
                                                                  native: httpx.Client) -> None:
    thing, streams = _seeded(oring, native)
    path = f"/v4/things/{thing['id']}/data-buckets/sensorData/timeline"
    expected = _merged_native(native, streams, ["temperature", "humidity"])
    assert len(expected) == 13
    whole = oring.get(path, params={"dataShapes": "temperature,humidity"})
    assert whole.status_code == 200, whole.text
    assert whole.json()["data"] == expected and whole.json()["metadata"] == {"total": 13}
    assert whole.json()["paging"]["nextLink"] is None

    first = oring.get(path, params={"dataShapes": "temperature,humidity", "limit": 5, "order": "desc"}).json()
    pages = [first]
    while pages[-1]["paging"]["nextLink"]:
        link = pages[-1]["paging"]["nextLink"]
        assert link.startswith(f"{platform.url}/oring{path}?")
        query = parse_qs(urlsplit(link).query)
        assert query["dataShapes"] == ["temperature,humidity"] and query["limit"] == ["5"]
        pages.append(httpx.get(link, headers=oring.headers, timeout=30).json())
    assert [len(p["data"]) for p in pages] == [5, 5, 3]
    assert [row for p in pages for row in p["data"]] == expected
    assert all(p["metadata"]["total"] == 13 for p in pages)
    back = [pages[-1]]
    while back[-1]["paging"]["previousLink"]:
        back.append(httpx.get(back[-1]["paging"]["previousLink"], headers=oring.headers, timeout=30).json())
    assert [p["data"] for p in reversed(back)] == [p["data"] for p in pages]

    ascending = oring.get(path, params={"dataShapes": "humidity,temperature", "order": "asc", "limit": 100}).json()
    assert [row["timestamp"] for row in ascending["data"]] == [row["timestamp"] for row in reversed(expected)]
    assert ascending["data"][0]["values"] == [{"id": "humidity", "value": 0.5}, {"id": "temperature", "value": 20.0}]
    assert ascending["data"][1]["values"] == [{"id": "humidity", "value": 0.9}]

    ranged = oring.get(path, params={"dataShapes": "temperature", "begin": "2020-05-14T08:20:02.000Z",
                                     "end": "2020-05-14T08:20:05.000Z"}).json()
    assert [row["timestamp"] for row in ranged["data"]] == ["2020-05-14T08:20:04.000Z", "2020-05-14T08:20:03.000Z",
                                                           "2020-05-14T08:20:02.000Z"]
    assert ranged["metadata"]["total"] == 3

    assert oring.get(path).status_code == 400
    unknown = oring.get(path, params={"dataShapes": "temperature,pressure"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND_ERROR"
    assert oring.get(path, params={"dataShapes": "temperature", "order": "up"}).status_code == 400
    other = oring.get(path, params={"dataShapes": "humidity", "afterCursor": first["paging"]["afterCursor"]})
    assert other.status_code == 400 and other.json()["field"] == "afterCursor"


def test_last_telemetries_and_last_data_time(oring: httpx.Client, native: httpx.Client) -> None:
    thing, _ = _seeded(oring, native)
    found = oring.get(f"/v4/things/{thing['id']}/data-buckets/sensorData/last-telemetries")
    assert found.status_code == 200
    assert found.json()["data"] == [
        {"id": "temperature", "value": 25.5, "valueType": "float", "alias": None, "unit": None,
         "timestamp": "2020-05-14T08:20:11.000Z"},
        {"id": "humidity", "value": 0.6, "valueType": "float", "alias": None, "unit": None,
         "timestamp": "2020-05-14T08:20:10.000Z"},
    ]
    assert oring.get(f"/v4/things/{thing['id']}").json()["data"]["lastDataTime"] == "2020-05-14T08:20:11.000Z"


# OAuth 2.0 at /oring/v4/oauth/*: the seed's parameter names and JSON bodies


def test_client_credentials_grant_with_the_seed_body(platform: Platform, native: httpx.Client) -> None:
    client = native.post("/v1/clients", json={"name": "app", "grants": ["client_credentials"],
                                              "scopes": ["read"]}).json()
    token = httpx.post(f"{platform.url}/oring/v4/oauth/token", headers={"cache-control": "no-cache"}, json={
        "grant_type": "client_credentials", "client_id": client["clientId"], "client_secret": client["clientSecret"],
        "redirect_uri": REDIRECT}, timeout=30)
    assert token.status_code == 200, token.text
    body = token.json()
    assert {"access_token", "token_type", "expires_in"} <= set(body) and body["token_type"] == "Bearer"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    things = httpx.get(f"{platform.url}/oring/v4/things", headers=bearer, timeout=30)
    assert things.status_code == 200 and things.json()["data"] == []
    me = httpx.get(f"{platform.url}/oring/v4/me", headers=bearer, timeout=30).json()["data"]
    assert (me["id"], me["kind"], me["role"], me["name"]) == (client["clientId"], "client", "user", "app")
    refused = httpx.post(f"{platform.url}/oring/v4/things", headers=bearer, json=SEED_THING, timeout=30)
    assert refused.status_code == 403 and refused.json()["code"] == "FORBIDDEN_ERROR"
    wrong = httpx.post(f"{platform.url}/oring/v4/oauth/token", json={
        "grant_type": "client_credentials", "client_id": client["clientId"], "client_secret": "nope"}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_authorization_code_grant_with_the_seed_parameters(platform: Platform, native: httpx.Client) -> None:
    user = native.post("/v1/users", json={"username": "angus", "password": "correct horse battery",
                                          "scopes": ["admin"]})
    assert user.status_code == 201
    client = native.post("/v1/clients", json={"name": "dash", "grants": ["authorization_code"],
                                              "redirectUris": [REDIRECT]}).json()
    page = httpx.get(f"{platform.url}/oring/v4/oauth/authorize", params={
        "client_id": client["clientId"], "redirect_uri": REDIRECT, "response_type": "code", "state": "SECURE_RANDOM"},
        timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    answer = _sign_in(page, "angus", "correct horse battery")
    assert answer.status_code == 302, answer.text
    assert str(answer.request.url).startswith(f"{platform.url}/oring/v4/oauth/authorize")
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT and query["state"] == ["SECURE_RANDOM"]
    token = httpx.post(f"{platform.url}/oring/v4/oauth/token", json={
        "grant_type": "authorization_code", "client_id": client["clientId"], "client_secret": client["clientSecret"],
        "redirect_uri": REDIRECT, "code": query["code"][0]}, timeout=30)
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer" and token.json()["expires_in"] > 0
    me = httpx.get(f"{platform.url}/oring/v4/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                   timeout=30).json()["data"]
    assert (me["id"], me["name"], me["role"], me["kind"]) == (user.json()["id"], "angus", "admin", "user")
    assert me["createdAt"].endswith("Z")


def test_implicit_grant_answers_in_the_fragment(platform: Platform, native: httpx.Client) -> None:
    native.post("/v1/users", json={"username": "spa-user", "password": "correct horse battery", "scopes": ["read"]})
    client = native.post("/v1/clients", json={"name": "spa", "grants": ["implicit"], "redirectUris": [REDIRECT],
                                              "public": True}).json()
    page = httpx.get(f"{platform.url}/oring/v4/oauth/authorize", params={
        "client_id": client["clientId"], "redirect_uri": REDIRECT, "response_type": "token", "state": "SECURE_RANDOM"},
        timeout=30)
    answer = _sign_in(page, "spa-user", "correct horse battery")
    assert answer.status_code == 302, answer.text
    fragment = parse_qs(urlsplit(answer.headers["location"]).fragment)
    assert fragment["token_type"] == ["Bearer"] and fragment["state"] == ["SECURE_RANDOM"]
    assert int(fragment["expires_in"][0]) > 0
    things = httpx.get(f"{platform.url}/oring/v4/things",
                       headers={"Authorization": f"Bearer {fragment['access_token'][0]}"}, timeout=30)
    assert things.status_code == 200
