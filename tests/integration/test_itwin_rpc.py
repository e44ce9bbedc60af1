"""The iTwin IoT JSON-RPC 2.0 face over the local `/itwin` WebSocket API, with the real `websockets`
client (issue 24): in-band authenticate, the seed's example session, every error code, getData
streamed in chunks, live subscribeData, isolation between organisations."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from tests.integration.conftest import Platform, start_platform
from tests.integration.test_itwin_rest import SIMPLE as REST_SIMPLE
from tests.integration.test_websocket import mqtt_publish

MAX_MESSAGE = 128 * 1024
SEED_CODE = "<REPLACE_WITH_YOUR_API_CODE_OR_JWT_TOKEN>"
SEED_AUTHENTICATE = r'{"jsonrpc":"2.0","method":"authenticate","id":"0","params":{"code":"' + SEED_CODE + '"}}'


def itwin_url(platform: Platform) -> str:
    """The `/itwin` API shares the WebSocket door's port with the native `/ws` one."""
    assert platform.ws_url and platform.ws_url.endswith("/ws")
    return platform.ws_url[: -len("/ws")] + "/itwin"


def rpc(ws: Connection, method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> Any:
    frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        frame["params"] = params
    ws.send(json.dumps(frame))
    return recv(ws)


def recv(ws: Connection, timeout: float = 10) -> Any:
    raw = ws.recv(timeout=timeout)
    assert len(raw.encode() if isinstance(raw, str) else raw) <= MAX_MESSAGE
    return json.loads(raw)


@pytest.fixture
def ws(platform: Platform) -> Iterator[Connection]:
    """An authenticated connection (the demo organisation's key)."""
    with connect(itwin_url(platform), max_size=2**21) as conn:
        answer = rpc(conn, "authenticate", {"code": platform.key}, request_id=0)
        assert answer == {"jsonrpc": "2.0", "id": 0, "result": {"nextId": 1}}
        yield conn


def test_connect_needs_no_credential_and_authenticate_answers_next_id(platform: Platform) -> None:
    with connect(itwin_url(platform)) as conn:
        conn.send(SEED_AUTHENTICATE.replace(SEED_CODE, platform.key))
        assert recv(conn) == {"jsonrpc": "2.0", "id": "0", "result": {"nextId": 1}}
        answer = rpc(conn, "time", request_id=1)
        assert answer["id"] == 1 and answer["result"]["time"].endswith("Z")
    assert platform.log_file is not None
    assert f"iTwin JSON-RPC at {itwin_url(platform)}\n" in platform.log_file.read_text()


def test_a_bearer_token_authenticates_and_scopes_hold(platform: Platform, org: tuple[str, str]) -> None:
    with platform.client(org[1]) as api:
        app = api.post("/v1/clients", json={"name": "itwin rpc app", "grants": ["client_credentials"],
                                            "scopes": ["admin"]}).json()
        reader = api.post("/v1/keys", json={"name": "itwin rpc reader", "scopes": ["read"]}).json()["key"]
    token = httpx.post(f"{platform.url}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": app["clientId"], "client_secret": app["clientSecret"]},
        timeout=30).json()["access_token"]
    with open_rpc(platform, token) as ws:
        make_sensor(ws)
    with open_rpc(platform, reader) as ws:
        assert [s["id"] for s in rpc(ws, "getSensors", {"projectIds": [PROJECT]}, 1)["result"]] == [SENSOR]
        upload = rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": IN_RANGE[0],
                                                  "values": {"T": 1.0}}]}, 2)
        assert upload["error"]["code"] == -32003
        assert rpc(ws, "createNode", {"node": "/r/node", "type": "X"}, 3)["error"]["code"] == -32003


