"""Aggregates through the local runtime over HTTP: exact before the rollup job runs, read from
rollups after it, the same answer both times."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Platform

DAY = "2026-02-10T00:00:00.000Z"


def make_stream(api: httpx.Client, kind: str = "float", tz: str = "Australia/Adelaide") -> str:
    pool = api.post("/v1/pools", json={"name": "aggregates"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "meter"}).json()
    stream = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "power", "type": kind, "timeZone": tz})
    assert stream.status_code == 201, stream.text
    return str(stream.json()["id"])


def daily(api: httpx.Client, stream_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/streams/{stream_id}/intervals", params={
        "period": "1d", "fn": "avg,count,min,max", "start": "2026-02-09T00:00:00Z", "end": "2026-02-13T00:00:00Z",
    })
    assert response.status_code == 200, response.text
    return dict(response.json())


def roll_up_everything(platform: Platform) -> None:
    """Run the scheduled job until no bucket is dirty: other tests share the platform's markers."""
    for _ in range(100):
        if platform.fire("rollup")["buckets"] == 0:
            return
    raise AssertionError("the rollup job never caught up")


def test_daily_averages_are_exact_before_and_after_the_rollup_job(platform: Platform, api: httpx.Client) -> None:
    stream_id = make_stream(api)
    start_ms = 1_770_681_600_000  # 2026-02-10T00:00:00Z
    points = [{"timestamp": start_ms + i * 600_000, "value": float(i % 17)} for i in range(400)]
    assert api.post(f"/v1/streams/{stream_id}/intervals", json=points).json() == {"accepted": 400}
    platform.drain()

    before = daily(api, stream_id)
    assert sum(row["count"] for row in before["data"]) == 400
    assert before["fromRaw"] == [row["timestamp"] for row in before["data"]]
    # Adelaide is +10:30 in February: its days start at 13:30 UTC
    assert all(row["timestamp"].endswith("T13:30:00.000Z") for row in before["data"])

    roll_up_everything(platform)
    after = daily(api, stream_id)
    assert after["data"] == before["data"]
    assert after["fromRaw"] == []
    assert after["source"]["rawItems"] == 0
    assert after["source"]["levels"] == ["1d"]
    assert after["source"]["rollupItems"] == len(after["data"])


def test_late_write_is_exact_immediately_and_string_streams_refuse_avg(platform: Platform, api: httpx.Client) -> None:
    stream_id = make_stream(api, tz="UTC")
    api.post(f"/v1/streams/{stream_id}/intervals", json=[{"timestamp": DAY, "value": 1.0}])
    platform.drain()
    roll_up_everything(platform)
    api.post(f"/v1/streams/{stream_id}/intervals", json=[{"timestamp": "2026-02-10T05:00:00Z", "value": 3.0}])
    platform.drain()
    answer = daily(api, stream_id)
    assert [(r["avg"], r["count"]) for r in answer["data"]] == [(2.0, 2)]
    assert answer["fromRaw"] == ["2026-02-10T00:00:00.000Z"]

    text_id = make_stream(api, kind="string")
    refused = api.get(f"/v1/streams/{text_id}/intervals", params={"period": "1h", "fn": "avg"})
    assert refused.status_code == 400 and refused.json()["field"] == "fn"

    many = api.post("/v1/query", json={"streams": [stream_id, text_id], "period": "1d", "fn": "count,last",
                                       "start": "2026-02-09T00:00:00Z", "end": "2026-02-12T00:00:00Z"})
    assert many.status_code == 200, many.text
    assert [(s["stream"], [r["count"] for r in s["data"]]) for s in many.json()["data"]] == [
        (stream_id, [2]), (text_id, []),
    ]
