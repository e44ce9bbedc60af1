"""The MQTT door of `make run`: an embedded amqtt broker that behaves like AWS IoT Core for Watershed.

Three plugins stand in for IoT Core (docs/architecture.md, The local runtime):
- `AuthorizerPlugin` runs the manifest's IoT custom authorizer function on CONNECT and keeps the
  policy documents it returns for the connection;
- `PolicyPlugin` enforces those policies on publish, subscribe and receive (`iot:Publish`,
  `iot:Subscribe`, `iot:Receive` on `topic/...` and `topicfilter/...` ARNs), retained messages
  included (`IotBroker`);
- `RulesPlugin` feeds accepted messages (`on_broker_message_broadcast`, which fires after the
  topic check) and connect/disconnect presence events to the manifest's topic rules, evaluated
  with local.iotsql, and invokes the target functions one message at a time, in order. A failing
  rule goes to the dead-letter queue with the reason, as the cloud's error action does.

Messages the handlers publish through boto3 `iot-data` (moto records them and sends nothing) are
delivered by the broker, retained when asked, as IoT Core would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin
from amqtt.session import Session

from local import events
from local.iotsql import UNDEFINED, IotSqlEvaluationError, Message, Statement, parse

log = logging.getLogger("watershed.local.mqtt")

MAX_PAYLOAD_BYTES = 128 * 1024
"""AWS IoT Core's message size limit."""

DLQ_NAME = "watershed-mqtt-dlq"
DLQ_ENV = "MQTT_DLQ_URL"
ARN_PREFIX = f"arn:aws:iot:{events.REGION}:{events.ACCOUNT_ID}"


# --------------------------------------------------------------------------- IoT policies


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str) -> re.Pattern[str]:
    """An IAM/IoT policy pattern: `*` any run of characters, `?` one; MQTT `+`/`#` are literal."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class _Statement:
    allow: bool
    actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...]

    def applies(self, action: str, resource: str) -> bool:
        return any(a.fullmatch(action) for a in self.actions) and any(
            r.fullmatch(resource) for r in self.resources
        )


@dataclass(frozen=True)
class IotPolicy:
    """The policy documents an authorizer returned: an explicit Deny wins, otherwise any Allow."""

    statements: tuple[_Statement, ...] = ()

    @classmethod
    def from_documents(cls, documents: Iterable[Any]) -> IotPolicy:
        statements: list[_Statement] = []
        for document in documents:
            parsed = json.loads(document) if isinstance(document, str) else document
            for statement in _as_list(parsed.get("Statement", [])):
                statements.append(
                    _Statement(
                        allow=str(statement.get("Effect", "")).lower() == "allow",
                        actions=tuple(_glob(str(a)) for a in _as_list(statement.get("Action", []))),
                        resources=tuple(_glob(str(r)) for r in _as_list(statement.get("Resource", []))),
                    )
                )
        return cls(tuple(statements))

    def allows(self, action: str, resource: str) -> bool:
        matching = [s for s in self.statements if s.applies(action, resource)]
        return any(s.allow for s in matching) and not any(not s.allow for s in matching)


def client_arn(client_id: str) -> str:
    return f"{ARN_PREFIX}:client/{client_id}"


def topic_arn(topic: str) -> str:
    return f"{ARN_PREFIX}:topic/{topic}"


def topicfilter_arn(topic_filter: str) -> str:
    return f"{ARN_PREFIX}:topicfilter/{topic_filter}"


# --------------------------------------------------------------------------- the bridge


@dataclass(frozen=True)
class _Rule:
    function: str
    name: str
    statement: Statement


@dataclass(frozen=True)
class _Inbound:
    topic: str
    payload: bytes
    client_id: str
    principal: str
    received_ms: int


@dataclass
class _Connection:
    policy: IotPolicy
    principal: str
    session: Session | None = None
    """The CONNECT's session: a client that reconnects at once under the same id (a new clean
    session) must not lose its new policy to the old connection's late disconnect event."""


