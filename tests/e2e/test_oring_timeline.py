"""An ORing thing end to end: created over /oring/v4 REST, it connects over MQTT with the secret the
create answered, publishes telemetry, and the REST timeline and last telemetries show it; expected
configs set over REST reach it, and what it reports shows as `reportedValue` (issue 23)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_mqtt import Device, eventually, platform  # noqa: F401  (the module's platform fixture)
from tests.integration.conftest import Platform

pytestmark = pytest.mark.e2e

BASE_MS = 1_780_000_000_000


@pytest.fixture
def oring(platform: Platform) -> Iterator[httpx.Client]:  # noqa: F811
    _, key = platform.create_org("oring-mqtt")
    with httpx.Client(base_url=f"{platform.url}/oring", headers={"Authorization": f"ApiKey {key}"},
                      timeout=30) as client:
        yield client


@pytest.fixture
def thing(oring: httpx.Client) -> dict[str, Any]:
    created = oring.post("/v4/things", json={"name": "orio-01", "serialNumber": "sn123", "modelName": "ORIO",
                                             "isEon": True, "visibility": "private"})
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    bucket = oring.post(f"/v4/things/{data['id']}/data-buckets", json={"id": "sensorData", "dataShapes": [
        {"id": "temperature", "valueType": "float"}, {"id": "humidity", "valueType": "float"}]})
    assert bucket.status_code == 201, bucket.text
    return dict(data)


@pytest.fixture
def device(platform: Platform, thing: dict[str, Any]) -> Iterator[Device]:  # noqa: F811
    client = Device(platform, f"thing:{thing['id']}", thing["id"], thing["secret"])
    assert client.connect() == 0
    yield client
    client.close()


def test_mqtt_telemetry_shows_in_the_timeline_and_last_telemetries(
    oring: httpx.Client, thing: dict[str, Any], device: Device
) -> None:
    topic = f"things/{thing['id']}/data/sensorData"
    device.publish(topic, [{"id": "temperature", "value": 25.01, "timestamp": BASE_MS},
                           {"id": "humidity", "value": 0.75, "timestamp": BASE_MS}])
    device.publish(topic, {"id": "temperature", "value": 25.5, "timestamp": str(BASE_MS + 1000)})
    path = f"/v4/things/{thing['id']}/data-buckets/sensorData"

    def two_rows() -> list[dict[str, Any]] | None:
        rows = oring.get(f"{path}/timeline", params={"dataShapes": "temperature,humidity"}).json()["data"]
        return rows if len(rows) == 2 else None

    rows = eventually(two_rows)
    assert rows == [
        {"timestamp": "2026-05-28T20:26:41.000Z", "values": [{"id": "temperature", "value": 25.5}]},
        {"timestamp": "2026-05-28T20:26:40.000Z", "values": [{"id": "temperature", "value": 25.01},
                                                             {"id": "humidity", "value": 0.75}]},
    ]
    last = oring.get(f"{path}/last-telemetries").json()["data"]
    assert [(t["id"], t["value"], t["timestamp"]) for t in last] == [
        ("temperature", 25.5, "2026-05-28T20:26:41.000Z"), ("humidity", 0.75, "2026-05-28T20:26:40.000Z")]
    got = eventually(lambda: (d := oring.get(f"/v4/things/{thing['id']}").json()["data"])["isOnline"] and d)
    assert got["lastOnlineTime"] is not None and got["lastDataTime"] == "2026-05-28T20:26:41.000Z"


def test_configs_reach_the_thing_and_its_report_shows(oring: httpx.Client, thing: dict[str, Any],
                                                      device: Device) -> None:
    put = oring.put(f"/v4/things/{thing['id']}/configs/config1", json={"configs": {"foo": "bar", "number": 1},
                                                                     "partialUpdate": False})
    assert put.status_code == 200, put.text
    assert not device.subscribe(f"things/{thing['id']}/config/expected/#")[0].is_failure
    message = device.messages.get(timeout=15)
    assert message.topic == f"things/{thing['id']}/config/expected/config1"
    expected = json.loads(message.payload)
    assert expected == [{"id": "foo", "value": "bar"}, {"id": "number", "value": 1}]
    device.publish(f"things/{thing['id']}/config/reported/config1", [{"id": "foo", "value": "bar"},
                                                                     {"id": "number", "value": 2}])

    def reported() -> dict[str, Any] | None:
        data = oring.get(f"/v4/things/{thing['id']}/configs/config1").json()["data"]
        return data if data["lastReportTime"] else None

    data = eventually(reported)
    assert data["configs"] == [{"key": "foo", "expectedValue": "bar", "reportedValue": "bar"},
                               {"key": "number", "expectedValue": 1, "reportedValue": 2}]
