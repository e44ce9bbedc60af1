"""The WebSocket door: API Gateway WebSocket events to a protocol module, and live updates back out.

Each WebSocket API of the manifest carries one protocol, a module in watershed.protocols with
`handle(session, body) -> reply or None` (a frame from the client) and `encode(updates, limit) ->
frames` (live updates, each frame at most `limit` bytes). The handler of a WebSocket function is one
line: `lambda_handler = websocket_handler("<protocol>")`. Live updates go out through the API
Gateway management API (`post_to_connection`) at the endpoint infra/ (or local/) sets in
WEBSOCKET_ENDPOINT_<PROTOCOL>; a GoneException removes the connection and its subscriptions. An
answer of several frames (`handle` returning a list, e.g. a result streamed in chunks) goes out
the same way, in order.
"""

from __future__ import annotations

import base64
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed import config
from watershed.errors import WatershedError
from watershed.model import Change, Principal
from watershed.services import auth, live

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
"""API Gateway's limit on one WebSocket message, either way (post_to_connection `Data` too)."""
POST_THREADS = 16
"""Concurrent post_to_connection calls of one batch: the fan-out waits on the network, not the CPU."""


@dataclass(frozen=True)
class Session:
    """Who sent a frame, on which connection, through which protocol."""

    connection: str
    principal: Principal
    protocol: str


@dataclass(frozen=True)
class InBandSession:
    """A frame of an API whose `$connect` runs no authorizer: `principal` is None until the protocol
    authenticated the connection in-band (live.authenticate), e.g. JSON-RPC's `authenticate`."""

    connection: str
    principal: Principal | None
    protocol: str


class WebSocketProtocol(Protocol):
    def handle(self, session: Any, body: str) -> str | list[str] | None:
        """The answer to a frame: one frame (the route's response), several (posted in order), or none."""
        ...

    def encode(self, updates: Sequence[live.Update], limit: int) -> list[str]: ...


def protocol_module(name: str) -> WebSocketProtocol:
    return cast(WebSocketProtocol, importlib.import_module(f"watershed.protocols.{name}"))


def endpoint_env(protocol: str) -> str:
    """The variable holding a protocol's management endpoint (`native_ws` → WEBSOCKET_ENDPOINT_NATIVE_WS)."""
    return f"WEBSOCKET_ENDPOINT_{protocol.upper()}"


def _body(event: dict[str, Any]) -> str:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw).decode("utf-8", errors="replace")
    return str(raw)


def _in_band_principal(request: dict[str, Any], connection: str) -> Principal | None:
    """The principal of a frame on an in-band API: its connection item's, once authenticated."""
    authorizer = request.get("authorizer")
    if (authorizer or {}).get("org"):
        return auth.from_context(authorizer)
    return live.principal_or_none(connection)


