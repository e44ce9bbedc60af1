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

THING_FIELDS = {"id", "modelName", "serialNumber", "name", "description", "coordinates", "timezone", "isEon",
                "isOnline", "status", "visibility", "lastDataTime", "lastCmdTime", "lastBirthTime", "lastDeathTime",
                "lastOnlineTime", "labels", "createdAt", "updatedAt"}
SHAPE_FIELDS = {"id", "alias", "unit", "valueType", "createdAt", "updatedAt"}
SEED_THING = {
    "name": "name-02", "serialNumber": "sn-02", "description": "My ORIO", "modelName": "ORIO", "coordinates": [0, 0],
    "isEon": True, "visibility": "private",
    "labels": [{"key": "foo", "value": "bar"}, {"key": "foo1", "value": "bar1"}],
}
SEED_BUCKET = {"id": "sensorData", "description": "description", "dataShapes": [
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
