"""Application MQTT clients (`app:<identity>`, issue 23) over paho against the local runtime: made
over `/v1/mqtt-apps`, an app receives its organisation's telemetry, publishes expected configs its
things receive, cannot publish data as a thing, and never sees another organisation's messages,
live or retained."""

from __future__ import annotations

import json
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.e2e.test_mqtt import BASE_MS, Device, eventually, intervals, platform  # noqa: F401
from tests.integration.conftest import Platform

pytestmark = pytest.mark.e2e

QUIET_S = 1.5
"""How long a client waits to be sure a message is not coming (after a later one that did)."""


class World:
    """One organisation: its admin client, a station with its MQTT secret and a stream `temp`."""

    def __init__(self, platform: Platform, name: str) -> None:  # noqa: F811
        _, key = platform.create_org(name)
        self.api = platform.client(key)
        pool = self.api.post("/v1/pools", json={"name": name}).json()
        self.station = self.api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gateway"}).json()
        self.id = str(self.station["id"])
        self.password = self.api.post(f"/v1/stations/{self.id}/secret").json()["password"]
        self.stream = self.api.post(f"/v1/stations/{self.id}/streams", json={
            "name": "temperature", "type": "float", "alias": "temp", "bucket": "sensors"}).json()

    def app(self, name: str = "dashboard") -> dict[str, Any]:
        created = self.api.post("/v1/mqtt-apps", json={"name": name})
        assert created.status_code == 201, created.text
        return dict(created.json())


@pytest.fixture(scope="module")
def org_a(platform: Platform) -> Iterator[World]:  # noqa: F811
    world = World(platform, "apps-a")
    yield world
    world.api.close()


@pytest.fixture(scope="module")
def org_b(platform: Platform) -> Iterator[World]:  # noqa: F811
    world = World(platform, "apps-b")
    yield world
    world.api.close()


def _connected(platform: Platform, client_id: str, username: str, password: str) -> Device:  # noqa: F811
    client = Device(platform, client_id, username, password)
    assert client.connect() == 0
    return client


@pytest.fixture
def thing_a(platform: Platform, org_a: World) -> Iterator[Device]:  # noqa: F811
    client = _connected(platform, f"thing:{org_a.id}", org_a.id, org_a.password)
    yield client
    client.close()


@pytest.fixture
def thing_b(platform: Platform, org_b: World) -> Iterator[Device]:  # noqa: F811
    client = _connected(platform, f"thing:{org_b.id}", org_b.id, org_b.password)
    yield client
    client.close()


@pytest.fixture
def app_a(platform: Platform, org_a: World) -> Iterator[Device]:  # noqa: F811
    app = org_a.app()
    client = _connected(platform, app["clientId"], app["username"], app["password"])
    yield client
    client.close()


def _drain(messages: queue.Queue[mqtt.MQTTMessage], timeout_s: float = QUIET_S) -> list[mqtt.MQTTMessage]:
    """Everything that arrives until nothing has for `timeout_s`."""
    found = []
    while True:
        try:
            found.append(messages.get(timeout=timeout_s))
        except queue.Empty:
            return found


# --- REST ---------------------------------------------------------------------------------------


def test_an_app_is_created_with_its_secret_once_and_listed_without_it(org_a: World, org_b: World) -> None:
    created = org_a.app("shown once")
    assert created["clientId"] == f"app:{created['id']}" and created["username"] == created["id"]
    assert created["password"] and created["topics"]["data"] == "things/+/data/#"
    got = org_a.api.get(f"/v1/mqtt-apps/{created['id']}")
    assert got.status_code == 200 and "password" not in got.json() and "secretHash" not in got.json()
    listed = org_a.api.get("/v1/mqtt-apps").json()["data"]
    assert created["id"] in {app["id"] for app in listed}
    assert all("password" not in app and "secretHash" not in app for app in listed)
    assert org_b.api.get(f"/v1/mqtt-apps/{created['id']}").status_code == 404
    assert created["id"] not in {app["id"] for app in org_b.api.get("/v1/mqtt-apps").json()["data"]}