@dataclass
class Bridge:
    """What the plugins share: the runtime, the rules, the live connections' policies, the DLQ."""

    runtime: Any
    rules: list[_Rule]
    authorizer: str | None
    dlq_url: str
    loop: asyncio.AbstractEventLoop
    connections: dict[str, _Connection] = field(default_factory=dict)
    queue: asyncio.Queue[_Inbound] = field(default_factory=asyncio.Queue)
    broker: Broker | None = None
    worker: asyncio.Task[None] | None = None
    loop_thread: int = field(default_factory=threading.get_ident)
    processed: int = 0

    # CONNECT

    async def authenticate(self, session: Session) -> bool:
        client_id = session.client_id or ""
        if self.authorizer is None:
            log.warning("refusing %s: the manifest has no IoT authorizer function", client_id)
            return False
        event = events.iot_authorizer_event(
            client_id=client_id, username=session.username, password=session.password
        )
        try:
            response = await self.runtime.invoke_async(self.authorizer, event)
            if not isinstance(response, dict) or response.get("isAuthenticated") is not True:
                return False
            policy = IotPolicy.from_documents(response.get("policyDocuments") or [])
        except Exception:
            log.exception("the IoT authorizer failed for %s", client_id)
            return False
        if not policy.allows("iot:Connect", client_arn(client_id)):
            log.info("refusing %s: its policy does not allow iot:Connect", client_id)
            return False
        self.connections[client_id] = _Connection(policy, str(response.get("principalId") or ""), session)
        return True

    def permits(self, session: Session | None, topic: str | None, action: Action | None) -> bool:
        if session is None or topic is None:
            return False
        connection = self.connections.get(session.client_id or "")
        if connection is None:
            return False
        if action == Action.PUBLISH:
            if connection.policy.allows("iot:Publish", topic_arn(topic)):
                return True
            log.info("disconnecting %s: its policy does not allow publishing to %s", session.client_id, topic)
            self.disconnect(session.client_id or "")
            return False
        if action == Action.SUBSCRIBE:
            return connection.policy.allows("iot:Subscribe", topicfilter_arn(topic))
        if action == Action.RECEIVE:
            return connection.policy.allows("iot:Receive", topic_arn(topic))
        return False

    def disconnect(self, client_id: str) -> None:
        """Close a client's connection, as IoT Core does on a publish its policy denies or one too big."""
        sessions = getattr(self.broker, "_sessions", {})
        found = sessions.get(client_id)
        if found is None:
            return
        _, handler = found
        writer = getattr(handler, "writer", None)
        if writer is not None:
            self.loop.create_task(writer.close())

    # messages and presence into the rules

    def submit(self, topic: str, payload: bytes, client_id: str = "n/a") -> None:
        connection = self.connections.get(client_id)
        if connection is not None and len(payload) > MAX_PAYLOAD_BYTES:
            log.info("disconnecting %s: a payload of %d bytes exceeds the AWS IoT limit of %d",
                     client_id, len(payload), MAX_PAYLOAD_BYTES)
            self.disconnect(client_id)
            return
        principal = connection.principal if connection else ""
        self.queue.put_nowait(_Inbound(topic, payload, client_id, principal, int(time.time() * 1000)))

    def presence(self, client_id: str, connected: bool, session: Session | None = None) -> None:
        connection = self.connections.get(client_id)
        event = events.iot_presence_event(
            client_id, connected, principal=connection.principal if connection else None
        )
        self.submit(events.presence_topic(client_id, connected), json.dumps(event).encode())
        if not connected and connection is not None and (session is None or connection.session is session):
            self.connections.pop(client_id, None)

    async def run(self) -> None:
        """Evaluate every queued message against every rule, one message at a time (keeps order)."""
        while True:
            inbound = await self.queue.get()
            try:
                await self._route(inbound)
            except Exception:
                log.exception("rule processing failed for a message on %s", inbound.topic)
            finally:
                self.processed += 1
                self.queue.task_done()

    async def _route(self, inbound: _Inbound) -> None:
        matching = [rule for rule in self.rules if rule.statement.matches(inbound.topic)]
        if not matching:
            return
        if len(inbound.payload) > MAX_PAYLOAD_BYTES:
            size = len(inbound.payload)
            reason = f"payload of {size} bytes exceeds the AWS IoT limit of {MAX_PAYLOAD_BYTES}"
            for rule in matching:
                await self.dead_letter(rule, inbound, reason)
            return
        message = Message(
            inbound.topic, inbound.payload, inbound.client_id, inbound.principal, inbound.received_ms
        )
        for rule in matching:
            try:
                selected = rule.statement.evaluate(message)
            except IotSqlEvaluationError as error:
                await self.dead_letter(rule, inbound, str(error))
                continue
            if selected is UNDEFINED:
                continue
            if isinstance(selected, bytes):
                reason = "payload is not JSON; a Lambda action needs a JSON payload"
                await self.dead_letter(rule, inbound, reason)
                continue
            event = json.loads(json.dumps(selected))
            try:
                await self.runtime.invoke_async(rule.function, event)
            except Exception as error:
                log.info("rule %s: function %s failed: %s", rule.name, rule.function, error)
                await self.dead_letter(rule, inbound, f"{type(error).__name__}: {error}", event)

    async def dead_letter(self, rule: _Rule, inbound: _Inbound, reason: str, event: Any = None) -> None:
        """Send what the cloud's SQS error action sends: the rule, topic, client, payload, failure;
        plus, once the rule built one, the function and event a re-drive runs again."""
        body = {
            "ruleName": rule.name,
            "topic": inbound.topic,
            "cloudwatchTraceId": str(uuid.uuid4()),
            "clientId": inbound.client_id,
            "base64OriginalPayload": base64.b64encode(inbound.payload).decode("ascii"),
            "failures": [
                {"failedAction": "LambdaAction", "failedResource": rule.function, "errorMessage": reason}
            ],
            "function": rule.function,
            "event": event,
        }

        def send() -> None:
            self.runtime.client("sqs").send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(body))

        try:
            await self.loop.run_in_executor(None, self.runtime.call, send)
        except Exception:
            log.exception("could not dead-letter a message on %s: %s", inbound.topic, reason)

    # messages from the runtime to devices

    def deliver_from_any_thread(self, topic: str, payload: bytes, retain: bool, qos: int) -> None:
        """Publish on the broker from a handler's thread (waits until retained) or from the loop."""
        if self.broker is None:
            return
        coroutine = publish(self.broker, topic, payload, retain, qos)
        if threading.get_ident() == self.loop_thread:
            self.loop.create_task(coroutine)
            return
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)


