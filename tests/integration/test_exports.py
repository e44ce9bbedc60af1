"""Exports through the local runtime: the file behind the URL equals the query API's answer."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform

START, END = "2025-11-24T00:00:00Z", "2025-11-24T01:00:00Z"


@pytest.fixture
def streams(api: httpx.Client) -> list[dict[str, Any]]:
    pool = api.post("/v1/pools", json={"name": "export site"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "meter"}).json()
    power = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "power", "type": "float"}).json()
    where = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "gps", "type": "coordinate"}).json()
    base = 1_763_942_400_000  # 2025-11-24T00:00:00Z
    api.post(f"/v1/streams/{power['id']}/intervals", json=[
        {"timestamp": base - 1000, "value": -1.0},  # before the range
        *({"timestamp": base + i * 7_000, "value": i * 0.5} for i in range(300)),
        {"timestamp": base + 3_600_000, "value": 99.0},  # the end is exclusive
    ]).raise_for_status()
    api.post(f"/v1/streams/{where['id']}/intervals", json=[
        {"timestamp": base + i * 60_000, "value": {"lat": 60.1 + i / 100, "lon": 24.9}} for i in range(5)
    ]).raise_for_status()
    return [power, where]


def query_answer(api: httpx.Client, stream_ids: list[str], **extra: str) -> list[dict[str, Any]]:
    """What GET /v1/streams/{id}/intervals answers for the range, page after page."""
    rows = []
    for stream_id in stream_ids:
        params: dict[str, Any] = {"start": START, "end": END, "limit": 100, **extra}
        while True:
            page = api.get(f"/v1/streams/{stream_id}/intervals", params=params).json()
            rows.extend({"stream": stream_id, **item} for item in page["data"])
            if not page["paging"]["afterCursor"]:
                break
            params["cursor"] = page["paging"]["afterCursor"]
    return rows


def test_ndjson_export_equals_the_query_api(api: httpx.Client, streams: list[dict[str, Any]]) -> None:
    ids = [s["id"] for s in streams]
    created = api.post("/v1/exports", json={"streams": ids, "start": START, "end": END, "format": "ndjson"})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "done" and created.json()["rows"] == 305
    exported = httpx.get(created.json()["url"], timeout=30)
    assert exported.status_code == 200
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert rows == query_answer(api, ids)


def test_aggregated_export_equals_the_aggregates_api(
    platform: Platform, api: httpx.Client, streams: list[dict[str, Any]]
) -> None:
    platform.drain()  # the changes function marks the pushed buckets dirty: aggregates read them from raw
    ids = [streams[0]["id"]]
    aggregation = {"period": "15m", "fn": "avg,min,max,count", "tz": "Asia/Kolkata"}
    created = api.post("/v1/exports", json={"streams": ids, "start": START, "end": END, "format": "ndjson",
                                            "aggregation": aggregation})
    assert created.status_code == 201, created.text
    rows = [json.loads(line) for line in httpx.get(created.json()["url"], timeout=30).text.splitlines()]
    expected = query_answer(api, ids, **aggregation)
    assert len(expected) == 3 and {"avg", "min", "max", "count"} <= set(expected[0])  # 35 minutes of data
    assert rows == expected


def test_csv_export_has_a_header_and_json_cells(api: httpx.Client, streams: list[dict[str, Any]]) -> None:
    ids = [s["id"] for s in streams]
    created = api.post("/v1/exports", json={"streams": ids, "start": START, "end": END, "format": "csv"})
    assert created.status_code == 201, created.text
    table = list(csv.reader(io.StringIO(httpx.get(created.json()["url"], timeout=30).text)))
    assert table[0] == ["stream", "timestamp", "value"]
    expected = [[r["stream"], r["timestamp"], json.dumps(r["value"], separators=(",", ":"))
                 if isinstance(r["value"], dict) else str(r["value"])] for r in query_answer(api, ids)]
    assert table[1:] == expected


def test_large_export_runs_in_the_worker_behind_a_status_resource(
    platform: Platform, api: httpx.Client, streams: list[dict[str, Any]]
) -> None:
    ids = [streams[0]["id"]]
    created = api.post("/v1/exports", json={"streams": ids, "start": START, "end": END, "format": "ndjson",
                                            "async": True})
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    assert created.headers["location"] == f"/v1/exports/{export_id}"
    pending = api.get(f"/v1/exports/{export_id}").json()
    assert pending["status"] == "pending" and "url" not in pending
    platform.fire("exports_worker")
    done = api.get(f"/v1/exports/{export_id}").json()
    assert done["status"] == "done", done
    rows = [json.loads(line) for line in httpx.get(done["url"], timeout=30).text.splitlines()]
    assert rows == query_answer(api, ids)


def test_export_validation_and_isolation(api: httpx.Client, streams: list[dict[str, Any]]) -> None:
    bad = api.post("/v1/exports", json={"streams": [streams[0]["id"], "nope"], "start": START, "end": END})
    assert (bad.status_code, bad.json()["field"]) == (404, "streams[1]")
    backwards = api.post("/v1/exports", json={"streams": [streams[0]["id"]], "start": END, "end": START})
    assert (backwards.status_code, backwards.json()["field"]) == (400, "end")
    assert api.get("/v1/exports/not-an-export").status_code == 404
