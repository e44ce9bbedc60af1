"""The local API Gateway WebSocket: the manifest's WebSocket APIs, each at its path, with their `@connections` API.

What API Gateway does in front of the deployed WebSocket handlers, done here the same way:
connection ids, the REQUEST authorizer on `$connect` (a refusal is an HTTP 401/403 on the
handshake; none for an API whose manifest entry says `authorizer=False`), `$connect` and
`$disconnect`, route selection on `$request.body.<field>` (anything else goes to `$default`), the
integration's `body` sent back as the reply frame, 128 KB messages (a larger one closes the
connection with 1009), the 10-minute idle timeout and the 2-hour limit (1001). Each API's
management endpoint, `<door>/_connections/<protocol>`, takes the calls the real boto3
`apigatewaymanagementapi` client makes (`POST/GET/DELETE /@connections/{id}`), so the `changes`
function posts exactly as deployed; a connection that is gone answers GoneException (410).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import Receive, Scope, Send

from local import events
from local.runtime import Runtime

log = logging.getLogger("watershed.local.websocket")

MAX_MESSAGE_BYTES = 128 * 1024
"""API Gateway's message limit, both ways."""
IDLE_TIMEOUT_S = 600.0
MAX_DURATION_S = 7200.0
CONNECTIONS_PREFIX = "/_connections/"
CONTROL_PREFIX = "/_local/connections"
INTERNAL_ERROR = "Internal server error"


@dataclass(frozen=True)
class _Api:
    function: str
    protocol: str
    path: str
    label: str
    route_selection: str
    routes: tuple[str, ...]
    authorizer: bool = True
    """False: `$connect` runs no authorizer (the protocol authenticates in-band)."""

    def route_for(self, body: str) -> str:
        """`$request.body.action` → the frame's `action` if it names a route, else `$default`."""
        prefix = "$request.body."
        if not self.route_selection.startswith(prefix):
            return "$default"
        try:
            value: Any = json.loads(body)
        except ValueError:
            return "$default"
        for name in self.route_selection[len(prefix) :].split("."):
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str) and value in self.routes and not value.startswith("$"):
            return value
        return "$default"


@dataclass
class _Connection:
    id: str
    api: _Api
    send: Send
    connected_at_ms: int
    authorizer: dict[str, Any] | None
    source_ip: str
    user_agent: str | None
    last_active: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False
    skip_disconnect: bool = False


class _QuietRefusals(logging.Filter):
    """uvicorn logs a refused handshake (an HTTP answer instead of `accept`) as an error; it is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing handshake" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietRefusals())


def new_connection_id() -> str:
    """16 characters, like API Gateway's (`L0SM9cOFvHcCIhw=`)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