def test_a_bad_body_is_a_400_naming_the_field(org_a: World) -> None:
    for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": "x", "secret": "s"}, "secret")):
        answer = org_a.api.post("/v1/mqtt-apps", json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field


def test_a_wrong_secret_or_a_deleted_app_is_refused_at_connect(platform: Platform, org_a: World) -> None:  # noqa: F811
    app = org_a.app("to delete")
    for client_id, username, password in ((app["clientId"], app["username"], "wrong"),
                                          (f"thing:{app['id']}", app["username"], app["password"]),
                                          (app["clientId"], "someone-else", app["password"])):
        refused = Device(platform, client_id, username, password)
        try:
            assert refused.connect() != 0
        finally:
            refused.close()
    assert org_a.api.delete(f"/v1/mqtt-apps/{app['id']}").status_code == 204
    assert org_a.api.get(f"/v1/mqtt-apps/{app['id']}").status_code == 404
    gone = Device(platform, app["clientId"], app["username"], app["password"])
    try:
        assert gone.connect() != 0
    finally:
        gone.close()


# --- MQTT ---------------------------------------------------------------------------------------


def test_an_app_receives_the_telemetry_a_thing_publishes(org_a: World, thing_a: Device, app_a: Device) -> None:
    assert not app_a.subscribe("things/+/data/#")[0].is_failure
    reading = [{"id": "temp", "value": 21.5, "timestamp": BASE_MS}]
    thing_a.publish(f"things/{org_a.id}/data/sensors", reading)
    message = app_a.messages.get(timeout=15)
    assert message.topic == f"things/{org_a.id}/data/sensors"
    assert json.loads(message.payload) == reading


def test_an_app_cannot_publish_data_as_a_thing(
    platform: Platform, org_a: World, thing_a: Device, app_a: Device  # noqa: F811
) -> None:
    forged = {"id": "temp", "value": 666.0, "timestamp": BASE_MS + 1}
    app_a.client.publish(f"things/{org_a.id}/data/sensors", json.dumps(forged).encode(), qos=1)
    # as IoT Core does, the broker disconnects a client publishing where its policy does not allow
    assert eventually(lambda: not app_a.client.is_connected())
    genuine = {"id": "temp", "value": 1.0, "timestamp": BASE_MS + 2}
    thing_a.publish(f"things/{org_a.id}/data/sensors", genuine)
    stored = eventually(lambda: [i for i in intervals(org_a.api, org_a.stream["id"])
                                 if i["value"] == genuine["value"]])
    assert stored, "the thing's own message is stored"
    assert not [i for i in intervals(org_a.api, org_a.stream["id"]) if i["value"] == forged["value"]]


def test_an_app_never_receives_another_organisations_messages_live_or_retained(
    org_a: World, org_b: World, thing_a: Device, thing_b: Device, app_a: Device
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    for world in (org_a, org_b):
        put = world.api.put(f"/v1/stations/{world.id}/configs/{group}", json={"configs": {"owner": world.id}})
        assert put.status_code == 200, put.text
    assert not app_a.subscribe("things/#")[0].is_failure
    assert not app_a.subscribe(f"things/{org_b.id}/data/#")[0].is_failure
    thing_b.publish(f"things/{org_b.id}/data/sensors", [{"id": "temp", "value": 2.0}])
    thing_a.publish(f"things/{org_a.id}/data/sensors", [{"id": "temp", "value": 3.0}])
    topics = [m.topic for m in _drain(app_a.messages)]
    assert f"things/{org_a.id}/config/expected/{group}" in topics, "its own retained config arrives"
    assert f"things/{org_a.id}/data/sensors" in topics, "its own live data arrives"
    assert not [t for t in topics if org_b.id in t], topics


def test_an_app_publishes_an_expected_config_the_thing_receives(
    org_a: World, org_b: World, thing_a: Device, app_a: Device
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    assert not thing_a.subscribe(f"things/{org_a.id}/config/expected/{group}")[0].is_failure
    expected = [{"id": "interval", "value": 60}]
    app_a.publish(f"things/{org_a.id}/config/expected/{group}", expected)
    message = thing_a.messages.get(timeout=15)
    assert message.topic == f"things/{org_a.id}/config/expected/{group}"
    assert json.loads(message.payload) == expected
    assert app_a.client.is_connected()
    app_a.client.publish(f"things/{org_b.id}/config/expected/{group}", b"[]", qos=1)
    assert eventually(lambda: not app_a.client.is_connected()), "another organisation's thing is refused"


def test_a_thing_subscribes_to_its_own_data_only(
    org_a: World, org_b: World, thing_a: Device, thing_b: Device
) -> None:
    assert not thing_a.subscribe(f"things/{org_a.id}/data/#")[0].is_failure
    assert thing_a.subscribe("things/+/data/#")[0].is_failure
    thing_b.publish(f"things/{org_b.id}/data/sensors", [{"id": "temp", "value": 4.0}])
    thing_a.publish(f"things/{org_a.id}/data/sensors", [{"id": "temp", "value": 5.0}])
    topics = [m.topic for m in _drain(thing_a.messages)]
    assert topics == [f"things/{org_a.id}/data/sensors"]