NODE = "/fn/xxxxx/node"
DEVICE = "/fn/xxxxx/node/dynamic/xxxxx/device"
SENSOR = "/fn/xxxxx/node/dynamic/xxxxx/device/rugged_troll_insitu_sde/sensor"
PROJECT = "60F8B30928A37A575ECEE061"
SEED_GET_SENSORS = '''{
   "jsonrpc":"2.0",
   "method":"getSensors",
   "id":1,
   "params":{
      "sensors": ["/fn/xxxxx/node/dynamic/xxxxx/device/rugged_troll_insitu_sde/sensor"],
      "projectIds":[
         "60F8B30928A37A575ECEE061"
      ]
   }
}'''
SEED_GET_METRICS = '''{
   "jsonrpc":"2.0",
   "method":"getMetrics",
   "id":1,
   "params":{
      "sensors": ["/fn/xxxxx/node/dynamic/xxxxx/device/rugged_troll_insitu_sde/sensor"]
   }
}'''
SEED_GET_DATA = '''{
   "jsonrpc":"2.0",
   "method":"getData",
   "id":1,
   "params":{
      "sensor":"/fn/xxxxx/node/dynamic/xxxxx/device/rugged_troll_insitu_sde/sensor",
      "metric":"P_raw",
      "unit":"Pa",
      "params":{
      },
      "startDate":"2021-06-24T10:56:11.832Z",
      "endDate":"2021-07-22T00:38:05.477Z",
      "projectIds":[
         "60F8B30928A37A575ECEE061"
      ]
   }
}'''
IN_RANGE = ["2021-06-25T00:00:00.000Z", "2021-07-01T12:30:00.500Z", "2021-07-22T00:38:05.477Z"]
OUT_OF_RANGE = ["2021-06-24T10:56:11.831Z", "2021-07-23T00:00:00.000Z"]


def open_rpc(platform: Platform, key: str) -> Connection:
    conn = connect(itwin_url(platform), max_size=2**21)
    assert rpc(conn, "authenticate", {"code": key}, request_id=0)["result"] == {"nextId": 1}
    return conn


def streamed(ws: Connection, request_id: Any, timeout: float = 30) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every `data` frame of a streamed answer, then its final result."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = recv(ws, timeout)
        assert frame["id"] == request_id and frame["jsonrpc"] == "2.0", frame
        if "data" not in frame.get("result", {}):
            return frames, frame
        frames.append(frame)


def make_sensor(ws: Connection, project: str | None = PROJECT, sensor: str = SENSOR) -> None:
    """The seed's entities: node, device and the rugged troll sensor (createNode/Device/Sensor)."""
    projects = {"projectIds": [project]} if project else {}
    node = rpc(ws, "createNode", {"node": NODE, "type": "DYNAMIC", "props": {"NAME": "Thread", "VERSION": "v4_6"},
                                  **projects}, 2)
    assert node["result"]["id"] == NODE and node["result"]["props"]["NODE_ID"] == NODE, node
    device = rpc(ws, "createDevice", {"device": DEVICE, "type": "DYNAMIC",
                                      "props": {"NAME": "Troll logger", "NODE_ID": NODE}, **projects}, 3)
    assert device["result"]["props"]["NODE_ID"] == NODE, device
    made = rpc(ws, "createSensor", {"sensor": sensor, "type": "DYNAMIC", "observationType": "DYNAMIC",
                                    "props": {"NAME": "My Cool Rugged troll", "MODEL": "RUGGED_TROLL_200"},
                                    **projects}, 4)
    assert made["result"]["device"] == DEVICE and made["result"]["id"] == sensor, made


@pytest.fixture
def org(platform: Platform) -> tuple[str, str]:
    """A fresh organisation (id, admin key): the seed's ids are the same in every test."""
    return platform.create_org(f"itwin-rpc-{uuid.uuid4().hex[:6]}")


