"""The WebSocket door against the local runtime, with the real `websockets` client (issue 20).

Live updates come from the `changes` function reading the intervals table's stream, so after a
push the tests `drain()` the stream: by the time it returns, every `post_to_connection` has been
answered, i.e. the frames are on the sockets.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.integration.conftest import Platform, start_platform

BASE_MS = 1_780_000_000_000  # 2026-05-28T20:26:40Z
HOUR_MS = 3_600_000
MAX_MESSAGE = 128 * 1024


def open_ws(platform: Platform, key: str | None = None, *, header: bool = False) -> ClientConnection:
    assert platform.ws_url, "the local runtime wrote no WATERSHED_NATIVE_WS_URL"
    key = key or platform.key
    if header:
        return connect(platform.ws_url, additional_headers={"Authorization": f"ApiKey {key}"}, max_size=2**21)
    return connect(f"{platform.ws_url}?key={key}", max_size=2**21)


def ask(ws: ClientConnection, frame: dict[str, Any] | str) -> dict[str, Any]:
    ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    answer: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return answer


def live_frames(ws: ClientConnection, quiet_s: float = 0.3) -> list[dict[str, Any]]:
    """Every live message waiting on the socket, `batch` frames opened up, until it is quiet."""
    found: list[dict[str, Any]] = []
    while True:
        try:
            raw = ws.recv(timeout=quiet_s)
        except TimeoutError:
            return found
        assert len(raw.encode() if isinstance(raw, str) else raw) <= MAX_MESSAGE
        frame = json.loads(raw)
        found.extend(frame["messages"] if frame["type"] == "batch" else [frame])


def points(frames: list[dict[str, Any]], stream: str) -> list[tuple[str, Any]]:
    return [(p["timestamp"], p["value"]) for f in frames if f["type"] == "intervals" and f["stream"] == stream
            for p in f["data"]]


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


@pytest.fixture
def site(api: httpx.Client) -> dict[str, Any]:
    """A pool with a station (MQTT secret) and two float streams, `temp` and `hum`, in bucket `sensors`."""
    pool = api.post("/v1/pools", json={"name": f"ws-{uuid.uuid4().hex[:6]}"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gateway"}).json()
    secret = api.post(f"/v1/stations/{station['id']}/secret").json()["password"]
    streams = [
        api.post(f"/v1/stations/{station['id']}/streams",
                 json={"name": alias, "type": "float", "alias": alias, "bucket": "sensors"}).json()
        for alias in ("temp", "hum")
    ]
    return {"pool": pool, "station": station, "secret": secret, "temp": streams[0]["id"], "hum": streams[1]["id"]}


def subscribe(ws: ClientConnection, **target: Any) -> str:
    answer = ask(ws, {"action": "subscribe", "id": "s", **target})
    assert answer["type"] == "subscribed", answer
    return str(answer["subscription"])


def mqtt_publish(platform: Platform, station: str, secret: str, payload: Any, bucket: str = "sensors") -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"thing:{station}", clean_session=True)
    client.username_pw_set(station, secret)
    assert platform.mqtt_host and platform.mqtt_port
    client.connect(platform.mqtt_host, platform.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        client.publish(f"things/{station}/data/{bucket}", json.dumps(payload).encode(), qos=1).wait_for_publish(15)
    finally:
        client.disconnect()
        client.loop_stop()


def drain_until(platform: Platform, api: httpx.Client, stream: str, count: int) -> None:
    """MQTT is asynchronous: wait until the stream holds `count` intervals, then drain the changes."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = api.get(f"/v1/streams/{stream}/intervals", params={"start": 0, "limit": 1000}).json()["data"]
        if len(found) >= count:
            break
        time.sleep(0.05)
    platform.drain()


# --- live intervals from every door ---------------------------------------------------------------


