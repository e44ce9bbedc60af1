"""Issue 19 over MQTT, against the local runtime's broker with paho-mqtt: defects 10, 11 and 14.

Defect 12 is tests/e2e/test_mqtt.py::test_publishing_to_another_stations_topic_is_refused.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_mqtt import Device, eventually, intervals
from tests.integration.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e

BASE_MS = 1_780_000_000_000


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with start_platform() as running:
        yield running


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


def new_station(api: httpx.Client, auto_create: bool = False) -> dict[str, Any]:
    pool = api.post("/v1/pools", json={"name": f"h-{uuid.uuid4().hex[:6]}", "autoCreateStreams": auto_create})
    station = api.post(f"/v1/pools/{pool.json()['id']}/stations", json={"name": "gw"}).json()
    secret = api.post(f"/v1/stations/{station['id']}/secret").json()["password"]
    stream = api.post(f"/v1/stations/{station['id']}/streams",
                      json={"name": "t", "type": "float", "alias": "temp", "bucket": "sensors"}).json()
    return {**station, "password": secret, "stream": stream}


def connected(platform: Platform, station: dict[str, Any]) -> Device:
    device = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    assert device.connect() == 0
    return device


def letters_about(platform: Platform, station_id: str) -> list[dict[str, Any]]:
    return [letter for letter in platform.dead_letters() if station_id in str(letter)]


@pytest.mark.parametrize("bad", [
    pytest.param('{"id": "temp", "value": ' + "9" * 400 + "}", id="400-digit-value"),
    pytest.param('{"id": "temp", "value": 2.5, "timestamp": ' + "1" * 5000 + "}", id="5000-digit-timestamp"),
    pytest.param('{"id": "temp", "value": 2.5, "timestamp": "' + "1" * 5000 + '"}', id="5000-digit-string"),
])
def test_10_the_valid_items_of_a_message_with_a_huge_number_are_stored(
    platform: Platform, api: httpx.Client, bad: str
) -> None:
    station = new_station(api)
    device = connected(platform, station)
    try:
        payload = f'[{{"id": "temp", "value": 1.5, "timestamp": {BASE_MS}}}, {bad}]'
        device.publish(f"things/{station['id']}/data/sensors", payload.encode())
        stored = eventually(lambda: intervals(api, station["stream"]["id"]))
        assert [row["value"] for row in stored] == [1.5]
        letters = eventually(lambda: letters_about(platform, station["id"]))
        assert letters and [item["index"] for item in letters[0]["letter"]["items"]] == [1]
    finally:
        device.close()


def test_11_a_payload_over_128_kb_is_refused_and_the_client_disconnected(
    platform: Platform, api: httpx.Client
) -> None:
    station = new_station(api)
    device = connected(platform, station)
    try:
        big = b'{"id": "temp", "value": "' + b"x" * 200_000 + b'"}'
        device.client.publish(f"things/{station['id']}/data/sensors", big, qos=0)
        assert eventually(lambda: not device.client.is_connected(), 10)
        assert intervals(api, station["stream"]["id"]) == []
    finally:
        device.close()


def test_14_a_whole_number_auto_creates_an_integer_stream(platform: Platform, api: httpx.Client) -> None:
    station = new_station(api, auto_create=True)
    device = connected(platform, station)
    try:
        device.publish(f"things/{station['id']}/data/sensors", [{"id": "count", "value": 5, "timestamp": BASE_MS},
                                                                {"id": "level", "value": 5.0,
                                                                 "timestamp": BASE_MS}])

        def types() -> dict[str, str] | None:
            streams = api.get(f"/v1/stations/{station['id']}/streams").json()["data"]
            found = {s["alias"]: s["type"] for s in streams}
            return found if {"count", "level"} <= set(found) else None

        assert eventually(types) == {"temp": "float", "count": "integer", "level": "float"}
    finally:
        device.close()


def test_11_a_dead_letter_too_big_for_sqs_is_stored_in_s3_and_listed_whole(
    platform: Platform, api: httpx.Client
) -> None:
    station = new_station(api)
    device = connected(platform, station)
    try:
        payload = b"not json " + b"x" * 120_000  # within 128 KB; its letter carries it twice in base64
        device.publish(f"things/{station['id']}/data/sensors", payload)
        letters = eventually(lambda: letters_about(platform, station["id"]))
        assert letters, "the letter was lost"
        letter = letters[0]["letter"]
        assert letter["storedAt"]["key"].startswith("dead-letters/")
        assert letters[0]["reason"].startswith("payload is not JSON")
        assert letters[0]["redrivable"] is True
        assert base64.b64decode(letter["base64OriginalPayload"]) == payload
    finally:
        device.close()