def test_the_seed_end_to_end_session(platform: Platform, org: tuple[str, str]) -> None:
    with open_rpc(platform, org[1]) as ws:
        make_sensor(ws)
        data = [{"sensorId": SENSOR, "timestamp": ts, "values": {"P_raw": 101325.0 + i, "T": 20.0 + i}}
                for i, ts in enumerate(IN_RANGE + OUT_OF_RANGE)]
        uploaded = rpc(ws, "uploadData", {"data": data, "projectIds": [PROJECT]}, 5)
        assert uploaded == {"jsonrpc": "2.0", "id": 5, "result": {"successfullyProcessedObs": 10}}
    with connect(itwin_url(platform)) as ws:
        ws.send(SEED_AUTHENTICATE.replace(SEED_CODE, org[1]))
        assert recv(ws) == {"jsonrpc": "2.0", "id": "0", "result": {"nextId": 1}}
        ws.send(SEED_GET_SENSORS)
        sensors = recv(ws)
        assert sensors["id"] == 1 and len(sensors["result"]) == 1
        (found,) = sensors["result"]
        assert (found["type"], found["device"], found["id"]) == ("DYNAMIC", DEVICE, SENSOR)
        assert {k: found["props"][k] for k in ("MODEL", "NAME", "NODE_ID", "PROJECT_ID")} == {
            "MODEL": "RUGGED_TROLL_200", "NAME": "My Cool Rugged troll", "NODE_ID": NODE, "PROJECT_ID": PROJECT}
        ws.send(SEED_GET_METRICS)
        metrics = recv(ws)["result"][SENSOR]
        by_id = {m["id"]: m for m in metrics}
        assert set(by_id) == {"P_raw", "T"}
        assert {k: by_id["P_raw"][k] for k in ("id", "defaultUnit", "params")} == {
            "id": "P_raw", "defaultUnit": "Pa", "params": []}
        assert set(by_id["T"]) >= {"id", "name", "displayName", "defaultUnit", "notation", "params"}
        ws.send(SEED_GET_DATA)
        frames, final = streamed(ws, 1)
        assert final == {"jsonrpc": "2.0", "id": 1, "result": {"requestStatus": "finished"}}
        got = {ts: v for f in frames for ts, v in f["result"]["data"].items()}
        assert got == {ts: 101325.0 + i for i, ts in enumerate(IN_RANGE)}
        ws.send(SEED_GET_DATA.replace('"unit":"Pa"', '"unit":"kPa"').replace('"id":1', '"id":2'))
        frames, _ = streamed(ws, 2)
        kpa = {ts: v for f in frames for ts, v in f["result"]["data"].items()}
        assert kpa == pytest.approx({ts: (101325.0 + i) / 1000 for i, ts in enumerate(IN_RANGE)})
        units = rpc(ws, "getUnits", {"metrics": ["P_raw", "T"]}, 3)["result"]
        pressure = {u["id"] for u in units["P_raw"]}
        assert {"Pa", "kPa", "psi"} <= pressure and "m" not in pressure
        assert {u["id"] for u in units["T"]} >= {"C", "F", "K"}
        query = {"sensor": SENSOR, "metric": "T", "unit": "F", "projectIds": [PROJECT]}
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "getData",
                            "params": {**query, "limit": {"function": "last", "params": {"size": 1}}}}))
        (last,), _ = streamed(ws, 4)
        assert last["result"]["data"] == {OUT_OF_RANGE[-1]: pytest.approx((20.0 + 4) * 9 / 5 + 32)}
        summary = rpc(ws, "getObservationsSummary", {**query, "unit": "K"}, 5)["result"]
        assert summary == {"first": {OUT_OF_RANGE[0]: pytest.approx(20.0 + 3 + 273.15)},
                           "last": {OUT_OF_RANGE[1]: pytest.approx(20.0 + 4 + 273.15)}}
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "getObservations",
                            "params": {"sensor": SENSOR, "projectIds": [PROJECT], "startDate": IN_RANGE[0],
                                       "endDate": IN_RANGE[0]}}))
        frames, final = streamed(ws, 6)
        assert frames[0]["result"]["data"] == {IN_RANGE[0]: {"P_raw": 101325.0, "T": 20.0}}
        bad_unit = rpc(ws, "getData", {**query, "unit": "m"}, 7)
        assert bad_unit["error"]["code"] == -32602 and bad_unit["error"]["data"]["field"] == "unit"