class IotBroker(Broker):
    """amqtt's broker, sending retained messages as IoT Core does. amqtt checks a live message
    against each subscriber's `iot:Receive`, but sends retained messages unchecked: those a new
    subscription matches (so `things/+/data/#` would hand any client every station's retained
    topics), and, at CONNECT, those matching any filter any client subscribed to. Here a session
    gets only the retained messages of its own subscriptions, each one it may receive."""

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter, qos = subscription
        handler = self._get_handler(session)
        if handler is None or not any(s is session for s, _ in self._subscriptions.get(topic_filter, [])):
            return
        sends = []
        for topic, retained in list(self._retained_messages.items()):
            if not self._matches(topic, topic_filter):
                continue
            if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                log.info("%s may not receive the retained message on %s", session.client_id, topic)
                continue
            sends.append(asyncio.ensure_future(
                handler.mqtt_publish(retained.topic, retained.data, min(qos, retained.qos or qos), retain=True)
            ))
        if sends:
            await asyncio.wait(sends)


_BRIDGES: dict[str, Bridge] = {}


def _bridge(context: BaseContext) -> Bridge:
    return _BRIDGES[context.config.bridge_id]  # type: ignore[union-attr]


@dataclass
class _PluginConfig:
    bridge_id: str = ""


class AuthorizerPlugin(BaseAuthPlugin):
    """CONNECT: the IoT custom authorizer decides."""

    Config = _PluginConfig

    async def authenticate(self, *, session: Session) -> bool | None:
        try:
            return await _bridge(self.context).authenticate(session)
        except Exception:
            log.exception("authentication crashed; refusing the connection")
            return False


