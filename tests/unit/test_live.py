"""Live fan-out below the door: who gets what of a batch, and posting that never fails the batch."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from watershed.api import websocket
from watershed.model import Change, Principal, Stream
from watershed.services import catalog, live
from watershed.store import connections

TS = 1_780_000_000_000
ORG = Principal(org="org-1", scopes=frozenset({"read", "write"}))


@pytest.fixture
def stream(aws: None) -> Stream:
    station = {"id": "station-1", "org": "org-1", "pool": "pool-1"}
    return catalog.stream_from_doc(catalog.create_stream_in(station, {"name": "t", "type": "float"}))


def change(stream: Stream, ts: int, value: Any, op: str = "put", org: str = "org-1") -> Change:
    return Change(org=org, pool=stream.pool, station=stream.station, stream=stream.id, ts=ts, value=value, op=op,
                  at=TS)


def test_each_connection_gets_one_delivery_with_every_update(stream: Stream) -> None:
    live.connect("c1", ORG, "native_ws")
    first = live.subscribe("c1", ORG, "native_ws", [stream], None)
    second = live.subscribe("c1", ORG, "native_ws", [stream], live.Aggregate("1h", ("count",), None))
    live.connect("c2", ORG, "native_ws")
    live.subscribe("c2", ORG, "native_ws", [stream], None)
    batch = [change(stream, TS, 1.0), change(stream, TS + 1, 2.0), change(stream, TS, 3.0),
             change(stream, TS + 2, 4.0), change(stream, TS + 2, None, op="delete")]
    deliveries = {d.connection: d for d in live.deliveries(batch)}
    assert set(deliveries) == {"c1", "c2"}
    raw = [{"timestamp": TS, "value": 3.0}, {"timestamp": TS + 1, "value": 2.0}]
    by_subscription = {u.subscription: u for u in deliveries["c1"].updates}
    assert by_subscription[first].data == raw
    assert by_subscription[second].kind == "aggregates"
    assert [u.data for u in deliveries["c2"].updates] == [raw]
    assert deliveries["c1"].protocol == "native_ws"


def test_a_change_of_another_organisation_reaches_nobody(stream: Stream) -> None:
    live.subscribe("c1", ORG, "native_ws", [stream], None)
    assert live.deliveries([change(stream, TS, 1.0, org="org-2")]) == []


def test_unsubscribe_and_disconnect_remove_the_items(stream: Stream) -> None:
    live.connect("c1", ORG, "native_ws")
    subscription = live.subscribe("c1", ORG, "native_ws", [stream], None)
    assert connections.count_items("c1") == 2
    live.unsubscribe("c1", subscription)
    assert connections.subscribers(stream.id) == []
    with pytest.raises(Exception, match="subscription not found"):
        live.unsubscribe("c1", subscription)
    live.subscribe("c1", ORG, "native_ws", [stream], None)
    assert live.disconnect("c1") == 2
    assert connections.count_items("c1") == 0


class _Gateway(BaseHTTPRequestHandler):
    """A management endpoint: connection `gone` answers GoneException, the rest are recorded."""

    posted: list[tuple[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        connection = self.path.rsplit("/", 1)[-1]
        if connection == "gone":
            payload = b'{"message": null}'
            self.send_response(410)
            self.send_header("x-amzn-ErrorType", "GoneException")
        else:
            _Gateway.posted.append((connection, json.loads(body)))
            payload = b""
            self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(websocket.endpoint_env("native_ws"), f"http://127.0.0.1:{server.server_address[1]}")
    _Gateway.posted = []
    yield
    server.shutdown()


def test_gone_connections_are_removed_and_the_others_still_get_theirs(stream: Stream, endpoint: None) -> None:
    for connection in ("alive", "gone"):
        live.connect(connection, ORG, "native_ws")
        live.subscribe(connection, ORG, "native_ws", [stream], None)
    report = websocket.fan_out([change(stream, TS, 1.5)])
    assert (report.connections, report.messages, report.gone, report.failed) == (2, 1, 1, 0)
    assert [c for c, _ in _Gateway.posted] == ["alive"]
    assert _Gateway.posted[0][1]["data"] == [{"timestamp": "2026-05-28T20:26:40.000Z", "value": 1.5}]
    assert connections.count_items("gone") == 0
    assert connections.count_items("alive") == 2


def test_an_unreachable_endpoint_never_raises(stream: Stream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(websocket.endpoint_env("native_ws"), "http://127.0.0.1:9")
    monkeypatch.setattr(websocket, "_clients", {})
    live.subscribe("c1", ORG, "native_ws", [stream], None)
    report = websocket.fan_out([change(stream, TS, 1.0)])
    assert (report.messages, report.failed) == (0, 1)
    assert connections.count_items("c1") == 1  # a failure is not a Gone: the subscription stays


def test_the_connection_remembers_who_opened_it(aws: None) -> None:
    pooled = Principal(org="org-1", scopes=frozenset({"read"}), pools=frozenset({"p1"}), key_id="k1")
    live.connect("c1", pooled, "native_ws")
    assert live.principal_of("c1") == pooled
    live.disconnect("c1")
    with pytest.raises(Exception, match="Unauthorized"):
        live.principal_of("c1")


def test_an_answer_of_several_frames_is_posted_in_order(
    aws: None, endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a streamed result (iTwin's getData chunks) needs from the door."""
    import sys
    import types

    from local import events
    from local.runtime import LambdaContext
    from watershed.services import auth

    def chunks(session: websocket.Session, body: str) -> list[str]:
        return [json.dumps({"chunk": i, "to": session.connection}) for i in range(3)]

    protocol = types.ModuleType("watershed.protocols.chunked_test")
    protocol.handle = chunks  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "watershed.protocols.chunked_test", protocol)
    monkeypatch.setenv(websocket.endpoint_env("chunked_test"), os.environ[websocket.endpoint_env("native_ws")])
    handler = websocket.websocket_handler("chunked_test")
    event = events.websocket_message_event(route_key="$default", connection_id="c9", connected_at_ms=1, body="{}",
                                           authorizer=events.authorizer_context("k", auth.to_context(ORG)))
    assert handler(event, LambdaContext("ws_test", 128, 5)) == {"statusCode": 200}
    assert _Gateway.posted == [("c9", {"chunk": i, "to": "c9"}) for i in range(3)]