def test_entities_create_get_update_and_their_errors(platform: Platform, org: tuple[str, str]) -> None:
    with open_rpc(platform, org[1]) as ws:
        make_sensor(ws, project=None)
        again = rpc(ws, "createNode", {"node": NODE, "type": "DYNAMIC", "props": {}}, 5)
        assert again["error"]["code"] == -32009 and again["id"] == 5
        orphan = rpc(ws, "createDevice", {"device": "/x/node/d/1/device", "props": {"NODE_ID": "/x/node"}}, 6)
        assert orphan["error"]["code"] == -32004 and orphan["error"]["data"]["field"] == "props.NODE_ID"
        no_node = rpc(ws, "createDevice", {"device": "/x/node/d/1/device", "props": {}}, 7)
        assert no_node["error"]["code"] == -32602 and no_node["error"]["data"]["field"] == "props.NODE_ID"
        no_device = rpc(ws, "createSensor", {"sensor": "/x/node/d/1/device/s/sensor", "type": "T"}, 8)
        assert no_device["error"]["code"] == -32004 and no_device["error"]["data"]["field"] == "device"
        updated = rpc(ws, "updateSensor", {"sensor": SENSOR, "props": {"NAME": "renamed", "MODEL": None}}, 9)
        assert updated["result"]["props"]["NAME"] == "renamed" and "MODEL" not in updated["result"]["props"]
        node = rpc(ws, "updateNode", {"node": NODE, "props": {"VERSION": "v5"}}, 10)["result"]
        assert node["props"]["VERSION"] == "v5" and node["type"] == "DYNAMIC"
        own = rpc(ws, "updateDevice", {"device": DEVICE, "props": {"PROJECT_ID": "other"}}, 11)
        assert own["error"]["code"] == -32602 and own["error"]["data"]["field"] == "props.PROJECT_ID"
        assert [n["id"] for n in rpc(ws, "getNodes", {"nodes": [NODE]}, 12)["result"]] == [NODE]
        assert [d["id"] for d in rpc(ws, "getDevices", {"nodes": [NODE]}, 13)["result"]] == [DEVICE]
        assert rpc(ws, "getDevices", {"nodes": ["/other/node"]}, 14)["result"] == []
        sensors = rpc(ws, "getSensors", {"devices": [DEVICE], "types": ["DYNAMIC"]}, 15)["result"]
        assert [(s["id"], s["props"]["NAME"]) for s in sensors] == [(SENSOR, "renamed")]
        assert rpc(ws, "getSensors", {"sensors": ["/no/such/sensor"]}, 16)["result"] == []
        two = rpc(ws, "getSensors", {"projectIds": ["a", "b"]}, 17)
        assert two["error"]["code"] == -32602 and two["error"]["data"] == {"field": "projectIds"}


def test_raw_metrics_by_sensor_and_by_type(platform: Platform, org: tuple[str, str]) -> None:
    with open_rpc(platform, org[1]) as ws:
        make_sensor(ws)
        rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": IN_RANGE[0],
                                         "values": {"T": 1.0, "P_raw": 2.0}}], "projectIds": [PROJECT]}, 5)
        raw = rpc(ws, "getRawMetrics", {"sensors": [SENSOR], "projectIds": [PROJECT]}, 6)["result"]
        assert raw == rpc(ws, "getMetrics", {"sensors": [SENSOR], "projectIds": [PROJECT]}, 7)["result"]
        assert [(m["id"], m["defaultUnit"], m["params"]) for m in raw[SENSOR]] == [("P_raw", "Pa", []), ("T", "C", [])]
        typed = rpc(ws, "getRawMetrics", {"types": ["TEMPERATURE_SDE", "NO_SUCH_TYPE"]}, 8)["result"]
        assert [m["id"] for m in typed["TEMPERATURE_SDE"]] == ["T"] and typed["NO_SUCH_TYPE"] == []
        neither = rpc(ws, "getRawMetrics", {}, 9)["error"]
        assert neither["code"] == -32602 and neither["data"]["field"] == "sensors"


def test_a_sensor_deleted_through_the_native_api_is_gone_and_its_id_free(
        platform: Platform, org: tuple[str, str]) -> None:
    with open_rpc(platform, org[1]) as ws:
        make_sensor(ws)
        station = _device_station(platform, org[1], PROJECT)
        with platform.client(org[1]) as api:
            assert api.delete(f"/v1/stations/{station}/buckets/{SENSOR.replace('/', ':')}").status_code == 200
        assert rpc(ws, "getSensors", {"projectIds": [PROJECT]}, 5)["result"] == []
        gone = rpc(ws, "getObservationsSummary", {"sensor": SENSOR, "metric": "T", "projectIds": [PROJECT]}, 6)
        assert gone["error"]["code"] == -32004
        again = rpc(ws, "createSensor", {"sensor": SENSOR, "type": "STATIC", "props": {"NAME": "second"},
                                         "projectIds": [PROJECT]}, 7)
        assert again["result"]["id"] == SENSOR and again["result"]["type"] == "STATIC", again
        twice = rpc(ws, "createSensor", {"sensor": SENSOR, "type": "STATIC", "projectIds": [PROJECT]}, 8)
        assert twice["error"]["code"] == -32009
        (found,) = rpc(ws, "getSensors", {"projectIds": [PROJECT]}, 9)["result"]
        assert (found["type"], found["props"]["NAME"]) == ("STATIC", "second")


