"""A stage with an MQTT topic prefix (an account hosting several stages, docs/deploy.md), against
the local runtime started with MQTT_TOPIC_PREFIX: credentials, device policy, topic rules and
config publishes all move under the prefix (watershed.topics)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_mqtt import BASE_MS, Device, count_at_least, eventually, intervals
from tests.integration.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e

PREFIX = "stage2"


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MQTT_TOPIC_PREFIX", PREFIX)
        with start_platform() as running:
            if running.mqtt_port is None:
                raise RuntimeError("the local runtime started without its MQTT broker")
            yield running


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


@pytest.fixture
def station(api: httpx.Client) -> dict[str, Any]:
    pool = api.post("/v1/pools", json={"name": f"prefix-{uuid.uuid4().hex[:6]}"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gateway"}).json()
    secret = api.post(f"/v1/stations/{station['id']}/secret")
    assert secret.status_code == 201, secret.text
    stream = api.post(
        f"/v1/stations/{station['id']}/streams",
        json={"name": "temperature", "type": "float", "alias": "temp", "bucket": "sensors"},
    ).json()
    return {**station, "secret": secret.json(), "stream": stream}


def test_the_credentials_name_the_prefixed_client_id_and_topics(station: dict[str, Any]) -> None:
    secret = station["secret"]
    assert secret["clientId"] == f"{PREFIX}:thing:{station['id']}"
    assert secret["topics"]["data"] == f"{PREFIX}/things/{station['id']}/data/{{bucket}}"
    assert secret["topics"]["configExpected"] == f"{PREFIX}/things/{station['id']}/config/expected/{{group}}"


def test_only_the_prefixed_client_id_connects(platform: Platform, station: dict[str, Any]) -> None:
    password = station["secret"]["password"]
    plain = Device(platform, f"thing:{station['id']}", station["id"], password)
    try:
        assert plain.connect().is_failure
    finally:
        plain.close()


def test_data_on_the_prefixed_topic_is_stored_and_the_unprefixed_one_is_not(
    platform: Platform, api: httpx.Client, station: dict[str, Any]
) -> None:
    secret = station["secret"]
    # The account-wide topic (another stage's) first: the broker refuses it at publish time (and may
    # drop the connection, as IoT Core does), so it never reaches the rules.
    stray = Device(platform, secret["clientId"], station["id"], secret["password"])
    try:
        assert stray.connect() == 0
        with contextlib.suppress(RuntimeError):
            stray.publish(f"things/{station['id']}/data/sensors", {"id": "temp", "value": 1, "timestamp": BASE_MS})
    finally:
        stray.close()
    device = Device(platform, secret["clientId"], station["id"], secret["password"])
    try:
        assert device.connect() == 0
        device.publish(
            f"{PREFIX}/things/{station['id']}/data/sensors", {"id": "temp", "value": 2, "timestamp": BASE_MS + 1000}
        )
        assert eventually(count_at_least(api, station["stream"]["id"], 1))
        assert [i["value"] for i in intervals(api, station["stream"]["id"])] == [2]
    finally:
        device.close()


def test_expected_configs_are_published_under_the_prefix(
    platform: Platform, api: httpx.Client, station: dict[str, Any]
) -> None:
    put = api.put(f"/v1/stations/{station['id']}/configs/mode", json={"configs": {"interval": 60}})
    assert put.status_code == 200, put.text
    device = Device(platform, station["secret"]["clientId"], station["id"], station["secret"]["password"])
    try:
        assert device.connect() == 0
        assert not device.subscribe(f"{PREFIX}/things/{station['id']}/config/expected/#")[0].is_failure
        message = device.messages.get(timeout=15)
        assert message.topic == f"{PREFIX}/things/{station['id']}/config/expected/mode"
        assert json.loads(message.payload) == [{"id": "interval", "value": 60}]
    finally:
        device.close()
