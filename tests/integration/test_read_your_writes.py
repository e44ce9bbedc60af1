"""A push is visible to an aggregate read that starts after its answer: the push itself marks the
buckets it touched dirty, so no read waits for the `changes` function (nothing is drained here)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Platform

HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _stream(api: httpx.Client) -> str:
    pool = api.post("/v1/pools", json={"name": "read-your-writes"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "meter"}).json()
    stream = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "flow", "type": "float"})
    assert stream.status_code == 201, stream.text
    return str(stream.json()["id"])


def _hourly(api: httpx.Client, stream_id: str, hour: int) -> list[dict[str, Any]]:
    response = api.get(f"/v1/streams/{stream_id}/intervals", params={
        "period": "1h", "fn": "count,sum,min,max", "start": START_MS + hour * HOUR_MS,
        "end": START_MS + (hour + 1) * HOUR_MS,
    })
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _expected(values: list[float], hour: int) -> list[dict[str, Any]]:
    from watershed.timefmt import format_time

    return [{"timestamp": format_time(START_MS + hour * HOUR_MS), "count": len(values), "sum": sum(values),
             "min": min(values), "max": max(values)}]


def test_a_push_is_in_the_next_aggregate_read_100_times(platform: Platform, api: httpx.Client) -> None:
    stream_id = _stream(api)
    seen: dict[int, list[float]] = {}
    for i in range(100):
        hour = i % 50  # the first 50 open new buckets, the next 50 land in rolled-up ones
        if i == 50:
            platform.drain()
            for _ in range(100):
                if platform.fire("rollup")["buckets"] == 0:
                    break
            assert _hourly(api, stream_id, 0) == _expected(seen[0], 0)
        value = float(i * 3 % 11)
        pushed = api.post(f"/v1/streams/{stream_id}/intervals",
                          json=[{"timestamp": START_MS + hour * HOUR_MS + i * 1000, "value": value}])
        assert pushed.status_code == 200, pushed.text
        seen.setdefault(hour, []).append(value)
        assert _hourly(api, stream_id, hour) == _expected(seen[hour], hour), f"push {i}"