class PolicyPlugin(BaseTopicPlugin):
    """PUBLISH, SUBSCRIBE and delivery: the connection's IoT policy decides."""

    Config = _PluginConfig

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        try:
            return _bridge(self.context).permits(session, topic, action)
        except Exception:
            log.exception("policy check crashed; refusing")
            return False


class RulesPlugin(BasePlugin[BaseContext]):
    """Accepted messages and presence events into the topic rules."""

    Config = _PluginConfig

    async def on_broker_message_broadcast(self, *, client_id: str, message: Any) -> None:
        _bridge(self.context).submit(message.topic, bytes(message.data or b""), client_id)

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        _bridge(self.context).presence(client_id, connected=True)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        _bridge(self.context).presence(client_id, connected=False, session=client_session)


# --------------------------------------------------------------------------- iot-data publish hook

_SINKS: list[Callable[[str, bytes, bool, int], None]] = []
_HOOK_LOCK = threading.Lock()
_original_publish: Callable[..., str] | None = None


def _install_iot_data_hook() -> None:
    """Make moto's iot-data Publish also reach the broker (moto only records it)."""
    global _original_publish
    from moto.iotdata.responses import IoTDataPlaneResponse

    with _HOOK_LOCK:
        if _original_publish is not None:
            return
        _original_publish = IoTDataPlaneResponse.publish

        def publish_and_deliver(self: Any) -> str:
            assert _original_publish is not None
            result = _original_publish(self)
            topic = self.path.split("/topics/")[-1]
            from urllib.parse import unquote

            topic = unquote(topic)
            retain = str(self.querystring.get("retain", ["false"])[0]).lower() == "true"
            qos = int(self.querystring.get("qos", ["0"])[0] or 0)
            body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
            for sink in list(_SINKS):
                sink(topic, body, retain, qos)
            return result

        IoTDataPlaneResponse.publish = publish_and_deliver  # type: ignore[method-assign]


def _uninstall_iot_data_hook() -> None:
    global _original_publish
    from moto.iotdata.responses import IoTDataPlaneResponse

    with _HOOK_LOCK:
        if _original_publish is not None and not _SINKS:
            IoTDataPlaneResponse.publish = _original_publish  # type: ignore[method-assign]
            _original_publish = None


# --------------------------------------------------------------------------- public API


def _rules_of(runtime: Any) -> list[_Rule]:
    """The manifest's rules for this process's topic scheme (MQTT_TOPIC_PREFIX, watershed.topics)."""
    from watershed import topics

    rules = []
    for function in runtime.functions.values():
        for rule in getattr(function, "topic_rules", ()):
            rules.append(_Rule(function.name, rule.name, parse(rule.sql_for(topics.SCHEME))))
    return rules


def _authorizer_of(runtime: Any) -> str | None:
    from functions.manifest import Kind

    found = runtime.functions_of_kind(Kind.IOT_AUTHORIZER)
    return found[0].name if found else None


def _dead_letter_queue(runtime: Any) -> str:
    url = os.environ.get(DLQ_ENV)
    if url:
        return url

    def create() -> str:
        return str(runtime.client("sqs").create_queue(QueueName=DLQ_NAME)["QueueUrl"])

    url = runtime.call(create)
    os.environ[DLQ_ENV] = url
    return url


