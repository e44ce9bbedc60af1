"""The native API v1 over real HTTP against `python -m local`: what a client sees."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform

T0 = 1_750_000_000_000


def make_stream(api: httpx.Client, type_: str = "float", **extra: Any) -> dict[str, Any]:
    pool = api.post("/v1/pools", json={"name": "plant"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "boiler"}).json()
    stream = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "temp", "type": type_, **extra})
    assert stream.status_code == 201, stream.text
    return stream.json()


@pytest.fixture(scope="module")
def api(platform: Platform) -> httpx.Client:
    return platform.client()


def test_crud_of_pools_stations_and_streams(api: httpx.Client) -> None:
    pool = api.post("/v1/pools", json={"name": "Site A", "description": "north"})
    assert pool.status_code == 201
    pool_id = pool.json()["id"]
    assert api.get(f"/v1/pools/{pool_id}").json()["name"] == "Site A"
    assert api.patch(f"/v1/pools/{pool_id}", json={"name": "Site B"}).json()["name"] == "Site B"
    assert pool_id in [p["id"] for p in api.get("/v1/pools", params={"limit": 100}).json()["data"]]

    station = api.post(
        f"/v1/pools/{pool_id}/stations",
        json={"name": "meter-1", "labels": ["floor:1", "hvac"], "serialNumber": "SN1",
              "location": {"lat": 1, "lon": 2}},
    ).json()
    api.post(f"/v1/pools/{pool_id}/stations", json={"name": "pump-2", "labels": ["hvac"], "serialNumber": "SN2"})
    listed = api.get(f"/v1/pools/{pool_id}/stations", params={"labels": "floor:1,hvac", "labelsMatch": "all"}).json()
    assert [s["name"] for s in listed["data"]] == ["meter-1"]
    assert [s["name"] for s in api.get(f"/v1/pools/{pool_id}/stations", params={"namePrefix": "pump"}).json()["data"]] \
        == ["pump-2"]
    by_serial = api.get(f"/v1/pools/{pool_id}/stations", params={"serialNumber": "SN1"}).json()["data"]
    assert [s["name"] for s in by_serial] == ["meter-1"]
    assert api.patch(f"/v1/stations/{station['id']}", json={"model": "X1"}).json()["model"] == "X1"

    stream = api.post(f"/v1/stations/{station['id']}/streams",
                      json={"name": "power", "type": "float", "unit": "kW", "alias": "p", "timeZone": "Europe/Paris"})
    assert stream.status_code == 201
    assert api.get(f"/v1/streams/{stream.json()['id']}").json()["unit"] == "kW"
    duplicate = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "p2", "type": "float", "alias": "p"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "alias"
    assert api.patch(f"/v1/streams/{stream.json()['id']}", json={"unit": "W"}).json()["unit"] == "W"


def test_push_pull_latest_and_upsert(api: httpx.Client) -> None:
    stream = make_stream(api)
    sid = stream["id"]
    body = [{"timestamp": T0 + i * 1000, "value": i * 0.5} for i in range(10)]
    assert api.post(f"/v1/streams/{sid}/intervals", json=body).json() == {"accepted": 10}
    assert api.post(f"/v1/streams/{sid}/intervals", json=body).json() == {"accepted": 10}
    api.post(f"/v1/streams/{sid}/intervals", json=[{"timestamp": "2025-06-15T15:06:40.000+00:00", "value": 99}])
    data = api.get(f"/v1/streams/{sid}/intervals", params={"limit": 1000}).json()["data"]
    assert len(data) == 10
    assert data[0] == {"timestamp": "2025-06-15T15:06:40.000Z", "value": 99.0}
    assert api.get(f"/v1/streams/{sid}/latest").json() == {"timestamp": "2025-06-15T15:06:49.000Z", "value": 4.5}
    station_latest = api.get(f"/v1/stations/{stream['station']}/latest").json()["data"]
    assert station_latest[0]["stream"] == sid and station_latest[0]["value"] == 4.5


def test_push_across_streams(api: httpx.Client) -> None:
    a, b = make_stream(api), make_stream(api, "integer")
    body = [{"stream": a["id"], "timestamp": T0, "value": 1.5}, {"stream": b["id"], "timestamp": T0, "value": 7}]
    assert api.post("/v1/intervals", json=body).json() == {"accepted": 2}
    assert api.get(f"/v1/streams/{b['id']}/latest").json()["value"] == 7


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_2500_intervals_returns_each_once_in_order(api: httpx.Client, order: str) -> None:
    sid = make_stream(api, "integer")["id"]
    pushed = [{"timestamp": T0 + i * 60_000, "value": i} for i in range(2500)]
    assert api.post(f"/v1/streams/{sid}/intervals", json=pushed).json() == {"accepted": 2500}
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 1000, "order": order}
    pages = 0
    while True:
        page = api.get(f"/v1/streams/{sid}/intervals", params=params).json()
        pages += 1
        seen += [item["value"] for item in page["data"]]
        if not page["paging"]["afterCursor"]:
            break
        assert page["paging"]["nextLink"].startswith(f"/v1/streams/{sid}/intervals?")
        params["cursor"] = page["paging"]["afterCursor"]
    expected = list(range(2500)) if order == "asc" else list(range(2499, -1, -1))
    assert seen == expected and pages == 3


def test_start_end_window(api: httpx.Client) -> None:
    sid = make_stream(api, "integer")["id"]
    api.post(f"/v1/streams/{sid}/intervals", json=[{"timestamp": T0 + i, "value": i} for i in range(10)])
    got = api.get(f"/v1/streams/{sid}/intervals", params={"start": T0 + 2, "end": T0 + 5}).json()["data"]
    assert [x["value"] for x in got] == [2, 3, 4]


def test_delete_range(api: httpx.Client) -> None:
    sid = make_stream(api, "integer")["id"]
    api.post(f"/v1/streams/{sid}/intervals", json=[{"timestamp": T0 + i, "value": i} for i in range(10)])
    assert api.delete(f"/v1/streams/{sid}/intervals", params={"start": T0 + 3, "end": T0 + 6}).json() == {"deleted": 3}
    left = [x["value"] for x in api.get(f"/v1/streams/{sid}/intervals").json()["data"]]
    assert left == [0, 1, 2, 6, 7, 8, 9]
    assert api.delete(f"/v1/streams/{sid}/intervals").status_code == 400


BAD_PUSHES = [
    ("not json", 400, None),
    ({"timestamp": T0, "value": 1}, 400, None),
    ([{"timestamp": T0, "value": "abc"}], 400, "[0].value"),
    ([{"timestamp": T0, "value": 1}, {"timestamp": "yesterday", "value": 1}], 400, "[1].timestamp"),
    ([{"timestamp": -5, "value": 1}], 400, "[0].timestamp"),
    ([{"timestamp": "1969-12-31T23:59:59Z", "value": 1}], 400, "[0].timestamp"),
    ([{"timestamp": 4_102_444_800_000, "value": 1}], 400, "[0].timestamp"),
    ([{"timestamp": T0, "value": 1, "unit": "C"}], 400, "[0].unit"),
    ([{"value": 1}], 400, "[0].timestamp"),
    ([{"timestamp": T0}], 400, "[0].value"),
    ([{"timestamp": T0 + i, "value": 1} for i in range(10_001)], 413, None),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_PUSHES)
def test_bad_pushes_are_rejected_whole(api: httpx.Client, body: Any, status: int, field: str | None) -> None:
    sid = make_stream(api)["id"]
    raw = body if isinstance(body, str) else json.dumps(body)
    response = api.post(f"/v1/streams/{sid}/intervals", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] and error["message"]
    assert error.get("field") == field
    assert api.get(f"/v1/streams/{sid}/intervals").json()["data"] == []


def test_integer_stream_refuses_fractions(api: httpx.Client) -> None:
    sid = make_stream(api, "integer")["id"]
    response = api.post(f"/v1/streams/{sid}/intervals", json=[{"timestamp": T0, "value": 1}, {"timestamp": T0 + 1,
                                                                                          "value": 1.5}])
    assert response.status_code == 400 and response.json()["field"] == "[1].value"
    assert api.get(f"/v1/streams/{sid}/intervals").json()["data"] == []


def test_body_over_6_mb_is_413(api: httpx.Client) -> None:
    sid = make_stream(api, "string")["id"]
    big = json.dumps([{"timestamp": T0, "value": "x" * (7 * 1024 * 1024)}])
    response = api.post(f"/v1/streams/{sid}/intervals", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 5001}, "limit"), ({"cursor": "forged"}, "cursor"),
     ({"order": "up"}, "order"), ({"start": "soon"}, "start")],
)
def test_bad_query_parameters(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    sid = make_stream(api)["id"]
    response = api.get(f"/v1/streams/{sid}/intervals", params=params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_cursor_of_another_stream_is_refused(api: httpx.Client) -> None:
    a, b = make_stream(api, "integer")["id"], make_stream(api, "integer")["id"]
    api.post(f"/v1/streams/{a}/intervals", json=[{"timestamp": T0 + i, "value": i} for i in range(3)])
    cursor = api.get(f"/v1/streams/{a}/intervals", params={"limit": 1}).json()["paging"]["afterCursor"]
    response = api.get(f"/v1/streams/{b}/intervals", params={"cursor": cursor})
    assert response.status_code == 400 and response.json()["field"] == "cursor"


def test_unknown_ids_and_fields(api: httpx.Client) -> None:
    assert api.get("/v1/streams/nope").status_code == 404
    assert api.post("/v1/streams/nope/intervals", json=[]).status_code == 404
    response = api.post("/v1/pools", json={"name": "x", "colour": "red"})
    assert response.status_code == 400 and response.json()["field"] == "colour"
    bad_label = api.post(f"/v1/pools/{api.post('/v1/pools', json={'name': 'x'}).json()['id']}/stations",
                         json={"name": "s", "labels": ["ok", "not ok"]})
    assert bad_label.status_code == 400 and bad_label.json()["field"] == "labels[1]"
    bad_type = api.post("/v1/intervals", json=[{"stream": "nope", "timestamp": T0, "value": 1}])
    assert bad_type.status_code == 404 and bad_type.json()["field"] == "[0].stream"


def test_cascade_delete_says_what_it_removed(api: httpx.Client) -> None:
    stream = make_stream(api, "integer")
    sid = stream["id"]
    api.post(f"/v1/streams/{sid}/intervals", json=[{"timestamp": T0 + i, "value": i} for i in range(30)])
    other = api.post(f"/v1/stations/{stream['station']}/streams", json={"name": "b", "type": "boolean"}).json()
    api.post(f"/v1/streams/{other['id']}/intervals", json=[{"timestamp": T0, "value": True}])
    deleted = api.delete(f"/v1/pools/{stream['pool']}").json()["deleted"]
    assert deleted == {"pools": 1, "stations": 1, "buckets": 1, "streams": 2, "intervals": 31, "objects": 0}
    for path in (f"/v1/pools/{stream['pool']}", f"/v1/stations/{stream['station']}", f"/v1/streams/{sid}"):
        assert api.get(path).status_code == 404
    assert api.get(f"/v1/streams/{sid}/intervals").status_code == 404


def test_keys_scopes_and_shown_once(api: httpx.Client, platform: Platform) -> None:
    stream = make_stream(api)
    created = api.post("/v1/keys", json={"name": "reader", "scopes": ["read"]})
    assert created.status_code == 201
    secret = created.json()["key"]
    listed = api.get("/v1/keys").json()["data"]
    assert all("key" not in k and "hash" not in k for k in listed)
    reader = platform.client(secret)
    assert reader.get(f"/v1/streams/{stream['id']}").status_code == 200
    denied = reader.post(f"/v1/streams/{stream['id']}/intervals", json=[{"timestamp": T0, "value": 1}])
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert reader.post("/v1/pools", json={"name": "x"}).status_code == 403
    assert api.delete(f"/v1/keys/{created.json()['id']}").status_code == 204
    assert created.json()["id"] not in [k["id"] for k in api.get("/v1/keys").json()["data"]]


def test_missing_or_unknown_key_is_401(platform: Platform) -> None:
    assert httpx.get(f"{platform.url}/v1/pools").status_code == 401
    assert platform.client("wsk_unknown").get("/v1/pools").status_code == 401
