"""iTwin JSON-RPC subscribeNodes/Devices/Sensors over the local `/itwin` WebSocket API (issue 24):
change notifications of entities created, updated or deleted through any door (JSON-RPC, iTwin
REST integrate, native bucket DELETE), fed by the catalog table's stream; unsubscribe ends them and
another organisation hears nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.integration.conftest import Platform
from tests.integration.test_itwin_rest import SIMPLE
from tests.integration.test_itwin_rpc import DEVICE, NODE, SENSOR, _live, make_sensor, open_rpc, rpc


def _changes(frames: list[dict[str, Any]], request_id: Any) -> list[tuple[str, str]]:
    """(changeType, entity id) of each update frame, every one carrying the subscribe request's id."""
    assert all(f["jsonrpc"] == "2.0" and f["id"] == request_id for f in frames), frames
    return [(f["result"]["changeType"], f["result"]["data"]["id"]) for f in frames]


def test_subscribe_sensors_hears_every_door_until_unsubscribed(platform: Platform) -> None:
    org = platform.create_org(f"itwin-ent-{uuid.uuid4().hex[:6]}")
    other = platform.create_org(f"itwin-ent-other-{uuid.uuid4().hex[:6]}")
    with open_rpc(platform, org[1]) as writer, open_rpc(platform, org[1]) as reader, \
            open_rpc(platform, other[1]) as stranger:
        assert rpc(reader, "subscribeSensors", {}, "ss-1")["result"] == {"subscriptionId": "ss-1",
                                                                        "projectId": "default"}
        assert rpc(reader, "subscribeNodes", {}, "sn-1")["result"]["subscriptionId"] == "sn-1"
        assert rpc(stranger, "subscribeSensors", {}, "x")["result"]["subscriptionId"] == "x"
        make_sensor(writer, project=None)
        platform.drain()
        frames = _live(reader)
        assert sorted(_changes([f for f in frames if f["id"] == "ss-1"], "ss-1")) == [("created", SENSOR)]
        assert _changes([f for f in frames if f["id"] == "sn-1"], "sn-1") == [("created", NODE)]
        created = next(f for f in frames if f["id"] == "ss-1")["result"]["data"]
        assert created["device"] == DEVICE and created["props"]["MODEL"] == "RUGGED_TROLL_200"
        assert created["props"]["PROJECT_ID"] == "default"

        updated = rpc(writer, "updateSensor", {"sensor": SENSOR, "props": {"MODEL": "TROLL_500"}}, 5)
        assert updated["result"]["props"]["MODEL"] == "TROLL_500", updated
        platform.drain()
        (frame,) = _live(reader)
        assert _changes([frame], "ss-1") == [("updated", SENSOR)]
        assert frame["result"]["data"]["props"]["MODEL"] == "TROLL_500"

        with httpx.Client(base_url=f"{platform.url}/itwin/api", headers={"Authorization": f"ApiKey {org[1]}"},
                          timeout=30) as it:
            integrated = it.post("/integrations/integrate", json=SIMPLE)
            assert integrated.status_code == 200, integrated.text
        sensors = [s["id"] for d in integrated.json()["integration"]["devices"] for s in d["sensors"]]
        platform.drain()
        frames = _live(reader)
        assert sorted(_changes([f for f in frames if f["id"] == "ss-1"], "ss-1")) == sorted(
            ("created", s) for s in sensors)
        assert [c for c, _ in _changes([f for f in frames if f["id"] == "sn-1"], "sn-1")] == ["created"]

        with platform.client(org[1]) as api:
            pool = next(p for p in api.get("/v1/pools").json()["data"] if p.get("key") == "default")
            station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": DEVICE}).json()["data"][0]["id"]
            deleted = api.delete(f"/v1/stations/{station}/buckets/{SENSOR.replace('/', ':')}")
            assert deleted.status_code in (200, 204), deleted.text
        platform.drain()
        frames = _live(reader)
        assert _changes(frames, "ss-1") == [("deleted", SENSOR)]
        assert frames[0]["result"]["data"]["props"]["MODEL"] == "TROLL_500"

        assert _live(stranger) == []
        assert rpc(reader, "unsubscribeSensors", {"id": "ss-1"}, 6)["result"] == {"unsubscribed": "ss-1"}
        assert rpc(reader, "unsubscribeSensors", {"id": "ss-1"}, 7)["error"]["code"] == -32004
        assert rpc(reader, "unsubscribeData", {"id": "sn-1"}, 8)["error"]["code"] == -32004
        later = SENSOR.replace("rugged", "later")
        made = rpc(writer, "createSensor", {"sensor": later, "type": "DYNAMIC", "props": {}}, 9)
        assert made["result"]["id"] == later, made
        platform.drain()
        assert _live(reader) == []
        assert rpc(reader, "unsubscribeNodes", {"id": "sn-1"}, 10)["result"] == {"unsubscribed": "sn-1"}
        assert rpc(reader, "unsubscribeNodes", {"id": "sn-1"}, 11)["error"]["code"] == -32004


def test_subscribe_filters_and_help(platform: Platform) -> None:
    org = platform.create_org(f"itwin-ent-{uuid.uuid4().hex[:6]}")
    with open_rpc(platform, org[1]) as writer, open_rpc(platform, org[1]) as reader:
        listed = rpc(reader, "help", None, 1)["result"]
        for kind in ("Nodes", "Devices", "Sensors"):
            assert f"subscribe{kind}" in listed and f"unsubscribe{kind}" in listed
        assert listed["subscribeSensors"]["params"]["sensors"]
        other_sensor = SENSOR.replace("rugged", "other")
        assert rpc(reader, "subscribeSensors", {"sensors": [other_sensor]}, 2)["result"]["subscriptionId"] == 2
        assert rpc(reader, "subscribeDevices", {}, 3)["result"]["subscriptionId"] == 3
        bad = rpc(reader, "subscribeSensors", {"sensors": "nope"}, 4)["error"]
        assert bad["code"] == -32602 and bad["data"]["field"] == "sensors"
        unknown = rpc(reader, "subscribeNodes", {"projectIds": ["no-such-project"]}, 5)["error"]
        assert unknown["code"] == -32004 and unknown["data"]["field"] == "projectIds"
        make_sensor(writer, project=None)
        made = rpc(writer, "createSensor", {"sensor": other_sensor, "type": "DYNAMIC", "props": {}}, 6)
        assert made["result"]["id"] == other_sensor, made
        platform.drain()
        frames = _live(reader)
        assert [(f["id"], f["result"]["changeType"], f["result"]["data"]["id"]) for f in frames] == [
            (3, "created", DEVICE), (2, "created", other_sensor)]
