"""Native WebSocket frames out (chunking, coalescing), route selection, the $connect credential and event shapes."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from local import events
from local.runtime import ROOT
from local.websocket import _Api
from watershed.errors import MissingCredential
from watershed.model import Scheme
from watershed.protocols import native_ws
from watershed.services.live import Update


def _opened(frames: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for raw in frames:
        frame = json.loads(raw)
        found.extend(frame["messages"] if frame["type"] == "batch" else [frame])
    return found


def test_one_update_is_one_bare_frame() -> None:
    frames = native_ws.encode([Update("intervals", "sub", "s1", [{"timestamp": 0, "value": 1.5}])], 128 * 1024)
    assert [json.loads(f) for f in frames] == [
        {"type": "intervals", "subscription": "sub", "stream": "s1",
         "data": [{"timestamp": "1970-01-01T00:00:00.000Z", "value": 1.5}]}
    ]


def test_several_updates_travel_in_one_batch_frame() -> None:
    updates = [Update("intervals", "a", "s1", [{"timestamp": 0, "value": 1}]),
               Update("aggregates", "b", "s2", [{"timestamp": 0, "avg": 2.0, "count": 3}])]
    (frame,) = native_ws.encode(updates, 128 * 1024)
    assert json.loads(frame)["type"] == "batch"
    assert [m["subscription"] for m in _opened([frame])] == ["a", "b"]


@pytest.mark.parametrize("limit", [300, 1000, 4096, 128 * 1024])
def test_frames_stay_under_the_limit_and_keep_every_row_in_order(limit: int) -> None:
    updates = [Update("intervals", f"sub{u}", f"s{u}",
                      [{"timestamp": i, "value": "v" * (i % 97)} for i in range(200)]) for u in range(3)]
    frames = native_ws.encode(updates, limit)
    assert all(len(f.encode()) <= limit for f in frames)
    for u in range(3):
        rows = [row for m in _opened(frames) if m["subscription"] == f"sub{u}" for row in m["data"]]
        assert [row["value"] for row in rows] == ["v" * (i % 97) for i in range(200)]


def test_a_row_too_large_for_any_frame_is_announced() -> None:
    frames = native_ws.encode([Update("intervals", "s", "x", [{"timestamp": 0, "value": "v" * 5000},
                                                              {"timestamp": 1, "value": "ok"}])], 1000)
    rows = [row for m in _opened(frames) for row in m["data"]]
    assert rows == [{"timestamp": "1970-01-01T00:00:00.000Z", "tooLarge": True},
                    {"timestamp": "1970-01-01T00:00:00.001Z", "value": "ok"}]


def test_route_selection_picks_named_routes_else_default() -> None:
    api = _Api("ws_native", "native_ws", "/ws", "WebSocket", "$request.body.action",
               ("$connect", "$disconnect", "$default", "subscribe", "push"))
    assert api.route_for('{"action": "subscribe"}') == "subscribe"
    assert api.route_for('{"action": "push", "id": 1}') == "push"
    for body in ('{"action": "ping"}', '{"action": "$connect"}', "not json", "[]", '{"action": 5}', ""):
        assert api.route_for(body) == "$default"


def _authorizer_module() -> Any:
    spec = importlib.util.spec_from_file_location("ws_authorizer", ROOT / "functions" / "ws_authorizer" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("headers", "query", "expected"), [
    ([("authorization", "ApiKey k1")], [("key", "k2")], (Scheme.API_KEY, "k1")),
    ([("Authorization", "Bearer t1")], [], (Scheme.BEARER, "t1")),
    ([], [("key", "k2")], (Scheme.API_KEY, "k2")),
    ([], [("token", "t2")], (Scheme.BEARER, "t2")),
])
def test_the_connect_credential_comes_from_the_header_or_the_query(
    headers: list[tuple[str, str]], query: list[tuple[str, str]], expected: tuple[Scheme, str]
) -> None:
    event = events.websocket_authorizer_event(connection_id="c=", connected_at_ms=1, headers=headers, query=query)
    assert _authorizer_module().credential(event) == expected


@pytest.mark.parametrize(("headers", "query"), [
    ([], [("other", "x")]),
    ([("Authorization", "Bitpool2 k1")], [("key", "k2")]),  # another facade's scheme counts as none
    ([("Authorization", "Basic azE6")], []),
])
def test_no_credential_in_an_accepted_scheme_is_refused(
    headers: list[tuple[str, str]], query: list[tuple[str, str]]
) -> None:
    event = events.websocket_authorizer_event(connection_id="c=", connected_at_ms=1, headers=headers, query=query)
    with pytest.raises(MissingCredential):
        _authorizer_module().credential(event)


def test_websocket_event_shapes() -> None:
    authorizer = events.authorizer_context("k-1", {"org": "o-1", "scopes": "read"})
    check = events.websocket_authorizer_event(connection_id="c=", connected_at_ms=5, query=[("key", "x")])
    assert check["type"] == "REQUEST"
    assert check["methodArn"].endswith("/local/$connect")
    assert check["queryStringParameters"] == {"key": "x"}
    assert check["requestContext"]["eventType"] == "CONNECT"
    connect = events.websocket_connect_event(connection_id="c=", connected_at_ms=5, authorizer=authorizer)
    assert connect["requestContext"]["authorizer"]["org"] == "o-1"
    assert connect["requestContext"]["routeKey"] == "$connect"
    assert "queryStringParameters" not in connect  # API Gateway omits it when there is none
    text = events.websocket_message_event(route_key="push", connection_id="c=", connected_at_ms=5, body="{}",
                                          authorizer=authorizer)
    assert (text["body"], text["isBase64Encoded"], text["requestContext"]["eventType"]) == ("{}", False, "MESSAGE")
    assert text["requestContext"]["messageId"]
    binary = events.websocket_message_event(route_key="$default", connection_id="c=", connected_at_ms=5,
                                            body=b"\x00", authorizer=authorizer)
    assert (binary["body"], binary["isBase64Encoded"]) == ("AA==", True)
    gone = events.websocket_disconnect_event(connection_id="c=", connected_at_ms=5, status_code=1001,
                                             reason="Going away", authorizer=authorizer)
    assert gone["requestContext"]["disconnectStatusCode"] == 1001
    assert gone["requestContext"]["routeKey"] == "$disconnect"


def test_the_local_door_serves_each_protocol_at_its_path() -> None:
    from types import SimpleNamespace

    from functions.manifest import Function, Kind, WebSocketApi
    from local.websocket import WebSocketDoor

    class Runtime:
        def functions_of_kind(self, kind: str) -> list[Any]:
            return [SimpleNamespace(name="ws_authorizer")] if kind == "websocket_authorizer" else []

    native = Function("ws_native", kind=Kind.WEBSOCKET, websocket=WebSocketApi("native_ws", "/ws", "WebSocket"))
    rpc = Function("ws_rpc", kind=Kind.WEBSOCKET,
                   websocket=WebSocketApi("itwin_rpc", "/itwin/rpc", "iTwin JSON-RPC", "$request.body.method"))
    door = WebSocketDoor(Runtime(), [(f, f.websocket) for f in (native, rpc)])  # type: ignore[arg-type]
    assert {path: api.function for path, api in door.by_path.items()} == {"/ws": "ws_native", "/itwin/rpc": "ws_rpc"}
    assert door.authorizer == "ws_authorizer"
    assert door.endpoint("http://127.0.0.1:1", "itwin_rpc") == "http://127.0.0.1:1/_connections/itwin_rpc"
    assert door.by_path["/itwin/rpc"].route_for('{"jsonrpc": "2.0", "method": "help"}') == "$default"
