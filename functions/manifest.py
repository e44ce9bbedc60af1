"""THE list of Watershed's functions and every trigger they have.

infra/ builds the cloud from this list and local/ serves it; nothing is listed twice. HTTP
routes are not repeated here: each function's routes come from the layer's route table
(watershed.api.routes), keyed by the function's name.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LAYER = ROOT / "layers" / "core" / "python"
if str(_LAYER) not in sys.path:
    sys.path.insert(0, str(_LAYER))

from watershed.api.routes import Route, routes_for  # noqa: E402


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
    """An AWS IoT topic rule: IoT SQL selecting messages for the function."""

    name: str
    sql: str


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
    """MQTT topic patterns (IAM wildcards, e.g. `things/*/config/expected/*`) it may publish to, retained."""

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

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "authorizer",
        kind=Kind.REST_AUTHORIZER,
        memory_mb=256,
        timeout_s=5,
        tables={"catalog": RO},
    ),
    Function(
        "catalog", tables={"catalog": RW, "intervals": RW, "rollups": RW}, buckets={"objects": RW}, timeout_s=29
    ),
    # writers of intervals mark the touched buckets dirty in the catalog, in the same calls (read-your-writes)
    Function("ingest", memory_mb=512, timeout_s=29, tables={"catalog": RW, "intervals": RW}),
    Function("query", memory_mb=512, timeout_s=29, tables={"catalog": RO, "intervals": RO, "rollups": RO}),
    # MQTT (issue 5): a rule that may see binary selects encode(*, 'base64') (DESIGN §4)
    Function("mqtt_authorizer", kind=Kind.IOT_AUTHORIZER, memory_mb=256, timeout_s=5, tables={"catalog": RO}),
    Function(
        "mqtt_ingest",
        kind=Kind.WORKER,
        memory_mb=512,
        timeout_s=29,
        tables={"catalog": RW, "intervals": RW},
        queues={"mqtt_dlq": Access.WRITE},
        topic_rules=(
            TopicRule(
                "watershed_mqtt_data",
                "SELECT encode(*, 'base64') AS payload, topic() AS topic, topic(2) AS station, "
                "topic(4) AS bucket, clientid() AS clientId, timestamp() AS receivedAt "
                "FROM 'things/+/data/+'",
            ),
        ),
    ),
    Function(
        "mqtt_config",
        kind=Kind.WORKER,
        tables={"catalog": RW},
        queues={"mqtt_dlq": Access.WRITE},
        topic_rules=(
            TopicRule(
                "watershed_mqtt_config_reported",
                "SELECT encode(*, 'base64') AS payload, topic() AS topic, topic(2) AS station, "
                "topic(5) AS configGroup, clientid() AS clientId, timestamp() AS receivedAt "
                "FROM 'things/+/config/reported/+'",
            ),
        ),
    ),
    Function(
        "presence",
        kind=Kind.WORKER,
        tables={"catalog": RW},
        queues={"mqtt_dlq": Access.WRITE},
        topic_rules=(TopicRule("watershed_presence", "SELECT * FROM '$aws/events/presence/+/+'"),),
    ),
    Function("configs", tables={"catalog": RW}, iot_publish=("things/*/config/expected/*",)),
    # object streams and exports (issue 7)
    Function("objects", memory_mb=1024, timeout_s=29, tables={"catalog": RW, "intervals": RW},
             buckets={"objects": RW}),
    Function("exports", memory_mb=1024, timeout_s=29, tables={"catalog": RO, "intervals": RO, "rollups": RO},
             buckets={"objects": RW}),
    Function("exports_worker", kind=Kind.WORKER, memory_mb=1024, timeout_s=900,
             tables={"catalog": RO, "intervals": RO, "rollups": RO}, buckets={"objects": RW},
             schedules=(Schedule("rate(1 minute)"),)),
    # aggregation (issue 6): changes reads the intervals stream; rollup recomputes dirty buckets
    Function("changes", kind=Kind.WORKER, memory_mb=512, timeout_s=60, streams=(TableStream("intervals"),),
             tables={"catalog": RW, "intervals": RO}, buckets={"lake": Access.WRITE}),
    Function("rollup", kind=Kind.WORKER, memory_mb=512, timeout_s=120, schedules=(Schedule("rate(1 minute)"),),
             tables={"catalog": RW, "intervals": RO, "rollups": RW}),
    # the facades (issue 22): one function each, routes under their prefix in the route table
    Function("customstream", memory_mb=512, timeout_s=29, tables={"catalog": RW, "intervals": RW}),
    Function("bitpool", memory_mb=512, timeout_s=29, tables={"catalog": RW, "intervals": RW, "rollups": RO}),
    Function("byteport", memory_mb=1024, timeout_s=29, tables={"catalog": RW, "intervals": RW, "rollups": RO},
             buckets={"objects": RW}),
)

BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}


def http_routes() -> tuple[Route, ...]:
    """Every HTTP route of every function, in manifest order."""
    return tuple(r for f in FUNCTIONS for r in f.routes)
