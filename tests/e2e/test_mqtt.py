"""MQTT devices against the local runtime's broker, with paho-mqtt, read back over REST (issue 5).

Devices speak ORing PaaS v4 on Watershed's topics: `things/<id>/data/<bucket>`,
`things/<id>/config/expected|reported/<group>`; client `thing:<id>`, username `<id>`.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.integration.conftest import Platform, start_platform

pytestmark = pytest.mark.e2e

BASE_MS = 1_780_000_000_000


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    with start_platform() as running:
        if running.mqtt_port is None:
            raise RuntimeError("the local runtime started without its MQTT broker")
        yield running


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


def eventually(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    """The first truthy result of `check`, polled until the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


class Device:
    """A paho client that records what happened to it."""

    def __init__(self, platform: Platform, client_id: str, username: str, password: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self.client.username_pw_set(username, password)
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.client.on_connect = lambda c, u, flags, rc, props: self.connack.put(rc)
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.subacks.put(list(codes))
        self.platform = platform

    def connect(self) -> ReasonCode:
        assert self.platform.mqtt_host and self.platform.mqtt_port
        self.client.connect(self.platform.mqtt_host, self.platform.mqtt_port, keepalive=30)
        self.client.loop_start()
        return self.connack.get(timeout=15)

    def publish(self, topic: str, payload: Any, qos: int = 1) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(topic, data, qos=qos).wait_for_publish(timeout=15)

    def subscribe(self, topic_filter: str) -> list[ReasonCode]:
        self.client.subscribe(topic_filter, qos=1)
        return self.subacks.get(timeout=15)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def station(api: httpx.Client) -> dict[str, Any]:
    """A fresh pool (no auto-create) with one station, its MQTT secret, and a float stream `temp`."""
    pool = api.post("/v1/pools", json={"name": f"mqtt-{uuid.uuid4().hex[:6]}"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gateway"}).json()
    secret = api.post(f"/v1/stations/{station['id']}/secret")
    assert secret.status_code == 201, secret.text
    stream = api.post(
        f"/v1/stations/{station['id']}/streams",
        json={"name": "temperature", "type": "float", "alias": "temp", "bucket": "sensors"},
    ).json()
    return {**station, "pool": pool, "password": secret.json()["password"], "stream": stream}


@pytest.fixture
def device(platform: Platform, station: dict[str, Any]) -> Iterator[Device]:
    client = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    assert client.connect() == 0
    yield client
    client.close()


def intervals(api: httpx.Client, stream_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/streams/{stream_id}/intervals", params={"limit": 1000, "start": 0})
    response.raise_for_status()
    return list(response.json()["data"])


def count_at_least(api: httpx.Client, stream_id: str, n: int) -> Callable[[], list[dict[str, Any]] | None]:
    def check() -> list[dict[str, Any]] | None:
        found = intervals(api, stream_id)
        return found if len(found) >= n else None

    return check


# --- CONNECT ------------------------------------------------------------------------------------


def test_good_credentials_connect(device: Device) -> None:
    assert device.client.is_connected()


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: (f"thing:{s['id']}", s["id"], "wrong-secret"), id="wrong-secret"),
        pytest.param(lambda s: (f"thing:{s['id']}", str(uuid.uuid4()), s["password"]), id="wrong-username"),
        pytest.param(lambda s: (f"app:{s['id']}", s["id"], s["password"]), id="wrong-client-id"),
        pytest.param(lambda s: (f"thing:{uuid.uuid4()}", str(uuid.uuid4()), "x"), id="unknown-station"),
    ],
)
def test_bad_credentials_are_refused_at_connect(
    platform: Platform, station: dict[str, Any], mutate: Callable[[dict[str, Any]], tuple[str, str, str]]
) -> None:
    client_id, username, password = mutate(station)
    refused = Device(platform, client_id, username, password)
    try:
        code = refused.connect()
        assert code.is_failure
        assert code.value in (4, 5, 134, 135)  # bad user name or password / not authorized
    finally:
        refused.close()


def test_a_rotated_secret_replaces_the_old_one(
    platform: Platform, api: httpx.Client, station: dict[str, Any]
) -> None:
    new_secret = api.post(f"/v1/stations/{station['id']}/secret").json()["password"]
    old = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    new = Device(platform, f"thing:{station['id']}", station["id"], new_secret)
    try:
        assert old.connect().is_failure
        assert new.connect() == 0
    finally:
        old.close()
        new.close()


def test_the_secret_is_not_shown_on_the_station(api: httpx.Client, station: dict[str, Any]) -> None:
    shown = api.get(f"/v1/stations/{station['id']}").json()
    assert station["password"] not in json.dumps(shown)
    assert "secretHash" not in shown


# --- data ---------------------------------------------------------------------------------------


def test_one_interval_is_queryable_over_rest(
    api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    item = {"id": "temp", "value": 21.5, "timestamp": BASE_MS}
    device.publish(f"things/{station['id']}/data/sensors", item)
    found = eventually(count_at_least(api, station["stream"]["id"], 1))
    assert found == [{"timestamp": "2026-05-28T20:26:40.000Z", "value": 21.5}]


def test_an_array_of_1000_intervals_is_stored(
    api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    items = [{"id": "temp", "value": float(i), "timestamp": str(BASE_MS + i * 1000)} for i in range(1000)]
    device.publish(f"things/{station['id']}/data/sensors", items)
    found = eventually(count_at_least(api, station["stream"]["id"], 1000), timeout_s=60)
    assert found is not None
    assert [point["value"] for point in found] == [float(i) for i in range(1000)]


def test_an_item_without_timestamp_gets_server_time(
    api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    before = time.time()
    device.publish(f"things/{station['id']}/data/sensors", {"id": "temp", "value": 3})
    found = eventually(count_at_least(api, station["stream"]["id"], 1))
    assert found is not None
    latest = api.get(f"/v1/streams/{station['stream']['id']}/latest").json()
    stamped = httpx_time(latest["timestamp"])
    assert before - 5 <= stamped <= time.time() + 5


def httpx_time(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def letters_on(platform: Platform, topic: str, n: int) -> list[dict[str, Any]] | None:
    found = [letter for letter in platform.dead_letters() if letter["letter"].get("topic") == topic]
    return found if len(found) >= n else None


def test_bad_items_do_not_stop_valid_ones(
    platform: Platform, api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    topic = f"things/{station['id']}/data/sensors"
    device.publish(topic, b"this is not json")
    device.publish(topic, b"\xff\x00\x01")
    device.publish(
        topic,
        [
            {"id": "temp", "value": "warm", "timestamp": BASE_MS},  # wrong type for a float stream
            {"id": "unknown-alias", "value": 1, "timestamp": BASE_MS},  # pool does not auto-create
            {"value": 1},  # no id
            {"id": "temp", "value": 7.0, "timestamp": BASE_MS + 1},  # valid
        ],
    )
    found = eventually(count_at_least(api, station["stream"]["id"], 1))
    assert found == [{"timestamp": "2026-05-28T20:26:40.001Z", "value": 7.0}]
    streams = api.get(f"/v1/stations/{station['id']}/streams").json()["data"]
    assert [s["alias"] for s in streams] == ["temp"]
    assert device.client.is_connected()

    letters = eventually(lambda: letters_on(platform, topic, 3))
    assert letters is not None
    reasons = sorted(letter["reason"] for letter in letters)
    assert [r.split(":")[0] for r in reasons] == [
        "3 item(s) could not be stored",
        "payload is not JSON",
        "payload is not JSON",
    ]
    items = next(letter for letter in letters if letter["letter"].get("items"))
    assert items["function"] == "mqtt_ingest" and items["redrivable"] is True
    assert [(i["index"], i["field"], i["reason"]) for i in items["letter"]["items"]] == [
        (2, "[2].id", "id must be a non-empty string (the stream alias)"),
        (0, "[0].value", "must be a finite number for a float stream"),
        (
            1,
            "[1].id",
            "no stream with alias 'unknown-alias' in bucket 'sensors', and the pool does not auto-create streams",
        ),
    ]


def test_a_redrive_stores_what_failed_once_the_cause_is_fixed(
    platform: Platform, api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    topic = f"things/{station['id']}/data/later"
    device.publish(topic, [{"id": "humidity", "value": 40.5, "timestamp": BASE_MS}])
    assert eventually(lambda: letters_on(platform, topic, 1))
    api.patch(f"/v1/pools/{station['pool']['id']}", json={"autoCreateStreams": True}).raise_for_status()

    outcome = platform.redrive()

    assert outcome["redriven"] >= 1
    assert letters_on(platform, topic, 1) is None
    streams = api.get(f"/v1/stations/{station['id']}/streams").json()["data"]
    humidity = next(s for s in streams if s["alias"] == "humidity")
    assert humidity["bucket"] == "later" and humidity["type"] == "float"
    assert intervals(api, humidity["id"]) == [{"timestamp": "2026-05-28T20:26:40.000Z", "value": 40.5}]


def test_unknown_aliases_create_streams_when_the_pool_allows(
    api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    api.patch(f"/v1/pools/{station['pool']['id']}", json={"autoCreateStreams": True}).raise_for_status()
    device.publish(
        f"things/{station['id']}/data/extra",
        [
            {"id": "door", "value": True, "timestamp": BASE_MS},
            {"id": "label", "value": "on", "timestamp": BASE_MS},
        ],
    )

    def created() -> dict[str, str] | None:
        streams = api.get(f"/v1/stations/{station['id']}/streams").json()["data"]
        types = {s["alias"]: s["type"] for s in streams if s["bucket"] == "extra"}
        return types if len(types) == 2 else None

    assert eventually(created) == {"door": "boolean", "label": "string"}


def test_publishing_to_another_stations_topic_is_refused(
    platform: Platform, api: httpx.Client, device: Device, station: dict[str, Any]
) -> None:
    victim_station = api.post(f"/v1/pools/{station['pool']['id']}/stations", json={"name": "victim"}).json()
    victim_stream = api.post(
        f"/v1/stations/{victim_station['id']}/streams",
        json={"name": "t", "type": "float", "alias": "temp", "bucket": "sensors"},
    ).json()
    assert device.subscribe(f"things/{victim_station['id']}/config/expected/#")[0].is_failure
    forged = {"id": "temp", "value": 666, "timestamp": BASE_MS}
    device.client.publish(f"things/{victim_station['id']}/data/sensors", json.dumps(forged).encode(), qos=1)
    # as IoT Core does, the broker disconnects a client publishing where its policy does not allow
    assert eventually(lambda: not device.client.is_connected())
    again = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    assert again.connect() == 0
    try:
        again.publish(f"things/{station['id']}/data/sensors", {"id": "temp", "value": 1, "timestamp": BASE_MS})
        assert eventually(count_at_least(api, station["stream"]["id"], 1))
    finally:
        again.close()
    assert intervals(api, victim_stream["id"]) == []


# --- configs ------------------------------------------------------------------------------------


def test_config_expected_reaches_the_device_and_the_report_clears_the_delta(
    platform: Platform, api: httpx.Client, station: dict[str, Any]
) -> None:
    put = api.put(
        f"/v1/stations/{station['id']}/configs/mode",
        json={"configs": {"interval": 60, "unit": "C"}, "partialUpdate": False},
    )
    assert put.status_code == 200, put.text
    assert put.json()["delta"] == {"interval": 60, "unit": "C"}

    device = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    try:
        assert device.connect() == 0
        assert not device.subscribe(f"things/{station['id']}/config/expected/#")[0].is_failure
        message = device.messages.get(timeout=15)
        assert message.topic == f"things/{station['id']}/config/expected/mode"
        assert message.retain
        expected = json.loads(message.payload)
        assert expected == [{"id": "interval", "value": 60}, {"id": "unit", "value": "C"}]

        device.publish(f"things/{station['id']}/config/reported/mode", expected)

        def reported() -> dict[str, Any] | None:
            doc = api.get(f"/v1/stations/{station['id']}/configs/mode").json()
            return doc if doc["lastReportTime"] else None

        doc = eventually(reported)
        assert doc["reported"] == {"interval": 60, "unit": "C"}
        assert doc["delta"] == {}
        assert doc["configs"] == [
            {"key": "interval", "expectedValue": 60, "reportedValue": 60},
            {"key": "unit", "expectedValue": "C", "reportedValue": "C"},
        ]

        partial = api.put(
            f"/v1/stations/{station['id']}/configs/mode",
            json={"configs": {"unit": "F"}, "partialUpdate": True},
        ).json()
        assert partial["expected"] == {"interval": 60, "unit": "F"}
        assert partial["delta"] == {"unit": "F"}
        live = device.messages.get(timeout=15)
        assert json.loads(live.payload) == [{"id": "interval", "value": 60}, {"id": "unit", "value": "F"}]
    finally:
        device.close()
    listed = api.get(f"/v1/stations/{station['id']}/configs").json()["data"]
    assert [group["name"] for group in listed] == ["mode"]
    assert api.delete(f"/v1/stations/{station['id']}/configs/mode").status_code == 204
    assert api.get(f"/v1/stations/{station['id']}/configs/mode").status_code == 404


# --- presence -----------------------------------------------------------------------------------


def test_connect_and_disconnect_flip_is_online(
    platform: Platform, api: httpx.Client, station: dict[str, Any]
) -> None:
    def online(expected: bool) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            doc = api.get(f"/v1/stations/{station['id']}").json()
            return doc if doc["isOnline"] is expected and doc["lastOnlineTime"] else None

        return check

    assert api.get(f"/v1/stations/{station['id']}").json()["isOnline"] is False
    device = Device(platform, f"thing:{station['id']}", station["id"], station["password"])
    assert device.connect() == 0
    assert eventually(online(True))
    device.close()
    assert eventually(online(False))