class WebSocketDoor:
    """ASGI app: WebSocket sessions on the APIs' paths, HTTP on their `@connections` endpoints."""

    def __init__(
        self,
        runtime: Runtime,
        apis: Sequence[tuple[Any, Any]] | None = None,
        *,
        authorizer: str | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_duration_s: float = MAX_DURATION_S,
    ) -> None:
        self.runtime = runtime
        if apis is None:
            from functions.manifest import websocket_apis

            apis = websocket_apis()
        self.apis = [
            _Api(f.name, api.protocol, api.path, api.label, api.route_selection, tuple(api.routes),
                 getattr(api, "authorizer", True))
            for f, api in apis
        ]
        self.by_path = {api.path: api for api in self.apis}
        if authorizer is None:
            found = runtime.functions_of_kind("websocket_authorizer")
            authorizer = found[0].name if found else None
        self.authorizer = authorizer
        self.idle_timeout_s = idle_timeout_s
        self.max_duration_s = max_duration_s
        self.connections: dict[str, _Connection] = {}

    def endpoint(self, base_url: str, protocol: str) -> str:
        """The management endpoint a boto3 client of one API is given as `endpoint_url`."""
        return f"{base_url}{CONNECTIONS_PREFIX}{protocol}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._session(scope, receive, send)
        elif scope["type"] == "http":
            await self._management(scope, receive, send)

    # sessions

    async def _session(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        api = self.by_path.get(scope["path"])
        if api is None:
            await _refuse(send, 404, "Not Found")
            return
        connection_id = new_connection_id()
        connected_at = int(time.time() * 1000)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers") or []]
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        client = scope.get("client") or ("127.0.0.1", 0)
        domain = next((v for k, v in headers if k.lower() == "host"), "127.0.0.1")
        authorizer: dict[str, Any] | int | None = None
        if api.authorizer:
            authorizer = await self._authorize(connection_id, connected_at, headers, query, domain, client[0])
        if isinstance(authorizer, int):
            await _refuse(send, authorizer, "Unauthorized" if authorizer == 401 else "Forbidden")
            return
        event = events.websocket_connect_event(
            connection_id=connection_id, connected_at_ms=connected_at, authorizer=authorizer, headers=headers,
            query=query, domain=domain, source_ip=client[0],
        )
        try:
            result = await self.runtime.invoke_async(api.function, event)
            status = int((result or {}).get("statusCode", 200)) if isinstance(result, dict) else 200
        except Exception:
            log.exception("%s failed on $connect", api.function)
            status = 500
        if not 200 <= status < 300:
            await _refuse(send, status, "Forbidden")
            return
        await send({"type": "websocket.accept"})
        connection = _Connection(
            connection_id, api, send, connected_at, authorizer, client[0],
            next((v for k, v in headers if k.lower() == "user-agent"), None),
        )
        self.connections[connection_id] = connection
        code, reason = 1005, "Client closed"
        try:
            code, reason = await self._frames(connection, receive)
        finally:
            connection.closed = True
            self.connections.pop(connection_id, None)
            if not connection.skip_disconnect:
                await self._disconnected(connection, code, reason)

    async def _authorize(
        self, connection_id: str, connected_at: int, headers: list[tuple[str, str]], query: list[tuple[str, str]],
        domain: str, source_ip: str,
    ) -> dict[str, Any] | int:
        """The authorizer's context for the connection, or the HTTP status refusing the handshake."""
        if self.authorizer is None:
            return events.authorizer_context("anonymous", {})
        event = events.websocket_authorizer_event(
            connection_id=connection_id, connected_at_ms=connected_at, headers=headers, query=query, domain=domain,
            source_ip=source_ip,
        )
        try:
            policy = await self.runtime.invoke_async(self.authorizer, event)
        except Exception as error:
            if str(error) == "Unauthorized":
                return 401
            log.exception("WebSocket authorizer failed")
            return 500
        statements = (policy.get("policyDocument") or {}).get("Statement") or []
        if not any(s.get("Effect") == "Allow" for s in statements):
            return 403
        return events.authorizer_context(str(policy.get("principalId", "")), policy.get("context"))

    async def _frames(self, connection: _Connection, receive: Receive) -> tuple[int, str]:
        """Route every frame until the client leaves, idles out or hits the duration limit."""
        deadline = time.monotonic() + self.max_duration_s
        while True:
            wait = min(self.idle_timeout_s, deadline - time.monotonic())
            pending = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({pending}, timeout=max(wait, 0))
            if not done:
                pending.cancel()
                idle = time.monotonic() - connection.last_active >= self.idle_timeout_s
                await self._close(connection, 1001, "Going away")
                return 1001, "Idle timeout" if idle else "Connection duration exceeded"
            message = pending.result()
            if message["type"] == "websocket.disconnect":
                code = int(message.get("code") or 1005)
                return code, "Message too big" if code == 1009 else "Client closed"
            connection.last_active = time.monotonic()
            text = message.get("text")
            body: str | bytes = text if text is not None else (message.get("bytes") or b"")
            if len(body.encode("utf-8") if isinstance(body, str) else body) > MAX_MESSAGE_BYTES:
                await self._close(connection, 1009, "Message too big")
                return 1009, "Message too big"
            await self._route(connection, body)

    async def _route(self, connection: _Connection, body: str | bytes) -> None:
        api = connection.api
        route = api.route_for(body if isinstance(body, str) else "")
        event = events.websocket_message_event(
            route_key=route, connection_id=connection.id, connected_at_ms=connection.connected_at_ms, body=body,
            authorizer=connection.authorizer, source_ip=connection.source_ip, user_agent=connection.user_agent,
        )
        try:
            result = await self.runtime.invoke_async(api.function, event)
        except Exception:
            log.exception("%s failed on a %s frame", api.function, route)
            reply = json.dumps({"message": INTERNAL_ERROR, "connectionId": connection.id,
                                "requestId": event["requestContext"]["requestId"]})
            await self._send(connection, reply)
            return
        if isinstance(result, dict) and result.get("body") is not None:
            await self._send(connection, str(result["body"]))

    async def _send(self, connection: _Connection, text: str) -> bool:
        async with connection.lock:
            if connection.closed:
                return False
            try:
                await connection.send({"type": "websocket.send", "text": text})
            except Exception:
                connection.closed = True
                return False
            return True

    async def _close(self, connection: _Connection, code: int, reason: str) -> None:
        async with connection.lock:
            if connection.closed:
                return
            connection.closed = True
            try:
                await connection.send({"type": "websocket.close", "code": code, "reason": reason})
            except Exception:
                log.debug("close of %s failed", connection.id, exc_info=True)

    async def _disconnected(self, connection: _Connection, code: int, reason: str) -> None:
        event = events.websocket_disconnect_event(
            connection_id=connection.id, connected_at_ms=connection.connected_at_ms, status_code=code, reason=reason,
            authorizer=connection.authorizer, source_ip=connection.source_ip,
        )
        try:
            await self.runtime.invoke_async(connection.api.function, event)
        except Exception:
            log.exception("%s failed on $disconnect", connection.api.function)

    # the management API

    async def _management(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if path.startswith(CONTROL_PREFIX):
            await self._control(path, method, send)
            return
        protocol, _, rest = path.removeprefix(CONNECTIONS_PREFIX).partition("/@connections/")
        if not path.startswith(CONNECTIONS_PREFIX) or not rest:
            await _http(send, 404, "NotFoundException", {"message": "Not Found"})
            return
        connection = self.connections.get(unquote(rest))
        if connection is None or connection.closed or connection.api.protocol != protocol:
            await _http(send, 410, "GoneException", {"message": None})
            return
        if method == "POST":
            if len(body) > MAX_MESSAGE_BYTES:
                await _http(send, 413, "PayloadTooLargeException", {"message": "Message too long"})
                return
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            async with connection.lock:
                if connection.closed:
                    await _http(send, 410, "GoneException", {"message": None})
                    return
                frame = {"type": "websocket.send", "text": text} if text is not None else {
                    "type": "websocket.send", "bytes": body}
                try:
                    await connection.send(frame)
                except Exception:
                    connection.closed = True
                    await _http(send, 410, "GoneException", {"message": None})
                    return
            await _http(send, 200, None, None)
        elif method == "GET":
            await _http(send, 200, None, {
                "connectedAt": _iso(connection.connected_at_ms / 1000),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent or ""},
                "lastActiveAt": _iso(time.time() - (time.monotonic() - connection.last_active)),
            })
        elif method == "DELETE":
            await self._close(connection, 1000, "")
            await _http(send, 204, None, None)
        else:
            await _http(send, 405, "BadRequestException", {"message": "Method not allowed"})


    async def _control(self, path: str, method: str, send: Send) -> None:
        """Test controls: `GET /_local/connections` (open ids), `GET .../{id}` (its items in the
        table), `POST .../{id}/drop` (close it without `$disconnect`, as when API Gateway's
        best-effort `$disconnect` invocation is lost)."""
        rest = path.removeprefix(CONTROL_PREFIX).strip("/")
        if not rest and method == "GET":
            await _http(send, 200, None, {"data": sorted(self.connections)})
            return
        connection_id, _, action = rest.partition("/")
        if method == "GET" and not action:
            from watershed.store import connections as store

            items = await asyncio.get_running_loop().run_in_executor(
                None, self.runtime.call, store.count_items, connection_id
            )
            await _http(send, 200, None, {"id": connection_id, "open": connection_id in self.connections,
                                          "items": items})
            return
        connection = self.connections.get(connection_id)
        if method == "POST" and action == "drop" and connection is not None:
            connection.skip_disconnect = True
            await self._close(connection, 1001, "")
            await _http(send, 204, None, None)
            return
        await _http(send, 404, "NotFoundException", {"message": "Not Found"})


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s)) + f".{int(epoch_s * 1000) % 1000:03d}Z"


async def _refuse(send: Send, status: int, message: str) -> None:
    """Refuse the handshake with an HTTP status, as API Gateway does (401 for a failed authorizer)."""
    body = json.dumps({"message": message}).encode()
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "websocket.http.response.body", "body": body})


async def _http(send: Send, status: int, error_type: str | None, body: dict[str, Any] | None) -> None:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if error_type:
        headers.append((b"x-amzn-errortype", error_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
