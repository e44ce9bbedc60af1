"""Custom Stream (MK Data Hub) under /customstream over real HTTP: the seed's flows and the wire
notes (../shared/wire/customstream.md): Basic auth with the key as user name, 201 `Object
created`, annotations, `_id`, Mongo filters, plain-text errors, and the same data natively."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform
from tests.integration.test_lake import lake_rows

ANNOTATIONS = {"_datasetid", "_timestamp", "_timestamp_year", "_timestamp_month", "_timestamp_day",
               "_timestamp_hour", "_timestamp_minute", "_timestamp_second"}


def _basic(key: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()}


@pytest.fixture
def cs(platform: Platform) -> httpx.Client:
    """A client as a Custom Stream script holds it: the base URL and the key as Basic user name."""
    return httpx.Client(base_url=f"{platform.url}/customstream", auth=(platform.key, ""), timeout=30)


def _dataset() -> str:
    return str(uuid.uuid4())


def test_put_annotates_and_query_returns_newest_first(cs: httpx.Client) -> None:
    ds = _dataset()
    before = int(time.time())
    first = cs.put(f"/data/object/{ds}/", json={"temperature": 20.5, "room": "lab"},
                   headers={"Content-Type": "application/json"})
    assert first.status_code == 201 and first.text == "Object created"
    assert first.headers["content-type"].startswith("text/plain")
    second = cs.post(f"/data/object/{ds}/", content=b'{"temperature": 22, "room": "hall"}')
    assert second.status_code == 201 and second.text == "Object created"
    after = int(time.time()) + 2
    got = cs.get(f"/data/query/{ds}/")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    docs = got.json()
    assert [d["room"] for d in docs] == ["hall", "lab"]
    for doc in docs:
        assert set(doc) >= ANNOTATIONS and doc["_datasetid"] == ds
        assert isinstance(doc["_id"], str) and len(doc["_id"]) == 24 and int(doc["_id"], 16) >= 0
        assert before <= doc["_timestamp"] <= after
        at = datetime.fromtimestamp(doc["_timestamp"], tz=UTC)
        assert (doc["_timestamp_year"], doc["_timestamp_month"], doc["_timestamp_day"], doc["_timestamp_hour"],
                doc["_timestamp_minute"], doc["_timestamp_second"]) == (
            at.year, at.month, at.day, at.hour, at.minute, at.second)
    assert cs.get(f"/data/query/{ds}").json() == docs
    assert cs.get("/read", params={"path": f"/{ds}"}).json() == docs


def test_client_annotations_are_replaced_and_password_is_ignored(platform: Platform) -> None:
    ds = _dataset()
    with httpx.Client(base_url=f"{platform.url}/customstream", timeout=30) as raw:
        put = raw.put(f"/data/object/{ds}", json={"_timestamp": 1, "_datasetid": "forged", "v": 1},
                      headers=_basic(platform.key, platform.key))
        assert put.status_code == 201
        doc = raw.get(f"/data/query/{ds}", headers=_basic(platform.key, "anything")).json()[0]
    assert doc["_datasetid"] == ds and doc["_timestamp"] > 1_700_000_000 and doc["v"] == 1


def test_a_json_array_is_a_batch_and_same_millisecond_documents_are_all_kept(cs: httpx.Client) -> None:
    ds = _dataset()
    batch = [{"n": i} for i in range(120)]
    assert cs.put(f"/data/object/{ds}", json=batch).status_code == 201
    docs = cs.get(f"/data/query/{ds}", params={"limit": 0}).json()
    assert sorted(d["n"] for d in docs) == list(range(120))
    assert [d["n"] for d in docs] == list(range(119, -1, -1))
    assert len({d["_id"] for d in docs}) == 120
    assert len(cs.get(f"/data/query/{ds}").json()) == 100
    assert len(cs.get(f"/data/query/{ds}", params={"limit": 7}).json()) == 7
    assert len(cs.get(f"/data/query/{ds}", params={"limit": "all"}).json()) == 120


def test_given_id_is_kept_and_a_duplicate_is_409_storing_nothing(cs: httpx.Client) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json={"_id": "sensor-1-reading", "v": 1}).status_code == 201
    again = cs.put(f"/data/object/{ds}", json=[{"_id": "fresh", "v": 2}, {"_id": "sensor-1-reading", "v": 3}])
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/plain")
    within = cs.put(f"/data/object/{ds}", json=[{"_id": "a", "v": 4}, {"_id": "a", "v": 5}])
    assert within.status_code == 409
    docs = cs.get(f"/data/query/{ds}").json()
    assert [(d["_id"], d["v"]) for d in docs] == [("sensor-1-reading", 1)]
    numeric = cs.put(f"/data/object/{ds}", json={"_id": 42, "v": 6})
    assert numeric.status_code == 201
    assert cs.post(f"/data/query/{ds}", json={"_id": "42"}).json()[0]["v"] == 6


def test_replace_and_delete_by_document_id(cs: httpx.Client) -> None:
    ds = _dataset()
    cs.put(f"/data/object/{ds}", json={"_id": "doc1", "v": 1})
    cs.put(f"/data/object/{ds}", json={"_id": "doc2", "v": 2})
    replaced = cs.put(f"/data/object/{ds}/doc1", json={"_id": "ignored", "v": 10})
    assert replaced.status_code == 204 and replaced.content == b""
    inserted = cs.post(f"/data/object/{ds}/doc3", json={"v": 3})
    assert inserted.status_code == 201 and inserted.text == "Object created"
    docs = cs.get(f"/data/query/{ds}").json()
    assert [(d["_id"], d["v"]) for d in docs] == [("doc3", 3), ("doc1", 10), ("doc2", 2)]
    assert docs[1]["_updated"] is True and set(docs[1]) >= ANNOTATIONS
    deleted = cs.delete(f"/data/object/{ds}/doc2")
    assert deleted.status_code == 204
    nothing = cs.delete(f"/data/object/{ds}/doc2")
    assert nothing.status_code == 200 and nothing.text == "No items to delete"
    assert [d["_id"] for d in cs.get(f"/data/query/{ds}").json()] == ["doc3", "doc1"]


DOCS: list[dict[str, Any]] = [
    {"_id": "a", "temp": 18, "room": "lab", "tags": ["x", "y"], "meta": {"floor": 1}},
    {"_id": "b", "temp": 21.5, "room": "hall", "tags": ["y"], "meta": {"floor": 2}},
    {"_id": "c", "temp": "25", "room": "lab", "readings": [{"k": 1}, {"k": 5}]},
    {"_id": "d", "temp": 30, "room": None},
]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["d", "c", "b", "a"]),
    ({"room": "lab"}, ["c", "a"]),
    ({"room": "lab", "_id": "a"}, ["a"]),
    ({"temp": {"$gte": 21}}, ["d", "b"]),
    ({"temp": {"$gt": 18, "$lt": 30}}, ["b"]),
    ({"temp": {"$lte": "3"}}, ["c"]),
    ({"temp": {"$eq": 18}}, ["a"]),
    ({"temp": {"$ne": 18}}, ["d", "c", "b"]),
    ({"room": {"$in": ["hall", "nowhere"]}}, ["b"]),
    ({"room": {"$nin": ["hall", "lab"]}}, ["d"]),
    ({"tags": "y"}, ["b", "a"]),
    ({"tags": ["y"]}, ["b"]),
    ({"meta.floor": 2}, ["b"]),
    ({"readings.k": 5}, ["c"]),
    ({"meta": {"$exists": False}}, ["d", "c"]),
    ({"room": {"$exists": True}}, ["d", "c", "b", "a"]),
    ({"room": None}, ["d"]),
    ({"$or": [{"room": "hall"}, {"temp": 30}]}, ["d", "b"]),
    ({"$and": [{"room": "lab"}, {"temp": {"$gte": 10}}]}, ["a"]),
    ({"temp": {"$not": {"$gte": 20}}}, ["c", "a"]),
])
def test_mongo_filters(cs: httpx.Client, query: dict[str, Any], expected: list[str]) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json=DOCS).status_code == 201
    found = cs.post(f"/data/query/{ds}", json=query)
    assert found.status_code == 200, found.text
    assert [d["_id"] for d in found.json()] == expected


def test_bad_queries_and_bodies_are_plain_text_400s(cs: httpx.Client) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json={"v": 1}).status_code == 201
    for query in ({"$where": "this.v == 1"}, {"v": {"$regex": "1"}}, {"$nor": [{"v": 1}]}):
        refused = cs.post(f"/data/query/{ds}", json=query)
        assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/plain")
        assert "unsupported operator" in refused.text
    malformed = cs.post(f"/data/query/{ds}", content=b"{not json")
    assert malformed.status_code == 400 and malformed.text == "Bad request, malformed JSON query"
    assert cs.post(f"/data/query/{ds}", content=b"").json()[0]["v"] == 1
    bad_put = cs.put(f"/data/object/{ds}", content=b"{oops")
    assert bad_put.status_code == 400 and bad_put.text == "Bad request, malformed JSON"
    not_object = cs.put(f"/data/object/{ds}", json=[{"v": 2}, 3])
    assert not_object.status_code == 400
    assert [d["v"] for d in cs.get(f"/data/query/{ds}").json()] == [1]


def test_a_timestamp_bound_reads_only_its_key_range(cs: httpx.Client) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json=[{"n": i} for i in range(50)]).status_code == 201
    docs = cs.get(f"/data/query/{ds}", params={"limit": 0}).json()
    newest = docs[0]["_timestamp"]
    unbounded = cs.post(f"/data/query/{ds}", params={"limit": 0}, json={"n": {"$gte": 0}})
    assert unbounded.headers["x-watershed-items-read"] == "50"
    future = cs.post(f"/data/query/{ds}", params={"limit": 0}, json={"_timestamp": {"$gt": newest}})
    assert future.json() == [] and future.headers["x-watershed-items-read"] == "0"
    bounded = cs.post(f"/data/query/{ds}", params={"limit": 0},
                      json={"$and": [{"_timestamp": {"$gte": newest}}, {"n": {"$gte": 0}}]})
    expected = [d for d in docs if d["_timestamp"] >= newest]
    assert bounded.json() == expected
    assert bounded.headers["x-watershed-items-read"] == str(len(expected))


def test_auth_errors_carry_basic_realm(platform: Platform) -> None:
    ds = _dataset()
    with httpx.Client(base_url=f"{platform.url}/customstream", timeout=30) as raw:
        missing = raw.put(f"/data/object/{ds}", json={"v": 1})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Basic realm="Realm"'
        assert missing.text == "Dataset key must be provided as HTTP Basic Auth username"
        unknown = raw.put(f"/data/object/{ds}", json={"v": 1}, headers=_basic("wsk_not-a-key"))
        assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == 'Basic realm="Realm"'
        for scheme in ("ApiKey", "Bitpool2", "Bearer"):
            other = raw.put(f"/data/object/{ds}", json={"v": 1}, headers={"Authorization": f"{scheme} {platform.key}"})
            assert other.status_code == 401 and other.text == "Dataset key must be provided as HTTP Basic Auth username"
        assert raw.get(f"/data/query/{ds}", headers=_basic(platform.key)).status_code == 404


def test_read_key_cannot_write_and_foreign_org_sees_nothing(platform: Platform, cs: httpx.Client) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json={"secret": 1}).status_code == 201
    with platform.client() as api:
        reader = api.post("/v1/keys", json={"name": "cs reader", "scopes": ["read"]}).json()["key"]
    with httpx.Client(base_url=f"{platform.url}/customstream", auth=(reader, ""), timeout=30) as read_only:
        assert read_only.get(f"/data/query/{ds}").json()[0]["secret"] == 1
        refused = read_only.put(f"/data/object/{ds}", json={"v": 2})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/plain")
    _, foreign = platform.create_org(f"cs-foreign-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=f"{platform.url}/customstream", auth=(foreign, ""), timeout=30) as other:
        hidden = other.get(f"/data/query/{ds}")
        assert hidden.status_code == 404 and "secret" not in hidden.text
        assert other.post(f"/data/query/{ds}", json={}).status_code == 404
        assert other.delete(f"/data/object/{ds}/x").status_code == 404
    assert len(cs.get(f"/data/query/{ds}").json()) == 1


def test_documents_are_a_json_stream_natively_and_land_in_the_lake(platform: Platform, cs: httpx.Client) -> None:
    ds = _dataset()
    assert cs.put(f"/data/object/{ds}", json={"_id": "lake-doc", "v": 7}).status_code == 201
    with platform.client() as api:
        pool = api.get("/v1/pools", params={"key": "customstream"}).json()["data"][0]
        station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": "datasets"}).json()["data"][0]
        stream = api.get(f"/v1/stations/{station['id']}/streams", params={"alias": ds}).json()["data"][0]
        assert stream["type"] == "json"
        native = api.get(f"/v1/streams/{stream['id']}/intervals").json()["data"]
        assert [i["value"]["_id"] for i in native] == ["lake-doc"] and native[0]["value"]["v"] == 7
        by_id = cs.get(f"/data/query/{stream['id']}").json()
        assert [d["_id"] for d in by_id] == ["lake-doc"]
        other = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "n", "type": "json"}).json()
        assert api.post(f"/v1/streams/{other['id']}/intervals",
                        json=[{"timestamp": "2026-01-01T00:00:00Z", "value": {"native": True}}]).status_code == 200
        assert cs.get(f"/data/query/{other['id']}").json() == [{"native": True}]
    platform.drain()
    rows = [row for _, row in lake_rows(platform, platform.org) if row.get("stream") == stream["id"]]
    assert rows and "lake-doc" in str(rows[0])


def test_concurrent_writers_lose_no_document(platform: Platform) -> None:
    ds = _dataset()
    from concurrent.futures import ThreadPoolExecutor

    def write(worker: int) -> int:
        with httpx.Client(base_url=f"{platform.url}/customstream", auth=(platform.key, ""), timeout=60) as c:
            return c.put(f"/data/object/{ds}", json=[{"w": worker, "n": n} for n in range(10)]).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(write, range(6)))
    assert statuses == [201] * 6
    with httpx.Client(base_url=f"{platform.url}/customstream", auth=(platform.key, ""), timeout=30) as c:
        docs = c.get(f"/data/query/{ds}", params={"limit": 0}).json()
    assert sorted((d["w"], d["n"]) for d in docs) == [(w, n) for w in range(6) for n in range(10)]
