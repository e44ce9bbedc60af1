"""Over MQTT the acknowledgement precedes storage, so the promise is: an aggregate read includes
every interval that a raw read already returns (the ingest marks buckets dirty as it writes)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.test_mqtt import BASE_MS, Device, api, device, intervals, platform, station
from tests.integration.conftest import Platform

pytestmark = pytest.mark.e2e
__all__ = ["api", "device", "platform", "station"]

HOUR_MS = 3_600_000


def _hour_counts(api: httpx.Client, stream_id: str) -> int:
    response = api.get(f"/v1/streams/{stream_id}/intervals", params={
        "period": "1h", "fn": "count", "start": BASE_MS - HOUR_MS, "end": BASE_MS + 3 * HOUR_MS,
    })
    assert response.status_code == 200, response.text
    return sum(row["count"] for row in response.json()["data"])


def test_aggregates_include_what_raw_reads_return(
    platform: Platform, api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    stream_id = station["stream"]["id"]
    topic = f"things/{station['id']}/data/sensors"
    device.publish(topic, {"id": "temp", "value": 1.0, "timestamp": BASE_MS})
    deadline = time.monotonic() + 15
    while not intervals(api, stream_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    platform.drain()
    for _ in range(100):
        if platform.fire("rollup")["buckets"] == 0:
            break
    total = 40
    for i in range(1, total):
        device.publish(topic, {"id": "temp", "value": float(i), "timestamp": BASE_MS + i * 137_000})
    checks = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        raw = len(intervals(api, stream_id))
        assert _hour_counts(api, stream_id) >= raw, f"after {raw} raw intervals"
        checks += 1
        if raw == total:
            break
    assert raw == total and checks > 1
