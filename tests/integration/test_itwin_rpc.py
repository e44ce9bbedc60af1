"""The iTwin IoT JSON-RPC 2.0 face over the local `/itwin` WebSocket API, with the real `websockets`
client (issue 24): in-band authenticate, the seed's example session, every error code, getData
streamed in chunks, live subscribeData, isolation between organisations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from tests.integration.conftest import Platform

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