def test_every_json_rpc_error_code_and_the_connection_stays_open(platform: Platform) -> None:
    with connect(itwin_url(platform)) as ws:
        early = rpc(ws, "getSensors", {}, 1)
        assert early["error"]["code"] == -32001 and early["id"] == 1
        bad = rpc(ws, "authenticate", {"code": "not-a-key"}, 2)
        assert bad["error"]["code"] == -32001 and bad["error"]["data"] == {"field": "code"}
        jwt = rpc(ws, "authenticate", {"code": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}, 3)
        assert jwt["error"]["code"] == -32001
        assert rpc(ws, "authenticate", {}, 4)["error"]["code"] == -32602
        assert rpc(ws, "authenticate", {"code": platform.key}, 5)["result"] == {"nextId": 6}
        ws.send("{oops")
        parse = recv(ws)
        assert parse["error"]["code"] == -32700 and parse["id"] is None
        ws.send(json.dumps({"id": 6, "method": "time"}))
        assert recv(ws)["error"]["code"] == -32600
        ws.send("[]")
        assert recv(ws)["error"]["code"] == -32600
        assert rpc(ws, "noSuchMethod", {}, 7)["error"] == {"code": -32601, "data": {"method": "noSuchMethod"},
                                                          "message": "no method 'noSuchMethod'; `help` lists them"}
        params = rpc(ws, "getData", {"metric": "P_raw"}, 8)
        assert params["error"]["code"] == -32602 and params["error"]["data"] == {"field": "sensor"}
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "getSensors", "params": [1]}))
        assert recv(ws)["error"]["code"] == -32602
        assert rpc(ws, "time", None, 10)["id"] == 10  # still open after every bad frame


def test_a_notification_gets_no_answer_and_a_batch_gets_an_array(platform: Platform) -> None:
    with open_rpc(platform, platform.key) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "time"}))
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "noSuchMethod"}))
        assert rpc(ws, "time", None, 1)["id"] == 1  # the next frame answers the request, not the notifications
        ws.send(json.dumps([{"jsonrpc": "2.0", "id": 2, "method": "time"}, {"jsonrpc": "2.0", "method": "time"},
                            {"jsonrpc": "2.0", "id": 3, "method": "nope"}, 5]))
        answers = recv(ws)
        assert isinstance(answers, list) and [a["id"] for a in answers] == [2, 3, None]
        assert "time" in answers[0]["result"] and answers[1]["error"]["code"] == -32601
        assert answers[2]["error"]["code"] == -32600
        ws.send(json.dumps([{"jsonrpc": "2.0", "method": "time"}]))
        assert rpc(ws, "help", None, 4)["result"]["getData"]["params"]["sensor"] == "string"


def _device_station(platform: Platform, key: str, project: str) -> str:
    """The native id of the seed device's station."""
    with platform.client(key) as api:
        pool = next(p for p in api.get("/v1/pools").json()["data"] if p.get("key") == project)
        return str(api.get(f"/v1/pools/{pool['id']}/stations", params={"key": DEVICE}).json()["data"][0]["id"])


def _stream_id(platform: Platform, key: str, project: str, metric: str, sensor: str = SENSOR) -> str:
    station = _device_station(platform, key, project)
    with platform.client(key) as api:
        streams = api.get(f"/v1/stations/{station}/streams").json()["data"]
        return str(next(s["id"] for s in streams if s["bucket"] == sensor.replace("/", ":") and s["alias"] == metric))


def _live(ws: Connection, quiet_s: float = 0.5) -> list[dict[str, Any]]:
    found = []
    while True:
        try:
            found.append(recv(ws, quiet_s))
        except TimeoutError:
            return found