def test_pushes_over_rest_mqtt_and_websocket_each_arrive_once_in_order(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    with open_ws(platform) as ws, open_ws(platform, header=True) as pusher:
        subscribe(ws, streams=[site["temp"], site["hum"]])
        rest = [{"timestamp": BASE_MS + i * 1000, "value": float(i)} for i in range(3)]
        assert api.post(f"/v1/streams/{site['temp']}/intervals", json=rest).json() == {"accepted": 3}
        platform.drain()
        mqtt_items = [{"id": "temp", "value": 10.0 + i, "timestamp": BASE_MS + (3 + i) * 1000} for i in range(2)]
        mqtt_publish(platform, site["station"]["id"], site["secret"], mqtt_items)
        drain_until(platform, api, site["temp"], 5)
        ws_items = [{"timestamp": BASE_MS + (5 + i) * 1000, "value": 20.0 + i} for i in range(2)]
        assert ask(pusher, {"action": "push", "id": "p1", "stream": site["temp"], "data": ws_items}) == {
            "id": "p1", "type": "accepted", "accepted": 2}
        across = [{"stream": site["hum"], "timestamp": BASE_MS, "value": 55.0},
                  {"stream": site["temp"], "timestamp": BASE_MS + 7000, "value": 30.0}]
        assert ask(pusher, {"action": "push", "id": "p2", "data": across})["accepted"] == 2
        platform.drain()
        frames = live_frames(ws)
        assert live_frames(pusher) == []  # the pusher subscribed to nothing
    expected = [(iso(BASE_MS + i * 1000), v) for i, v in
                enumerate([0.0, 1.0, 2.0, 10.0, 11.0, 20.0, 21.0, 30.0])]
    assert points(frames, site["temp"]) == expected
    assert points(frames, site["hum"]) == [(iso(BASE_MS), 55.0)]
    assert all(f["subscription"] for f in frames)


def test_a_station_or_pool_subscription_covers_its_streams(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    with open_ws(platform) as ws:
        by_station = ask(ws, {"action": "subscribe", "id": "a", "station": site["station"]["id"]})
        by_pool = ask(ws, {"action": "subscribe", "id": "b", "pool": site["pool"]["id"]})
        assert sorted(by_station["streams"]) == sorted(by_pool["streams"]) == sorted([site["temp"], site["hum"]])
        api.post(f"/v1/streams/{site['hum']}/intervals", json=[{"timestamp": BASE_MS, "value": 1}])
        platform.drain()
        frames = live_frames(ws)
    assert sorted(f["subscription"] for f in frames) == sorted([by_station["subscription"], by_pool["subscription"]])


def test_one_message_per_connection_per_batch(platform: Platform, api: httpx.Client, site: dict[str, Any]) -> None:
    with open_ws(platform) as ws:
        subscribe(ws, streams=[site["temp"]])
        subscribe(ws, streams=[site["hum"]])
        api.post("/v1/intervals", json=[{"stream": s, "timestamp": BASE_MS + i, "value": i}
                                         for i in range(50) for s in (site["temp"], site["hum"])])
        platform.drain()
        raw = []
        while True:
            try:
                raw.append(json.loads(ws.recv(timeout=0.3)))
            except TimeoutError:
                break
    assert len(raw) == 1 and raw[0]["type"] == "batch"
    assert sorted(len(m["data"]) for m in raw[0]["messages"]) == [50, 50]


def test_updates_over_128_kb_are_chunked(platform: Platform, api: httpx.Client, site: dict[str, Any]) -> None:
    stream = api.post(f"/v1/stations/{site['station']['id']}/streams", json={"name": "log", "type": "string"}).json()
    values = [f"{i:04d}" + "x" * 2000 for i in range(150)]  # ~300 KB in one batch
    with open_ws(platform) as ws:
        subscribe(ws, streams=[stream["id"]])
        api.post(f"/v1/streams/{stream['id']}/intervals",
                 json=[{"timestamp": BASE_MS + i, "value": v} for i, v in enumerate(values)])
        platform.drain()
        frames = live_frames(ws)  # asserts each message is at most 128 KB
    assert len(frames) >= 3
    assert [v for _, v in points(frames, stream["id"])] == values


# --- aggregates ---------------------------------------------------------------------------------


def test_an_aggregate_subscription_gets_the_recomputed_bucket(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    rng = random.Random(20)
    start = BASE_MS - BASE_MS % HOUR_MS
    sent: list[float] = []
    with open_ws(platform) as ws:
        subscription = subscribe(ws, streams=[site["temp"]],
                                 aggregate={"period": "1h", "fn": "avg,min,max,sum,count,first,last"})
        for _ in range(2):
            batch = [{"timestamp": start + rng.randrange(HOUR_MS), "value": round(rng.uniform(-50, 50), 3)}
                     for _ in range(40)]
            api.post(f"/v1/streams/{site['temp']}/intervals", json=batch)
            platform.drain()
            stored = api.get(f"/v1/streams/{site['temp']}/intervals",
                             params={"start": start, "end": start + HOUR_MS, "limit": 1000}).json()["data"]
            sent = [p["value"] for p in stored]
            frames = [f for f in live_frames(ws) if f["type"] == "aggregates"]
            assert [f["subscription"] for f in frames] == [subscription]
            (row,) = frames[-1]["data"]
            assert row["timestamp"] == iso(start)
            assert row["count"] == len(sent)
            assert row["sum"] == pytest.approx(sum(sent))
            assert row["avg"] == pytest.approx(sum(sent) / len(sent))
            assert (row["min"], row["max"]) == (min(sent), max(sent))
            assert (row["first"], row["last"]) == (sent[0], sent[-1])


# --- subscriptions end ----------------------------------------------------------------------------


def test_unsubscribe_stops_messages(platform: Platform, api: httpx.Client, site: dict[str, Any]) -> None:
    with open_ws(platform) as ws:
        subscription = subscribe(ws, streams=[site["temp"]])
        assert ask(ws, {"action": "unsubscribe", "id": "u", "subscription": subscription}) == {
            "id": "u", "type": "unsubscribed", "subscription": subscription}
        again = ask(ws, {"action": "unsubscribe", "id": "u2", "subscription": subscription})
        assert (again["type"], again["code"], again["field"]) == ("error", "not_found", "subscription")
        api.post(f"/v1/streams/{site['temp']}/intervals", json=[{"timestamp": BASE_MS, "value": 1}])
        platform.drain()
        assert live_frames(ws) == []


def _connections(platform: Platform) -> set[str]:
    door = platform.ws_url.rsplit("/", 1)[0].replace("ws://", "http://") if platform.ws_url else ""
    return set(httpx.get(f"{door}/_local/connections").json()["data"])


def _control(platform: Platform, method: str, path: str) -> httpx.Response:
    assert platform.ws_url
    door = platform.ws_url.rsplit("/", 1)[0].replace("ws://", "http://")
    return httpx.request(method, f"{door}/_local/connections{path}")


def test_a_closed_connection_is_cleaned_up(platform: Platform, api: httpx.Client, site: dict[str, Any]) -> None:
    before = _connections(platform)
    ws = open_ws(platform)
    subscribe(ws, streams=[site["temp"], site["hum"]])
    (connection,) = _connections(platform) - before
    assert _control(platform, "GET", f"/{connection}").json()["items"] == 3
    ws.close()
    deadline = time.monotonic() + 10
    while _control(platform, "GET", f"/{connection}").json()["items"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _control(platform, "GET", f"/{connection}").json() == {"id": connection, "open": False, "items": 0}


def test_a_client_that_disappears_is_removed_on_gone(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    """Its $disconnect never ran: the fan-out's post answers GoneException, and that removes it."""
    before = _connections(platform)
    lost = open_ws(platform)
    subscribe(lost, streams=[site["temp"]])
    (connection,) = _connections(platform) - before
    with open_ws(platform) as alive:
        subscribe(alive, streams=[site["temp"]])
        assert _control(platform, "POST", f"/{connection}/drop").status_code == 204
        with pytest.raises(ConnectionClosed):
            lost.recv(timeout=5)
        lost.close()
        assert _control(platform, "GET", f"/{connection}").json()["items"] == 2
        api.post(f"/v1/streams/{site['temp']}/intervals", json=[{"timestamp": BASE_MS, "value": 1}])
        platform.drain()
        assert points(live_frames(alive), site["temp"]) == [(iso(BASE_MS), 1)]
    assert _control(platform, "GET", f"/{connection}").json()["items"] == 0


# --- authorization ------------------------------------------------------------------------------


def test_connect_needs_a_valid_key_in_the_header_or_the_query(platform: Platform) -> None:
    assert platform.ws_url
    for url in (platform.ws_url, f"{platform.ws_url}?key=wsk_nope", f"{platform.ws_url}?token=not.a.jwt"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url)
        assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as bad_header:
        connect(platform.ws_url, additional_headers={"Authorization": "ApiKey wsk_nope"})
    assert bad_header.value.response.status_code == 401
    with open_ws(platform, header=True) as ws:
        assert ask(ws, {"action": "ping", "id": 7}) == {"id": 7, "type": "pong"}


def test_another_organisations_ids_answer_an_error_and_leak_nothing(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    _, other_key = platform.create_org(f"other-{uuid.uuid4().hex[:6]}")
    with open_ws(platform, other_key) as intruder:
        answers = [
            ask(intruder, {"action": "subscribe", "id": 1, "streams": [site["temp"]]}),
            ask(intruder, {"action": "subscribe", "id": 2, "station": site["station"]["id"]}),
            ask(intruder, {"action": "subscribe", "id": 3, "pool": site["pool"]["id"]}),
            ask(intruder, {"action": "push", "id": 4, "stream": site["temp"],
                           "data": [{"timestamp": BASE_MS, "value": 1}]}),
            ask(intruder, {"action": "push", "id": 5, "data": [{"stream": site["temp"], "timestamp": BASE_MS,
                                                               "value": 1}]}),
            ask(intruder, {"action": "subscribe", "id": 6, "streams": [str(uuid.uuid4())]}),
        ]
        api.post(f"/v1/streams/{site['temp']}/intervals", json=[{"timestamp": BASE_MS, "value": 2}])
        platform.drain()
        assert live_frames(intruder) == []
    assert [(a["type"], a["code"], a["field"]) for a in answers] == [
        ("error", "not_found", "streams[0]"), ("error", "not_found", "station"), ("error", "not_found", "pool"),
        ("error", "not_found", "stream"), ("error", "not_found", "data[0].stream"),
        ("error", "not_found", "streams[0]"),
    ]
    assert answers[0]["message"] == answers[5]["message"]  # a foreign id reads like a missing one
    assert api.get(f"/v1/streams/{site['temp']}/intervals", params={"start": 0}).json()["data"] == [
        {"timestamp": iso(BASE_MS), "value": 2.0}]


def test_a_read_key_subscribes_but_cannot_push_and_a_pool_key_sees_only_its_pools(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    read_key = api.post("/v1/keys", json={"name": "reader", "scopes": ["read"]}).json()["key"]
    other_pool = api.post("/v1/pools", json={"name": "elsewhere"}).json()["id"]
    pool_key = api.post("/v1/keys", json={"name": "pooled", "scopes": ["write"], "pools": [other_pool]}).json()["key"]
    with open_ws(platform, read_key) as reader, open_ws(platform, pool_key) as pooled:
        subscribe(reader, streams=[site["temp"]])
        refused = ask(reader, {"action": "push", "id": "w", "stream": site["temp"],
                               "data": [{"timestamp": BASE_MS, "value": 1}]})
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        hidden = ask(pooled, {"action": "subscribe", "id": "h", "streams": [site["temp"]]})
        assert (hidden["code"], hidden["field"]) == ("not_found", "streams[0]")
        assert ask(pooled, {"action": "subscribe", "id": "p", "pool": site["pool"]["id"]})["code"] == "not_found"
        assert ask(pooled, {"action": "subscribe", "id": "o", "pool": other_pool})["type"] == "subscribed"
    assert api.get(f"/v1/streams/{site['temp']}/intervals", params={"start": 0}).json()["data"] == []


# --- bad frames -----------------------------------------------------------------------------------


BAD_FRAMES: list[tuple[Any, str | None]] = [
    ("not json", None),
    ("[1, 2]", None),
    ('{"action": "dance"}', "action"),
    ('{"id": "x"}', "action"),
    ('{"action": 5}', "action"),
    ('{"action": "ping", "id": {"a": 1}}', "id"),
    ('{"action": "subscribe", "streams": "abc"}', "streams"),
    ('{"action": "subscribe", "streams": [5]}', "streams[0]"),
    ('{"action": "subscribe", "streams": []}', "streams"),
    ('{"action": "subscribe", "station": 1}', "station"),
    ('{"action": "subscribe", "streams": ["a"], "pool": "b"}', "streams"),
    ('{"action": "subscribe", "streams": ["a"], "colour": "red"}', "colour"),
    ('{"action": "unsubscribe"}', "subscription"),
    ('{"action": "push", "stream": "s"}', "data"),
    ('{"action": "push", "data": {"a": 1}}', "data"),
    ('{"action": "push", "data": [{"timestamp": 1}]}', "data[0].stream"),
    ('{"action": "push", "data": [1]}', "data[0]"),
    ('{"action": "ping", "extra": NaN}', None),
]


def test_bad_frames_get_errors_and_the_connection_stays_open(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    with open_ws(platform) as ws:
        for frame, field in BAD_FRAMES:
            answer = ask(ws, frame)
            assert answer["type"] == "error", (frame, answer)
            assert answer["code"] in ("invalid_request", "not_found"), (frame, answer)
            assert answer["field"] == field, (frame, answer)
        ws.send(b"\x00\xff binary")
        assert json.loads(ws.recv(timeout=10))["type"] == "error"
        bad_aggregate = ask(ws, {"action": "subscribe", "streams": [site["temp"]], "aggregate": {"period": "7s"}})
        assert (bad_aggregate["code"], bad_aggregate["field"]) == ("invalid_request", "aggregate.period")
        bad_value = ask(ws, {"action": "push", "id": "v", "stream": site["temp"],
                             "data": [{"timestamp": BASE_MS, "value": 1}, {"timestamp": BASE_MS + 1, "value": "x"}]})
        assert (bad_value["id"], bad_value["field"]) == ("v", "data[1].value")
        assert ask(ws, {"action": "ping"})["type"] == "pong"
    assert api.get(f"/v1/streams/{site['temp']}/intervals", params={"start": 0}).json()["data"] == []


def test_a_flood_and_a_1_mb_frame_never_touch_another_client(
    platform: Platform, api: httpx.Client, site: dict[str, Any]
) -> None:
    with open_ws(platform) as bystander, open_ws(platform) as flooder, open_ws(platform) as big:
        subscribe(bystander, streams=[site["temp"]])
        rng = random.Random(7)
        frames = [rng.choice(["{", "null", '{"action":"x"}', '{"action":"subscribe","streams":7}',
                              json.dumps({"action": "ping", "id": i})]) for i in range(1000)]
        started = time.monotonic()
        for frame in frames:
            flooder.send(frame)
        answers = [json.loads(flooder.recv(timeout=30)) for _ in frames]
        elapsed = time.monotonic() - started
        assert len(answers) == 1000 and all(a["type"] in ("error", "pong") for a in answers)
        assert elapsed < 60  # bounded, not a timing claim: the figures are in make bench
        big.send("x" * (1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            big.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        api.post(f"/v1/streams/{site['temp']}/intervals", json=[{"timestamp": BASE_MS, "value": 3}])
        platform.drain()
        assert points(live_frames(bystander), site["temp"]) == [(iso(BASE_MS), 3)]
        assert ask(flooder, {"action": "ping", "id": "still"}) == {"id": "still", "type": "pong"}


# --- the door itself --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impatient() -> Iterator[Platform]:
    """A second runtime whose WebSocket door closes idle connections after one second."""
    with start_platform("--ws-idle-timeout", "1", "--no-mqtt") as running:
        yield running


def test_an_idle_connection_is_closed_after_the_idle_timeout(impatient: Platform) -> None:
    with open_ws(impatient) as ws:
        assert ask(ws, {"action": "ping"})["type"] == "pong"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


def test_the_runtime_prints_the_websocket_url(impatient: Platform) -> None:
    assert impatient.log_file and impatient.ws_url and impatient.ws_url.endswith("/ws")
    assert f"WebSocket at {impatient.ws_url}\n" in impatient.log_file.read_text()


def test_an_unknown_path_is_refused(platform: Platform) -> None:
    assert platform.ws_url
    with pytest.raises(InvalidStatus) as refused:
        connect(platform.ws_url.rsplit("/", 1)[0] + f"/nowhere?key={platform.key}")
    assert refused.value.response.status_code == 404


def test_the_connections_api_answers_the_boto3_client_as_api_gateway_does(platform: Platform) -> None:
    import boto3

    assert platform.ws_url
    door = platform.ws_url.rsplit("/", 1)[0].replace("ws://", "http://")
    client = boto3.client("apigatewaymanagementapi", endpoint_url=f"{door}/_connections/native_ws",
                          region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    before = _connections(platform)
    with open_ws(platform) as ws:
        (connection,) = _connections(platform) - before
        client.post_to_connection(ConnectionId=connection, Data=b'{"hello": 1}')
        assert json.loads(ws.recv(timeout=5)) == {"hello": 1}
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=connection, Data=b"x" * (MAX_MESSAGE + 1))
        client.post_to_connection(ConnectionId=connection, Data=b"x" * MAX_MESSAGE)
        assert len(ws.recv(timeout=5)) == MAX_MESSAGE
        info = client.get_connection(ConnectionId=connection)
        assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["ConnectedAt"]
        client.delete_connection(ConnectionId=connection)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection, Data=b"{}")