def test_a_failing_fan_out_never_fails_the_stream_batch(stream: Stream, monkeypatch: pytest.MonkeyPatch) -> None:
    """The changes function: posts that cannot be made still leave the batch successful and its buckets dirty."""
    import importlib.util

    import boto3

    from local.events import stream_batch, stream_record
    from local.runtime import LambdaContext
    from watershed import config
    from watershed.store import rollups

    boto3.client("s3").create_bucket(Bucket=config.LAKE_BUCKET)
    monkeypatch.setenv(websocket.endpoint_env("native_ws"), "http://127.0.0.1:9")
    monkeypatch.setattr(websocket, "_clients", {})
    live.subscribe("c1", ORG, "native_ws", [stream], live.Aggregate("1h", None, None))
    live.subscribe("c1", ORG, "native_ws", [stream], None)
    spec = importlib.util.spec_from_file_location("changes_handler", "functions/changes/handler.py")
    assert spec and spec.loader
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    keys = {"pk": {"S": stream.id}, "sk": {"N": str(TS)}}
    record = stream_record(event_name="INSERT", keys=keys, sequence_number="1",
                           stream_arn="arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
                           new_image={**keys, "v": {"S": "1.5"}})
    response = handler.lambda_handler(stream_batch([record]), LambdaContext("changes", 512, 60))
    assert response == {"batchItemFailures": []}
    assert rollups.dirty_in(stream.id, TS - TS % rollups.BASE_MS, TS + 1) == {TS - TS % rollups.BASE_MS}
    assert connections.count_items("c1") == 2  # a failed post is not a Gone
