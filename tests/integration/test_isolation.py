"""Organisations never see each other; read keys cannot write; pool-restricted keys see their pool only."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Platform

T0 = 1_750_000_000_000


@pytest.fixture(scope="module")
def org_a(platform: Platform) -> dict[str, str]:
    api = platform.client()
    pool = api.post("/v1/pools", json={"name": "A-site"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "A-meter"}).json()
    stream = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "A-temp", "type": "float"}).json()
    api.post(f"/v1/streams/{stream['id']}/intervals", json=[{"timestamp": T0, "value": 1.0}])
    key = api.post("/v1/keys", json={"name": "a-admin", "scopes": ["admin"]}).json()
    return {"pool": pool["id"], "station": station["id"], "stream": stream["id"], "key": key["id"]}


def every_route_on(ids: dict[str, str]) -> list[tuple[str, str, object]]:
    pool, station, stream = ids["pool"], ids["station"], ids["stream"]
    point = [{"timestamp": T0 + 1, "value": 2.0}]
    return [
        ("GET", f"/v1/pools/{pool}", None),
        ("PATCH", f"/v1/pools/{pool}", {"name": "hijack"}),
        ("DELETE", f"/v1/pools/{pool}", None),
        ("POST", f"/v1/pools/{pool}/stations", {"name": "intruder"}),
        ("GET", f"/v1/pools/{pool}/stations", None),
        ("GET", f"/v1/stations/{station}", None),
        ("PATCH", f"/v1/stations/{station}", {"name": "hijack"}),
        ("DELETE", f"/v1/stations/{station}", None),
        ("POST", f"/v1/stations/{station}/streams", {"name": "intruder", "type": "float"}),
        ("GET", f"/v1/stations/{station}/streams", None),
        ("GET", f"/v1/stations/{station}/latest", None),
        ("GET", f"/v1/streams/{stream}", None),
        ("PATCH", f"/v1/streams/{stream}", {"name": "hijack"}),
        ("DELETE", f"/v1/streams/{stream}", None),
        ("POST", f"/v1/streams/{stream}/intervals", point),
        ("GET", f"/v1/streams/{stream}/intervals", None),
        ("DELETE", f"/v1/streams/{stream}/intervals?start=0&end={T0 + 10}", None),
        ("GET", f"/v1/streams/{stream}/latest", None),
        ("POST", "/v1/intervals", [{"stream": stream, **point[0]}]),
        ("DELETE", f"/v1/keys/{ids['key']}", None),
    ]


def test_another_organisation_gets_404_everywhere_and_changes_nothing(
    platform: Platform, org_a: dict[str, str]
) -> None:
    _, key_b = platform.create_org("B")
    b = platform.client(key_b)
    for method, path, body in every_route_on(org_a):
        response = b.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert org_a["pool"] not in [p["id"] for p in b.get("/v1/pools").json()["data"]]
    a = platform.client()
    assert a.get(f"/v1/pools/{org_a['pool']}").json()["name"] == "A-site"
    assert a.get(f"/v1/streams/{org_a['stream']}/intervals").json()["data"] == [
        {"timestamp": "2025-06-15T15:06:40.000Z", "value": 1.0}
    ]
    assert a.get(f"/v1/stations/{org_a['station']}/streams").json()["data"][0]["name"] == "A-temp"


def test_read_key_cannot_write(platform: Platform, org_a: dict[str, str]) -> None:
    secret = platform.client().post("/v1/keys", json={"name": "r", "scopes": ["read"]}).json()["key"]
    reader = platform.client(secret)
    writes = [(m, p, b) for m, p, b in every_route_on(org_a) if m != "GET"]
    for method, path, body in writes:
        assert reader.request(method, path, json=body).status_code == 403, (method, path)
    assert reader.get(f"/v1/streams/{org_a['stream']}/latest").json()["value"] == 1.0


def test_pool_restricted_key_sees_only_its_pool(platform: Platform, org_a: dict[str, str]) -> None:
    admin = platform.client()
    other_pool = admin.post("/v1/pools", json={"name": "other"}).json()
    other_station = admin.post(f"/v1/pools/{other_pool['id']}/stations", json={"name": "x"}).json()
    created = admin.post("/v1/keys", json={"name": "scoped", "scopes": ["write"], "pools": [other_pool["id"]]})
    assert created.status_code == 201, created.text
    scoped = platform.client(created.json()["key"])
    assert [p["id"] for p in scoped.get("/v1/pools").json()["data"]] == [other_pool["id"]]
    assert scoped.get(f"/v1/stations/{other_station['id']}").status_code == 200
    for path in (f"/v1/pools/{org_a['pool']}", f"/v1/stations/{org_a['station']}", f"/v1/streams/{org_a['stream']}"):
        assert scoped.get(path).status_code == 404
    denied = scoped.post(f"/v1/streams/{org_a['stream']}/intervals", json=[{"timestamp": T0, "value": 5.0}])
    assert denied.status_code == 404
    unknown_pool = admin.post("/v1/keys", json={"name": "bad", "scopes": ["read"], "pools": ["nope"]})
    assert unknown_pool.status_code == 404 and unknown_pool.json()["field"] == "pools[0]"