def test_subscribe_data_gets_uploads_native_pushes_and_mqtt_in_its_unit(
        platform: Platform, org: tuple[str, str]) -> None:
    with open_rpc(platform, org[1]) as writer, open_rpc(platform, org[1]) as reader:
        make_sensor(writer)
        subscribed = rpc(reader, "subscribeData", {"sensors": [SENSOR], "metric": "T", "unit": "F", "params": {},
                                                   "projectIds": [PROJECT]}, "sub-1")
        assert subscribed["result"] == {"subscriptionId": "sub-1", "sensors": [SENSOR]}
        upload = [{"sensorId": SENSOR, "timestamp": "2026-01-01T00:00:00.000Z", "values": {"T": 100.0, "P_raw": 1.0}}]
        assert rpc(writer, "uploadData", {"data": upload}, 5)["result"] == {"successfullyProcessedObs": 2}
        platform.drain()
        assert _live(reader) == [{"jsonrpc": "2.0", "id": "sub-1", "result": {
            "sensor": SENSOR, "data": {"2026-01-01T00:00:00.000Z": pytest.approx(212.0)}}}]
        stream = _stream_id(platform, org[1], PROJECT, "T")
        with platform.client(org[1]) as api:
            pushed = api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": "2026-01-01T00:01:00.000Z",
                                                                        "value": 0.0}])
            assert pushed.status_code in (200, 201, 202), pushed.text
        platform.drain()
        (update,) = _live(reader)
        assert update["id"] == "sub-1" and update["result"]["data"] == {"2026-01-01T00:01:00.000Z": 32.0}
        station = _device_station(platform, org[1], PROJECT)
        with platform.client(org[1]) as api:
            secret = api.post(f"/v1/stations/{station}/secret").json()["password"]
        mqtt_publish(platform, station, secret, [{"id": "T", "value": -40.0, "timestamp": "2026-01-01T00:01:30.000Z"}],
                     bucket=SENSOR.replace("/", ":"))
        deadline = time.monotonic() + 15
        updates: list[dict[str, Any]] = []
        while not updates and time.monotonic() < deadline:
            platform.drain()
            updates = _live(reader, 0.2)
        assert [u["result"]["data"] for u in updates] == [{"2026-01-01T00:01:30.000Z": -40.0}]
        assert rpc(reader, "unsubscribeData", {"id": "sub-1"}, 6)["result"] == {"unsubscribed": "sub-1"}
        assert rpc(reader, "unsubscribeData", {"id": "sub-1"}, 7)["error"]["code"] == -32004
        rpc(writer, "uploadData", {"data": [{**upload[0], "timestamp": "2026-01-01T00:02:00.000Z"}]}, 8)
        platform.drain()
        assert _live(reader) == []


def test_another_organisation_sees_none_of_it(platform: Platform, org: tuple[str, str]) -> None:
    other = platform.create_org(f"itwin-other-{uuid.uuid4().hex[:6]}")
    with open_rpc(platform, org[1]) as ws:
        make_sensor(ws)
        rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": IN_RANGE[0], "values": {"P_raw": 1.0}}]}, 5)
    with open_rpc(platform, other[1]) as ws:
        ws.send(SEED_GET_SENSORS)
        assert recv(ws)["result"] == []
        unknown = rpc(ws, "getNodes", {"projectIds": [PROJECT]}, 2)["error"]  # its projects are its own
        assert unknown["code"] == -32004 and unknown["data"]["field"] == "projectIds"
        assert rpc(ws, "getSensors", {}, 3)["result"] == []
        ws.send(SEED_GET_DATA)
        assert recv(ws)["error"]["code"] == -32004
        assert rpc(ws, "getMetrics", {"sensors": [SENSOR]}, 4)["error"]["code"] == -32004
        sub = rpc(ws, "subscribeData", {"sensors": [SENSOR], "metric": "P_raw", "projectIds": [PROJECT]}, 5)
        assert sub["error"]["code"] == -32004
        upload = rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": IN_RANGE[1],
                                                  "values": {"P_raw": 2.0}}]}, 6)
        assert upload["error"]["code"] == -32004 and upload["error"]["data"]["field"] == "data[0].sensorId"


BIG = 100_000
PUSH = 10_000


