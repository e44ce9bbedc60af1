"""Issue 19, defect 1: no value, and no one bad bucket, stops the rollup job for every organisation."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Platform

HOUR = "2026-03-02T10:00:00Z"
T0 = 1_772_445_600_000  # 2026-03-02T10:00:00Z


def org_stream(platform: Platform, name: str, kind: str) -> tuple[httpx.Client, str]:
    _, key = platform.create_org(name)
    api = platform.client(key)
    pool = api.post("/v1/pools", json={"name": name}).json()["id"]
    station = api.post(f"/v1/pools/{pool}/stations", json={"name": name}).json()["id"]
    stream = api.post(f"/v1/stations/{station}/streams", json={"name": name, "type": kind, "timeZone": "UTC"})
    assert stream.status_code == 201, stream.text
    return api, str(stream.json()["id"])


def roll_up(platform: Platform) -> list[dict[str, Any]]:
    reports = []
    for _ in range(50):
        reports.append(platform.fire("rollup"))
        if reports[-1]["buckets"] == 0 and reports[-1]["parked"] == 0:
            return reports
    raise AssertionError(f"the rollup job never caught up: {reports[-3:]}")


def rolled_up(platform: Platform, stream_id: str) -> list[dict[str, Any]]:
    return [item for item in platform.scan("rollups") if item["pk"]["S"] == f"{stream_id}#15m"]


def values(value: Any) -> list[float]:
    """An EMF metric value: one number, or a list when a handler added it several times."""
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def hourly(api: httpx.Client, stream_id: str, fn: str) -> list[Any]:
    response = api.get(f"/v1/streams/{stream_id}/intervals",
                       params={"period": "1h", "fn": fn, "start": HOUR, "end": "2026-03-02T11:00:00Z"})
    assert response.status_code == 200, response.text
    return [row[name] for row in response.json()["data"] for name in fn.split(",")]


def test_rollups_of_huge_values_fit_and_read_back_exactly(platform: Platform) -> None:
    big_json = {"blob": "x" * 210_000}
    big_text = "é" * 65_536
    big_hex = "ab" * 150_000
    cases = [("huge-json", "json", big_json), ("huge-text", "string", big_text), ("huge-hex", "hex", big_hex)]
    streams = []
    for name, kind, value in cases:
        api, stream_id = org_stream(platform, name, kind)
        points = [{"timestamp": T0, "value": value}, {"timestamp": T0 + 60_000, "value": value}]
        assert api.post(f"/v1/streams/{stream_id}/intervals", json=points).json() == {"accepted": 2}
        streams.append((api, stream_id, value))
    platform.drain()
    reports = roll_up(platform)
    assert sum(r["parked"] for r in reports) == 0
    for api, stream_id, value in streams:
        assert len(rolled_up(platform, stream_id)) == 1
        assert hourly(api, stream_id, "count,first,last") == [2, value, value]


def test_a_poisoned_bucket_is_parked_and_every_other_organisation_is_rolled_up(platform: Platform) -> None:
    poisoned_api, poisoned = org_stream(platform, "poisoned", "float")
    healthy = [org_stream(platform, f"healthy-{i}", "float") for i in range(3)]
    assert poisoned_api.post(f"/v1/streams/{poisoned}/intervals", json=[{"timestamp": T0, "value": 1.0}]).is_success
    platform.put_item("intervals", {"pk": {"S": poisoned}, "sk": {"N": str(T0 + 1000)}, "v": {"S": "{not json"}})
    for api, stream_id in healthy:
        assert api.post(f"/v1/streams/{stream_id}/intervals", json=[{"timestamp": T0, "value": 2.5}]).is_success
    platform.drain()

    reports = roll_up(platform)

    assert sum(r["parked"] for r in reports) == 1
    for api, stream_id in healthy:
        assert len(rolled_up(platform, stream_id)) == 1
        assert hourly(api, stream_id, "sum") == [2.5]
    parked = [doc for doc in platform.metrics() if max(values(doc.get("RollupBucketsParked", 0))) >= 1]
    assert parked, "the rollup function emitted no RollupBucketsParked metric"
    declared = [m["Name"] for m in parked[-1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "RollupBucketsParked" in declared
    assert any(item["pk"]["S"] == "PARKED" and poisoned in item["sk"]["S"] for item in platform.scan("catalog"))
