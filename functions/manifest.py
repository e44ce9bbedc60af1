"""THE list of Watershed's functions and every trigger they have.

infra/ builds the cloud from this list and local/ serves it; nothing is listed twice. HTTP
routes are not repeated here: each function's routes come from the layer's route table
(watershed.api.routes), keyed by the function's name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LAYER = ROOT / "layers" / "core" / "python"
if str(_LAYER) not in sys.path:
    sys.path.insert(0, str(_LAYER))

from watershed.api.routes import Route, routes_for  # noqa: E402
from watershed.topics import Scheme  # noqa: E402


class Access(StrEnum):
    """What a function may do with a table or bucket; infra/ turns it into IAM grants."""

    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"


class Kind(StrEnum):
    """How a function is invoked."""

    HTTP = "http"
    REST_AUTHORIZER = "rest_authorizer"
    IOT_AUTHORIZER = "iot_authorizer"
    WORKER = "worker"
    WEBSOCKET = "websocket"
    WEBSOCKET_AUTHORIZER = "websocket_authorizer"


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule, e.g. ``rate(1 minute)``."""

    expression: str


@dataclass(frozen=True)
class TableStream:
    """A DynamoDB Stream of one table feeding the function."""

    table: str
    batch_size: int = 500
    max_batching_window_s: int = 1


@dataclass(frozen=True)
class TopicRule:
    """An AWS IoT topic rule: IoT SQL selecting messages for the function, or how to write it for
    a stage's topic scheme (watershed.topics: the same rule under a stage prefix)."""

    name: str
    sql: str | Callable[[Scheme], str]

    def sql_for(self, scheme: Scheme) -> str:
        return self.sql(scheme) if callable(self.sql) else self.sql


@dataclass(frozen=True)
class WebSocketApi:
    """An API Gateway WebSocket API carrying one protocol (a watershed.protocols module).

    `routes` are its route keys: `$connect` (runs the WEBSOCKET_AUTHORIZER function first, unless
    `authorizer` is False),
    `$disconnect`, `$default` and named routes picked by `route_selection`. Locally it is served at
    `path` of the WebSocket door, and `make run` prints `<label> at ws://...<path>`.
    """

    protocol: str
    path: str
    label: str
    route_selection: str = "$request.body.action"
    routes: tuple[str, ...] = ("$connect", "$disconnect", "$default")
    authorizer: bool = True
    """False: `$connect` runs no authorizer and the protocol authenticates in-band (its handler is
    `websocket_handler(<protocol>, in_band=True)`), e.g. JSON-RPC's `authenticate` frame."""


@dataclass(frozen=True)
class Function:
    """One Lambda function: its folder under functions/, its size and its triggers."""

    name: str
    kind: Kind = Kind.HTTP
    memory_mb: int = 256
    timeout_s: int = 10
    tables: dict[str, Access] = field(default_factory=dict)
    buckets: dict[str, Access] = field(default_factory=dict)
    schedules: tuple[Schedule, ...] = ()
    streams: tuple[TableStream, ...] = ()
    topic_rules: tuple[TopicRule, ...] = ()
    queues: dict[str, Access] = field(default_factory=dict)
    """SQS queues by key (e.g. `mqtt_dlq`): WRITE sends, READ receives and deletes."""
    iot_publish: tuple[str, ...] = ()
    """MQTT topic patterns (IAM wildcards, e.g. `things/*/config/expected/*`) it may publish to, retained;
    relative to the stage's topic prefix (watershed.topics)."""
    websocket: WebSocketApi | None = None
    """The WebSocket API whose routes invoke it (a WEBSOCKET function)."""
    websocket_push: bool = False
    """It posts to the connections of every WebSocket API (execute-api:ManageConnections)."""

    signs_tokens: bool = False
    """May sign access tokens with the KMS signing key (kms:Sign); no other function may (infra/oauth.py)."""

    @property
    def handler(self) -> str:
        return "handler.lambda_handler"

    @property
    def folder(self) -> Path:
        return ROOT / "functions" / self.name

    @property
    def routes(self) -> tuple[Route, ...]:
        return routes_for(self.name)