@pytest.mark.slow
def test_get_data_of_100000_observations_streams_complete_in_order() -> None:
    """On a runtime of its own: the rollups and stream work 100,000 intervals leave behind would
    otherwise slow the shared runtime's later tests (a scheduled rollup run of them takes minutes)."""
    with start_platform("--no-mqtt", "--no-scheduler", "--stream-poll-interval", "3600") as own, \
            open_rpc(own, own.key) as ws:
        make_sensor(ws)
        rpc(ws, "uploadData", {"data": [{"sensorId": SENSOR, "timestamp": "2020-01-01T00:00:00.000Z",
                                         "values": {"P_raw": 0.0}}], "projectIds": [PROJECT]}, 5)
        stream = _stream_id(own, own.key, PROJECT, "P_raw")
        base = 1_600_000_000_000  # 2020-09-13
        with httpx.Client(base_url=own.url, headers={"Authorization": f"ApiKey {own.key}"}, timeout=120) as api:
            for start in range(0, BIG, PUSH):
                body = [{"timestamp": base + 1000 * i, "value": float(i)} for i in range(start, start + PUSH)]
                assert api.post(f"/v1/streams/{stream}/intervals", json=body).status_code < 300
        started = time.monotonic()
        rpc_frame = {"jsonrpc": "2.0", "id": 6, "method": "getData", "params": {
            "sensor": SENSOR, "metric": "P_raw", "unit": "Pa", "projectIds": [PROJECT],
            "startDate": "2020-09-01T00:00:00.000Z"}}
        ws.send(json.dumps(rpc_frame))
        frames, final = streamed(ws, 6, timeout=90)
        elapsed = time.monotonic() - started
    assert final["result"] == {"requestStatus": "finished"}
    values = [v for f in frames for v in f["result"]["data"].values()]
    stamps = [ts for f in frames for ts in f["result"]["data"]]
    assert values == [float(i) for i in range(BIG)] and stamps == sorted(stamps) and len(set(stamps)) == BIG
    assert len(frames) > 1 and elapsed < 90, (len(frames), elapsed)


def test_a_sensor_integrated_over_rest_streams_its_rest_uploads_to_get_data_and_subscribers(
        platform: Platform, org: tuple[str, str]) -> None:
    """The two faces are one platform: integrate and upload over iTwin REST, read over JSON-RPC and /v1."""
    with httpx.Client(base_url=f"{platform.url}/itwin/api", headers={"Authorization": f"ApiKey {org[1]}"},
                      timeout=30) as it:
        integrated = it.post("/integrations/integrate", json=REST_SIMPLE)
        assert integrated.status_code == 200, integrated.text
        device = integrated.json()["integration"]["devices"][0]
        sensor = device["sensors"][0]["id"]
        with open_rpc(platform, org[1]) as reader:
            subscribed = rpc(reader, "subscribeData", {"sensors": [sensor], "metric": "Alignment_Left_SD",
                                                       "unit": "m", "params": {}}, 40)
            assert subscribed["result"]["subscriptionId"] == 40, subscribed
            observations = [{"sensorId": sensor, "timestamp": f"2024-02-20T04:3{i}:23.653Z",
                             "values": {"Alignment_Left_SD": 230.0 + i, "Alignment_Right_SD": 840.0}}
                            for i in range(3)]
            uploaded = it.post("/data/upload", json={"observations": observations})
            assert uploaded.status_code == 202, uploaded.text
            platform.drain()
            updates = _live(reader)
            live_data = {ts: v for u in updates for ts, v in u["result"]["data"].items()}
            assert all(u["id"] == 40 for u in updates)
            expected_m = {o["timestamp"]: pytest.approx(o["values"]["Alignment_Left_SD"] / 1000) for o in observations}
            assert live_data == expected_m
            reader.send(json.dumps({"jsonrpc": "2.0", "id": 41, "method": "getData", "params": {
                "sensor": sensor, "metric": "Alignment_Left_SD", "unit": "millimeter", "params": {}}}))
            frames, final = streamed(reader, 41)
    assert final["result"] == {"requestStatus": "finished"}
    assert {ts: v for f in frames for ts, v in f["result"]["data"].items()} == {
        o["timestamp"]: o["values"]["Alignment_Left_SD"] for o in observations}
    with platform.client(org[1]) as api:
        pool = next(p for p in api.get("/v1/pools").json()["data"] if p.get("key") == "default")
        station = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": device["device"]["id"]}).json()["data"][0]
        stream = api.get(f"/v1/stations/{station['id']}/streams",
                         params={"alias": "Alignment_Left_SD", "bucket": sensor.replace("/", ":")}).json()["data"][0]
        raw = api.get(f"/v1/streams/{stream['id']}/intervals").json()["data"]
    assert [(r["timestamp"], r["value"]) for r in raw] == [
        (o["timestamp"], o["values"]["Alignment_Left_SD"]) for o in observations]