def websocket_handler(
    protocol: str, *, in_band: bool = False
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a WebSocket function: $connect, $disconnect and the protocol's frames.

    `in_band`: the API's `$connect` runs no authorizer (manifest `WebSocketApi.authorizer=False`);
    connections open anonymous and the protocol gets an InBandSession.
    """
    logger = Logger()
    metrics = Metrics()
    module = protocol_module(protocol)

    @logger.inject_lambda_context
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = event.get("requestContext") or {}
        route = request.get("routeKey")
        connection = str(request.get("connectionId") or "")
        if route == "$disconnect":
            live.disconnect(connection)
            return {"statusCode": 200}
        if in_band:
            if route == "$connect":
                live.connect_anonymous(connection, protocol)
                metrics.add_metric(name="WebSocketConnects", unit=MetricUnit.Count, value=1)
                return {"statusCode": 200}
            metrics.add_metric(name="WebSocketFrames", unit=MetricUnit.Count, value=1)
            session = InBandSession(connection, _in_band_principal(request, connection), protocol)
            return _answered(protocol, connection, module.handle(session, _body(event)))
        try:
            authorizer = request.get("authorizer")
            if route != "$connect" and not (authorizer or {}).get("org"):
                principal = live.principal_of(connection)
            else:
                principal = auth.from_context(authorizer)
            if route == "$connect":
                auth.require_scope(principal, "read")
                live.connect(connection, principal, protocol)
                metrics.add_metric(name="WebSocketConnects", unit=MetricUnit.Count, value=1)
                return {"statusCode": 200}
        except WatershedError as error:
            return {"statusCode": error.status}
        metrics.add_metric(name="WebSocketFrames", unit=MetricUnit.Count, value=1)
        return _answered(protocol, connection, module.handle(Session(connection, principal, protocol), _body(event)))

    return lambda_handler


def _answered(protocol: str, connection: str, reply: str | list[str] | None) -> dict[str, Any]:
    """The route's response: one frame as its body; several posted in order; none."""
    if isinstance(reply, list):
        _reply_in_frames(protocol, connection, reply)
        return {"statusCode": 200}
    return {"statusCode": 200} if reply is None else {"statusCode": 200, "body": reply}


# live updates


@dataclass
class FanOutReport:
    """What one batch's fan-out did: connections reached, messages posted, connections gone or failing."""

    connections: int = 0
    messages: int = 0
    gone: int = 0
    failed: int = 0


_clients: dict[str, Any] = {}


def _client(protocol: str) -> Any:
    endpoint = os.environ.get(endpoint_env(protocol))
    if not endpoint:
        return None
    if endpoint not in _clients:
        import boto3
        from botocore.config import Config

        # One slow or broken connection must not hold up the batch: few retries, short timeouts.
        settings = Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=5,
            max_pool_connections=POST_THREADS,
        )
        _clients[endpoint] = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint, region_name=config.REGION, config=settings
        )
    return _clients[endpoint]


def _post(client: Any, connection: str, frames: list[str]) -> tuple[int, str]:
    """Post a connection's frames in order; (how many went, "ok" | "gone" | "failed")."""
    sent = 0
    for frame in frames:
        try:
            client.post_to_connection(ConnectionId=connection, Data=frame.encode("utf-8"))
        except client.exceptions.GoneException:
            return sent, "gone"
        except Exception:
            log.warning("post_to_connection %s failed", connection, exc_info=True)
            return sent, "failed"
        sent += 1
    return sent, "ok"


def _reply_in_frames(protocol: str, connection: str, frames: list[str]) -> None:
    """An answer of several frames (a result streamed in chunks) goes out through the management API, in order."""
    client = _client(protocol)
    if client is None:
        log.warning("no endpoint for WebSocket protocol %r: a %d-frame answer was dropped", protocol, len(frames))
        return
    _sent, outcome = _post(client, connection, frames)
    if outcome == "gone":
        live.disconnect(connection)


def deliver(deliveries: Sequence[live.Delivery]) -> FanOutReport:
    """Encode and post every delivery; gone connections are removed afterwards. Never raises for a post."""
    report = FanOutReport()
    jobs = []
    for delivery in deliveries:
        client = _client(delivery.protocol)
        if client is None:
            log.warning("no endpoint for WebSocket protocol %r; %s skipped", delivery.protocol, delivery.connection)
            report.failed += 1
            continue
        frames = protocol_module(delivery.protocol).encode(delivery.updates, MAX_MESSAGE_BYTES)
        jobs.append((client, delivery.connection, frames))
    if not jobs:
        return report
    if len(jobs) == 1:
        results = [_post(*jobs[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(POST_THREADS, len(jobs))) as pool:
            results = list(pool.map(lambda job: _post(*job), jobs))
    for job, (sent, outcome) in zip(jobs, results, strict=True):
        connection = job[1]
        report.connections += 1
        report.messages += sent
        if outcome == "gone":
            report.gone += 1
            live.disconnect(connection)
        elif outcome == "failed":
            report.failed += 1
    return report


def fan_out(changes: Sequence[Change]) -> FanOutReport:
    """Live updates for a batch of changes: best effort, so a failure here never fails the stream batch."""
    if not changes:
        return FanOutReport()
    try:
        return deliver(live.deliveries(changes))
    except Exception:
        log.exception("live fan-out of %d changes failed", len(changes))
        return FanOutReport(failed=1)