RW, RO = Access.READ_WRITE, Access.READ
API_TIMEOUT_S = 25
"""HTTP functions end a few seconds before API Gateway's 29-second integration timeout (a 504 while
the function still runs and writes); an IoT authorizer must answer within IoT's 5 seconds."""

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "authorizer",
        kind=Kind.REST_AUTHORIZER,
        memory_mb=256,
        timeout_s=5,
        tables={"catalog": RW},  # RW only to record a key's last use (services/key_lifecycle.py)
    ),
    Function(
        "catalog",
        tables={"catalog": RW, "intervals": RW, "rollups": RW},
        buckets={"objects": RW},
        timeout_s=API_TIMEOUT_S,
    ),
    # the OAuth 2.0 authorization server (issue 21): the only function that may sign tokens (infra/oauth.py)
    Function("oauth", memory_mb=512, timeout_s=10, tables={"catalog": RW}, signs_tokens=True),
    # writers of intervals mark the touched buckets dirty in the catalog, in the same calls (read-your-writes)
    Function("ingest", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW}),
    Function("query", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RO, "intervals": RO, "rollups": RO}),
    # MQTT (issue 5): a rule that may see binary selects encode(*, 'base64') (docs/architecture.md, The doors)
    Function("mqtt_authorizer", kind=Kind.IOT_AUTHORIZER, memory_mb=256, timeout_s=4, tables={"catalog": RO}),
    Function(
        "mqtt_ingest",
        kind=Kind.WORKER,
        memory_mb=512,
        timeout_s=29,
        tables={"catalog": RW, "intervals": RW},
        queues={"mqtt_dlq": Access.WRITE},
        buckets={"objects": Access.WRITE},  # dead letters too big for SQS (services.mqtt.dead_letters)
        topic_rules=(
            TopicRule("watershed_mqtt_data", Scheme.data_rule),
        ),
    ),
    Function(
        "mqtt_config",
        kind=Kind.WORKER,
        tables={"catalog": RW},
        queues={"mqtt_dlq": Access.WRITE},
        buckets={"objects": Access.WRITE},
        topic_rules=(
            TopicRule("watershed_mqtt_config_reported", Scheme.reported_rule),
        ),
    ),
    Function(
        "presence",
        kind=Kind.WORKER,
        tables={"catalog": RW},
        queues={"mqtt_dlq": Access.WRITE},
        topic_rules=(TopicRule("watershed_presence", Scheme.presence_rule),),
    ),
    Function("configs", tables={"catalog": RW}, iot_publish=(Scheme().expected_for_every_station(),)),
    # object streams and exports (issue 7)
    Function("objects", memory_mb=1024, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW},
             buckets={"objects": RW}),
    Function("exports", memory_mb=1024, timeout_s=API_TIMEOUT_S, tables={"catalog": RO, "intervals": RO, "rollups": RO},
             buckets={"objects": RW}),
    Function("exports_worker", kind=Kind.WORKER, memory_mb=1024, timeout_s=900,
             tables={"catalog": RO, "intervals": RO, "rollups": RO}, buckets={"objects": RW},
             schedules=(Schedule("rate(1 minute)"),)),
    # aggregation (issue 6): changes reads the intervals stream; rollup recomputes dirty buckets
    Function("changes", kind=Kind.WORKER, memory_mb=512, timeout_s=60, streams=(TableStream("intervals"),),
             tables={"catalog": RW, "intervals": RO, "rollups": RO, "connections": RW},
             buckets={"lake": Access.WRITE}, websocket_push=True),
    # iTwin entity change notifications (issue 24): the catalog stream to subscribe{Nodes,Devices,Sensors}
    Function("catalog_changes", kind=Kind.WORKER, memory_mb=256, timeout_s=60,
             streams=(TableStream("catalog", batch_size=100),),
             tables={"catalog": RO, "connections": RW}, websocket_push=True),
    Function("rollup", kind=Kind.WORKER, memory_mb=512, timeout_s=120, schedules=(Schedule("rate(1 minute)"),),
             tables={"catalog": RW, "intervals": RO, "rollups": RW}),
    # the WebSocket door (issue 20): one function per protocol, one authorizer for every $connect
    Function("ws_authorizer", kind=Kind.WEBSOCKET_AUTHORIZER, memory_mb=256, timeout_s=5, tables={"catalog": RO}),
    Function(
        "ws_native",
        kind=Kind.WEBSOCKET,
        memory_mb=512,
        timeout_s=29,
        tables={"catalog": RW, "intervals": RW, "connections": RW},  # a push marks its buckets dirty
        websocket=WebSocketApi(
            protocol="native_ws",
            path="/ws",
            label="WebSocket",
            routes=("$connect", "$disconnect", "$default", "subscribe", "unsubscribe", "ping", "push"),
        ),
    ),
    # iTwin IoT JSON-RPC 2.0 (issue 24): anonymous $connect, then an `authenticate` frame
    Function(
        "ws_itwin",
        kind=Kind.WEBSOCKET,
        memory_mb=1024,
        timeout_s=29,
        tables={"catalog": RW, "intervals": RW, "rollups": RO, "connections": RW},
        websocket=WebSocketApi(
            protocol="itwin_rpc",
            path="/itwin",
            label="iTwin JSON-RPC",
            route_selection="$request.body.method",
            authorizer=False,
        ),
    ),
    # the facades (issue 22): one function each, routes under their prefix in the route table
    Function("customstream", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW}),
    Function("bitpool", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW, "rollups": RO}),
    Function("byteport", memory_mb=1024, timeout_s=API_TIMEOUT_S,
             tables={"catalog": RW, "intervals": RW, "rollups": RO}, buckets={"objects": RW}),
    # ORing PaaS v4 REST (issue 23): deletes cascade to intervals and rollups; configs publish expected values
    Function("oring", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW, "rollups": RW},
             buckets={"objects": RW}, iot_publish=(Scheme().expected_for_every_station(),)),
    Function("itwin", memory_mb=512, timeout_s=API_TIMEOUT_S, tables={"catalog": RW, "intervals": RW, "rollups": RW},
             buckets={"objects": RW}),  # deleting a project deletes the blobs of its object streams
)

BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}


def http_routes() -> tuple[Route, ...]:
    """Every HTTP route of every function, in manifest order."""
    return tuple(r for f in FUNCTIONS for r in f.routes)


def websocket_apis() -> tuple[tuple[Function, WebSocketApi], ...]:
    """Every WebSocket API with the function its routes invoke, in manifest order."""
    return tuple((f, f.websocket) for f in FUNCTIONS if f.websocket is not None)
