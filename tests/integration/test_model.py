"""What the facades need from the model, over real HTTP on the native API: props, buckets,
key/value labels, counts, backward paging and look-ups by natural key, with what each costs in
DynamoDB requests (never a Scan)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tests.integration.conftest import Platform


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def _pool(api: httpx.Client, **extra: Any) -> dict[str, Any]:
    return _created(api.post("/v1/pools", json={"name": "model", **extra}))


def _station(api: httpx.Client, pool: str, **extra: Any) -> dict[str, Any]:
    return _created(api.post(f"/v1/pools/{pool}/stations", json={"name": "s", **extra}))


def _cost(platform: Platform, call: Callable[[], httpx.Response]) -> tuple[httpx.Response, Counter[str]]:
    """The response of `call` and the AWS requests every handler made while serving it."""
    before = platform.aws_requests()
    response = call()
    after = platform.aws_requests()
    spent: Counter[str] = Counter()
    for function, calls in after.items():
        for operation, n in calls.items():
            spent[operation] += n - before.get(function, {}).get(operation, 0)
    return response, +spent


def test_props_are_returned_and_merged_on_every_entity(api: httpx.Client) -> None:
    pool = _pool(api, props={"site": {"lat": 1}, "tier": 2})
    station = _station(api, pool["id"], props={"vendor": "acme"})
    stream = _created(api.post(f"/v1/stations/{station['id']}/streams",
                               json={"name": "t", "type": "float", "props": {"NAME": "Temp"}}))
    bucket = _created(api.post(f"/v1/stations/{station['id']}/buckets", json={"name": "b1", "props": {"k": 1}}))
    assert (pool["props"], station["props"], stream["props"], bucket["props"]) == (
        {"site": {"lat": 1}, "tier": 2}, {"vendor": "acme"}, {"NAME": "Temp"}, {"k": 1})
    patched = api.patch(f"/v1/pools/{pool['id']}", json={"props": {"tier": None, "new": True}})
    assert patched.status_code == 200 and patched.json()["props"] == {"site": {"lat": 1}, "new": True}
    assert api.get(f"/v1/pools/{pool['id']}").json()["props"] == {"site": {"lat": 1}, "new": True}
    for path in (f"/v1/stations/{station['id']}", f"/v1/streams/{stream['id']}",
                 f"/v1/stations/{station['id']}/buckets/b1"):
        assert api.patch(path, json={"props": {"extra": "x"}}).status_code == 200
        assert api.get(path).json()["props"]["extra"] == "x"
    too_big = api.patch(f"/v1/streams/{stream['id']}", json={"props": {"blob": "x" * 20_000}})
    assert too_big.status_code == 400 and too_big.json()["field"] == "props"
    assert api.get(f"/v1/streams/{stream['id']}").json()["props"] == {"NAME": "Temp", "extra": "x"}


def test_buckets_are_items_unique_per_station_and_may_be_empty(api: httpx.Client) -> None:
    station = _station(api, _pool(api)["id"])
    base = f"/v1/stations/{station['id']}/buckets"
    empty = _created(api.post(base, json={"name": "spare", "description": "nothing yet"}))
    assert empty == {**empty, "station": station["id"], "name": "spare", "description": "nothing yet", "props": {}}
    assert api.post(base, json={"name": "spare"}).status_code == 409
    assert api.post(base, json={"name": "a/b"}).json()["field"] == "name"
    stream = _created(api.post(f"/v1/stations/{station['id']}/streams",
                               json={"name": "t", "type": "float", "bucket": "sensors"}))
    names = [b["name"] for b in api.get(base).json()["data"]]
    assert names == ["spare", "sensors"]
    assert api.get(f"{base}/nope").status_code == 404
    deleted = api.delete(f"{base}/sensors")
    assert deleted.status_code == 200 and deleted.json()["deleted"]["streams"] == 1
    assert api.get(f"/v1/streams/{stream['id']}").status_code == 404
    assert [b["name"] for b in api.get(base).json()["data"]] == ["spare"]


def test_key_value_labels_filter_any_or_all_and_flat_labels_keep_working(api: httpx.Client) -> None:
    pool = _pool(api)["id"]
    a = _station(api, pool, labels={"site": "A", "floor": "3"})
    b = _station(api, pool, labels={"site": "B", "floor": "3"})
    flat = _station(api, pool, labels=["hvac"])
    assert flat["labels"] == {"hvac": ""} and a["labels"] == {"site": "A", "floor": "3"}

    def ids(**query: str) -> list[str]:
        response = api.get(f"/v1/pools/{pool}/stations", params=query)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["data"]]

    assert ids(**{"labels[site]": "A"}) == [a["id"]]
    assert ids(**{"labels[floor]": "3"}) == [a["id"], b["id"]]
    assert ids(**{"labels[site]": "A", "labels[floor]": "3", "labelsMatch": "all"}) == [a["id"]]
    assert ids(**{"labels[site]": "B", "labels": "hvac"}) == [b["id"], flat["id"]]
    assert ids(labels="hvac") == [flat["id"]]
    assert ids(labels="site", labelsMatch="all") == [a["id"], b["id"]]
    assert api.get(f"/v1/pools/{pool}/stations", params={"labels[b d]": "x"}).status_code == 400
    relabelled = api.patch(f"/v1/stations/{flat['id']}", json={"labels": {"hvac": "", "site": "A"}})
    assert relabelled.json()["labels"] == {"hvac": "", "site": "A"}
    assert ids(**{"labels[site]": "A"}) == [a["id"], flat["id"]]


def test_counts_come_from_rollups_and_match_brute_force(platform: Platform, api: httpx.Client) -> None:
    station = _station(api, _pool(api)["id"])
    stream = _created(api.post(f"/v1/stations/{station['id']}/streams", json={"name": "t", "type": "float"}))
    start = 1_767_225_600_000  # 2026-01-01
    stamps = [start + i * 397_000 for i in range(3000)]  # ~14 days
    for chunk in range(0, len(stamps), 1000):
        points = [{"timestamp": t, "value": 1.0} for t in stamps[chunk:chunk + 1000]]
        assert api.post(f"/v1/streams/{stream['id']}/intervals", json=points).status_code == 200
    platform.drain()
    for _ in range(100):
        if platform.fire("rollup")["buckets"] == 0:
            break
    windows = [(stamps[0], stamps[-1] + 1), (start + 123_456, start + 9 * 86_400_000 + 77), (start, start + 1)]
    for low, high in windows:
        response, spent = _cost(platform, lambda low=low, high=high: api.get(
            f"/v1/streams/{stream['id']}/summary", params={"start": low, "end": high}))
        assert response.status_code == 200, response.text
        inside = [t for t in stamps if low <= t < high]
        body = response.json()
        assert body["count"] == len(inside)
        assert (body["first"] is None) == (not inside)
        assert "dynamodb:Scan" not in spent
        # a few bounded Queries, not one per interval: 3,000 intervals never read one by one
        assert spent["dynamodb:Query"] < 40, spent
    assert api.get(f"/v1/streams/{stream['id']}/summary").json()["last"]["timestamp"].startswith("2026-01-14")


def test_every_list_pages_backwards(api: httpx.Client) -> None:
    pool = _pool(api)["id"]
    made = [_station(api, pool, name=f"s{i}")["id"] for i in range(7)]
    pages = []
    response = api.get(f"/v1/pools/{pool}/stations", params={"limit": 3}).json()
    assert response["paging"]["beforeCursor"] is None and response["paging"]["previousLink"] is None
    while True:
        pages.append([s["id"] for s in response["data"]])
        if not response["paging"]["nextLink"]:
            break
        response = api.get(response["paging"]["nextLink"]).json()
    assert pages == [made[0:3], made[3:6], made[6:7]]
    back = []
    while response["paging"]["previousLink"]:
        response = api.get(response["paging"]["previousLink"]).json()
        back.append([s["id"] for s in response["data"]])
    assert back == [made[3:6], made[0:3]]
    assert response["paging"]["beforeCursor"] is None and response["paging"]["nextLink"]
    for path in ("/v1/pools", f"/v1/stations/{made[0]}/streams", f"/v1/stations/{made[0]}/buckets"):
        paging = api.get(path, params={"limit": 1}).json()["paging"]
        assert set(paging) == {"afterCursor", "nextLink", "beforeCursor", "previousLink"}


def test_natural_keys_are_point_reads(platform: Platform, api: httpx.Client) -> None:
    key = f"plant-{uuid.uuid4().hex[:8]}"
    pool = _pool(api, key=key)
    assert api.post("/v1/pools", json={"name": "other", "key": key}).status_code == 409
    station = _station(api, pool["id"], key="dev-7")
    stream = _created(api.post(f"/v1/stations/{station['id']}/streams",
                               json={"name": "t", "type": "float", "alias": "temp", "bucket": "b"}))
    lookups = [
        (f"/v1/pools?key={key}", pool["id"]),
        (f"/v1/pools/{pool['id']}/stations?key=dev-7", station["id"]),
        (f"/v1/stations/{station['id']}/streams?alias=temp&bucket=b", stream["id"]),
    ]
    for path, expected in lookups:
        response, spent = _cost(platform, lambda path=path: api.get(path))
        assert [doc["id"] for doc in response.json()["data"]] == [expected]
        assert set(spent) <= {"dynamodb:GetItem"} and spent["dynamodb:GetItem"] <= 3, (path, spent)
    assert api.get("/v1/pools?key=nope").json()["data"] == []
    _, other_key = platform.create_org("lookups")
    with platform.client(other_key) as stranger:
        assert stranger.get(f"/v1/pools?key={key}").json()["data"] == []
        assert stranger.get(f"/v1/pools/{pool['id']}/stations?key=dev-7").status_code == 404