async def start_broker(runtime: Any, host: str, port: int) -> tuple[Broker, int]:
    """Start the broker on host:port (0 picks a free port); returns it and the bound port."""
    loop = asyncio.get_running_loop()
    bridge = Bridge(
        runtime=runtime,
        rules=_rules_of(runtime),
        authorizer=_authorizer_of(runtime),
        dlq_url=await loop.run_in_executor(None, _dead_letter_queue, runtime),
        loop=loop,
    )
    bridge_id = uuid.uuid4().hex
    _BRIDGES[bridge_id] = bridge
    plugin_config = {"bridge_id": bridge_id}
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": -1}},
        "plugins": {
            f"{__name__}.AuthorizerPlugin": plugin_config,
            f"{__name__}.PolicyPlugin": plugin_config,
            f"{__name__}.RulesPlugin": plugin_config,
        },
    }
    broker = IotBroker(config, plugin_namespace=f"watershed.mqtt.{bridge_id}")
    bridge.broker = broker
    await broker.start()
    bridge.worker = asyncio.create_task(bridge.run(), name="watershed-mqtt-rules")
    broker.watershed_bridge_id = bridge_id  # type: ignore[attr-defined]
    _SINKS.append(bridge.deliver_from_any_thread)
    _install_iot_data_hook()
    server = broker._servers["default"].instance
    bound_port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    return broker, bound_port


def dead_letters(runtime: Any, max_letters: int = 100) -> list[dict[str, Any]]:
    """The MQTT dead-letter queue's letters (left in the queue), for `GET /_local/dlq`."""
    from watershed import dlq

    url = os.environ.get(DLQ_ENV)
    if not url:
        return []
    return runtime.call(lambda: dlq.list_letters(runtime.client("sqs"), url, max_letters))


def redrive_dead_letters(runtime: Any, max_letters: int = 100) -> dict[str, Any]:
    """Re-run dead letters through their functions in the runtime, for `POST /_local/dlq/redrive`."""
    from watershed import dlq

    url = os.environ.get(DLQ_ENV)
    if not url:
        return {"redriven": 0, "skipped": 0, "failed": 0, "letters": []}

    def run() -> dict[str, Any]:
        return dlq.redrive(runtime.client("sqs"), url, runtime.invoke, max_letters)

    return runtime.call(run)


def bridge_of(broker: Broker) -> Bridge:
    return _BRIDGES[broker.watershed_bridge_id]  # type: ignore[attr-defined]


async def wait_idle(broker: Broker, timeout_s: float = 30.0) -> None:
    """Wait until every message received so far went through the rules (tests, benchmarks)."""
    await asyncio.wait_for(bridge_of(broker).queue.join(), timeout_s)


async def stop_broker(broker: Broker) -> None:
    """Stop the broker and the rules worker; forget the bridge."""
    bridge_id = getattr(broker, "watershed_bridge_id", None)
    bridge = _BRIDGES.get(bridge_id) if bridge_id else None
    if bridge is not None:
        with contextlib.suppress(ValueError):
            _SINKS.remove(bridge.deliver_from_any_thread)
        _uninstall_iot_data_hook()
    await broker.shutdown()
    if bridge_id:
        _BRIDGES.pop(bridge_id, None)
    if bridge is not None and bridge.worker is not None:
        bridge.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bridge.worker


async def publish(broker: Broker, topic: str, payload: bytes, retain: bool, qos: int) -> None:
    """Publish to devices as the service would (IoT Data Plane Publish); an empty retained payload
    clears the retained message."""
    await broker.internal_message_broadcast(topic, payload, qos)
    if retain:
        await broker.retain_message(None, topic, payload, qos)
    bridge_id = getattr(broker, "watershed_bridge_id", None)
    if bridge_id in _BRIDGES:
        _BRIDGES[bridge_id].submit(topic, payload)
