"""The embedded AWS of `make run`: moto, the tables and buckets, the handlers, streams and schedules.

Handlers run in this process exactly as deployed (the same files), one at a time behind one lock,
because moto's in-memory backend is not thread-safe. The stream poller and the scheduler stand in
for Lambda's event source mapping and EventBridge; `drain()` makes "eventually" deterministic.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from local import events

log = logging.getLogger("watershed.local")

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "core" / "python"

T = TypeVar("T")

HANDLER_ENV = {
    "POWERTOOLS_SERVICE_NAME": "watershed",
    "POWERTOOLS_METRICS_NAMESPACE": "Watershed",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "WATERSHED_LOOPBACK_ISSUERS": "true",
}

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": events.REGION,
    "AWS_REGION": events.REGION,
}

MAX_DELIVERY_ATTEMPTS = 3
"""Deliveries of one stream batch before the poller gives up on its first record (logged)."""

SCHEDULE_SLICE_ITEMS = 10
"""What one slice of a scheduled run may take (`detail.maxItems`); a slice answering `more` is run
again after the doors had their turn, so a long job never holds the lock for long."""
SCHEDULE_MAX_SLICES = 40
SCHEDULE_DOOR_WAIT_S = 1.0
"""The longest a slice waits for the doors to go quiet, so constant traffic cannot stop the job."""

DOOR_PRIORITY_POLL_S = 0.002
"""How often a deferred stream batch looks again whether the doors are idle."""

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of an EventBridge `rate(...)` expression; None for cron and the unknown."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def prepare_environment() -> None:
    """Fake credentials, region and handler settings; must run before the core is imported."""
    for name, value in FAKE_AWS_ENV.items():
        os.environ[name] = value
    for name, value in HANDLER_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", os.environ["LOG_LEVEL"])
    # Disabled metrics pile up in memory (Powertools clears them only when it prints them).
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    # With metrics disabled locally, every handler would warn that it published none.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from watershed import config

    os.environ.setdefault(config.table_env("catalog"), config.CATALOG_TABLE)
    os.environ.setdefault(config.table_env("intervals"), config.INTERVALS_TABLE)
    os.environ.setdefault(config.table_env("rollups"), config.ROLLUPS_TABLE)
    os.environ.setdefault(config.bucket_env("lake"), config.LAKE_BUCKET)
    os.environ.setdefault(config.bucket_env("objects"), config.OBJECTS_BUCKET)


class LambdaContext:
    """What Lambda passes a handler as `context`: enough for Powertools and timeouts."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{events.REGION}:{events.ACCOUNT_ID}:function:{function_name}"
        )
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _StreamCursor:
    """Where one function stands in one table's stream, like an event source mapping's checkpoint."""

    function: Any
    table: str
    batch_size: int
    stream_arn: str = ""
    max_batching_window_s: float = 1.0
    shard_id: str = ""
    next_sequence: int | None = None
    failed_attempts: int = 0


@dataclass
class _ScheduleTimer:
    function: str
    rule_name: str
    period_s: float
    next_at: float = field(default=0.0)


class _LogLines(io.TextIOBase):
    """Where a handler's stdout goes locally: its EMF metric lines become DEBUG log records.

    Metrics stay enabled, as in the cloud; POWERTOOLS_METRICS_DISABLED would keep every value
    in memory, since Powertools clears the metric set only when it prints it.
    """

    def write(self, text: str) -> int:
        if text.strip():
            logging.getLogger("local.handler_stdout").debug(text.rstrip())
            if '"_aws"' in text:
                with contextlib.suppress(ValueError):
                    EMITTED_METRICS.append(json.loads(text))
        return len(text)


EMITTED_METRICS: collections.deque[dict[str, Any]] = collections.deque(maxlen=2000)
"""The latest EMF metric documents the handlers printed (`GET /_local/metrics`)."""


_HANDLER_STDOUT = _LogLines()


class Runtime:
    """moto plus the handlers of the manifest (or of an explicit list of functions)."""

    def __init__(
        self,
        functions: Sequence[Any] | None = None,
        *,
        functions_dir: Path | None = None,
        scheduler: bool = True,
        poll_interval_s: float = 0.5,
    ) -> None:
        prepare_environment()
        if functions is None:
            from functions.manifest import FUNCTIONS

            functions = FUNCTIONS
        self.functions = {f.name: f for f in functions}
        self.functions_dir = functions_dir or ROOT / "functions"
        self.lock = threading.RLock()
        self.poll_interval_s = poll_interval_s
        self._scheduler_enabled = scheduler
        self._modules: dict[str, ModuleType] = {}
        self._mock: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cursors: list[_StreamCursor] = []
        self._timers: list[_ScheduleTimer] = []
        self._clients: dict[str, Any] = {}
        self._doors_waiting = 0
        self._doors_waiting_lock = threading.Lock()
        self.aws_requests: dict[str, Counter[str]] = {}
        """AWS API calls each function's handlers made ("service:Operation" → count): the bill, for tests."""
        self._invoking: str | None = None

    # lifecycle

    def start(self) -> None:
        """Start moto, create every table and bucket, then the poller and the scheduler."""
        from moto import mock_aws

        self._mock = mock_aws()
        self._mock.start()
        self._count_aws_requests()
        with self.lock:
            self._create_tables()
            self._create_buckets()
            os.environ["SIGNING_KEY_ARNS"] = ""
            self.create_signing_key()
            self._cursors = self._stream_cursors()
        self._timers = self._schedule_timers()
        self._stop.clear()
        if self._cursors:
            self._spawn("watershed-stream-poller", self._poll_loop)
        if self._scheduler_enabled and self._timers:
            self._spawn("watershed-scheduler", self._schedule_loop)

    def stop(self) -> None:
        """Stop the background threads, then moto."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._mock is not None:
            with self.lock:
                self._mock.stop()
            self._mock = None

    def _count_aws_requests(self) -> None:
        """Count every botocore call made while a handler runs, under that handler's function."""
        from botocore.client import BaseClient

        original = BaseClient._make_api_call  # type: ignore[attr-defined]
        if getattr(original, "watershed_counting", False):
            return
        runtime = self

        def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            function = runtime._invoking
            if function is not None:
                service = client.meta.service_model.service_name
                runtime.aws_requests.setdefault(function, Counter())[f"{service}:{operation}"] += 1
            return original(client, operation, params)

        counting.watershed_counting = True  # type: ignore[attr-defined]
        BaseClient._make_api_call = counting  # type: ignore[attr-defined]

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # AWS resources

    def client(self, service: str) -> Any:
        """A boto3 client on moto; call it only while holding `lock`."""
        if service not in self._clients:
            import boto3

            # botocore now sends DynamoDB Streams calls to an account-based host moto does not serve.
            endpoint = (
                f"https://streams.dynamodb.{events.REGION}.amazonaws.com"
                if service == "dynamodbstreams"
                else None
            )
            make_client: Any = boto3.client
            self._clients[service] = make_client(service, region_name=events.REGION, endpoint_url=endpoint)
        return self._clients[service]

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run any code that touches moto (admin commands, test set-up) behind the runtime's lock."""
        with self.lock:
            return fn(*args, **kwargs)

    def _create_tables(self) -> None:
        from watershed.store.tables import TABLES

        for model in TABLES.values():
            if not model.exists():
                model.create_table(wait=True)
            self._check_table(model)

    def _check_table(self, model: Any) -> None:
        """Fail loudly if moto did not get the stream or TTL the model declares."""
        description = self.client("dynamodb").describe_table(TableName=model.Meta.table_name)["Table"]
        view_type = getattr(model.Meta, "stream_view_type", None)
        if view_type:
            spec = description.get("StreamSpecification") or {}
            if not spec.get("StreamEnabled") or spec.get("StreamViewType") != view_type:
                raise RuntimeError(f"table {model.Meta.table_name}: stream {view_type} not enabled")
        ttl_attribute = model._ttl_attribute()
        if ttl_attribute is not None:
            ttl = self.client("dynamodb").describe_time_to_live(TableName=model.Meta.table_name)
            if ttl["TimeToLiveDescription"].get("AttributeName") != ttl_attribute.attr_name:
                raise RuntimeError(f"table {model.Meta.table_name}: TTL on {ttl_attribute.attr_name} not set")

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        from watershed import config

        for key in config.BUCKETS:
            s3.create_bucket(Bucket=os.environ[config.bucket_env(key)])

    def create_signing_key(self) -> str:
        """A new KMS key for access tokens, made the active one (a new key generation in the cloud)."""
        with self.lock:
            metadata = self.client("kms").create_key(
                KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Description="watershed access tokens"
            )["KeyMetadata"]
        arns = [arn for arn in os.environ.get("SIGNING_KEY_ARNS", "").split(",") if arn]
        os.environ["SIGNING_KEY_ARNS"] = ",".join([*arns, metadata["Arn"]])
        return str(metadata["KeyId"])

    def table_name(self, table: str) -> str:
        """The DynamoDB name of a manifest table name ("intervals")."""
        from watershed.store.tables import TABLES

        return str(TABLES[table].Meta.table_name)

    # handlers

    def _handler(self, name: str) -> Callable[[Any, Any], Any]:
        module = self._modules.get(name)
        if module is None:
            path = self.functions_dir / name / "handler.py"
            if not path.is_file():
                raise LookupError(f"function {name!r} has no handler at {path}")
            spec = importlib.util.spec_from_file_location(f"watershed_function_{name}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            self._modules[name] = module
        handler: Callable[[Any, Any], Any] = module.lambda_handler
        return handler

    def invoke(self, name: str, event: Any, context: Any = None, *, background: bool = False) -> Any:
        """Run one function's handler on one event, alone, as Lambda would.

        Door traffic (HTTP, MQTT) counts as waiting while it queues for the lock, so the stream
        poller (`background`) lets it go first: in the cloud the `changes` function runs on its
        own compute and never delays a request.
        """
        function = self.functions.get(name)
        if function is None:
            raise LookupError(f"unknown function {name!r}")
        if not background:
            with self._doors_waiting_lock:
                self._doors_waiting += 1
        try:
            with self.lock:
                handler = self._handler(name)
                if context is None:
                    context = LambdaContext(name, function.memory_mb, function.timeout_s)
                self._invoking = name
                try:
                    with contextlib.redirect_stdout(_HANDLER_STDOUT):
                        return handler(event, context)
                finally:
                    self._invoking = None
        finally:
            if not background:
                with self._doors_waiting_lock:
                    self._doors_waiting -= 1

    async def invoke_async(self, name: str, event: Any) -> Any:
        """`invoke` off the event loop, so a slow handler does not stall the HTTP or MQTT doors."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.invoke, name, event)

    def functions_of_kind(self, kind: str) -> list[Any]:
        return [f for f in self.functions.values() if str(f.kind) == str(kind)]

    # streams

    def _stream_cursors(self) -> list[_StreamCursor]:
        cursors = []
        for function in self.functions.values():
            for source in getattr(function, "streams", ()):
                cursor = _StreamCursor(
                    function,
                    source.table,
                    source.batch_size,
                    max_batching_window_s=float(source.max_batching_window_s),
                )
                table = self.client("dynamodb").describe_table(TableName=self.table_name(source.table))
                cursor.stream_arn = table["Table"]["LatestStreamArn"]
                stream = self.client("dynamodbstreams").describe_stream(StreamArn=cursor.stream_arn)
                cursor.shard_id = stream["StreamDescription"]["Shards"][0]["ShardId"]
                cursors.append(cursor)
        return cursors

    def _read_batch(self, cursor: _StreamCursor) -> list[dict[str, Any]]:
        """The next records of the cursor's shard, read from moto's in-memory stream.

        The event source mapping is AWS's machinery, not Watershed's; reading through
        GetRecords made moto serialise and botocore parse every record (~0.7 ms each, more than
        the `changes` function spends on it), a cost no deployed function ever pays.
        """
        shard = _stream_shard(cursor.stream_arn, cursor.shard_id)
        if shard is None:
            return []
        start = shard.starting_sequence_number if cursor.next_sequence is None else cursor.next_sequence
        raw = shard.get(max(start, shard.starting_sequence_number), cursor.batch_size)
        return [events.stream_record_from_api(r, cursor.stream_arn) for r in raw]

    def _deliver(self, cursor: _StreamCursor) -> int:
        """Hand the next batch to the function; returns how many records it accepted."""
        records = self._read_batch(cursor)
        if not records:
            return 0
        sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
        failed_from: int | None = None
        try:
            response = self.invoke(cursor.function.name, events.stream_batch(records), background=True)
            failed_from = _first_failure(response, sequences)
        except Exception:
            log.exception("%s failed on a stream batch of %d records", cursor.function.name, len(records))
            failed_from = sequences[0]
        if failed_from is None:
            cursor.next_sequence = sequences[-1] + 1
            cursor.failed_attempts = 0
            return len(records)
        accepted = sum(1 for s in sequences if s < failed_from)
        if accepted:
            cursor.failed_attempts = 0
        cursor.failed_attempts += 1
        cursor.next_sequence = failed_from
        if cursor.failed_attempts >= MAX_DELIVERY_ATTEMPTS:
            log.error(
                "%s: giving up on stream record %s after %d attempts",
                cursor.function.name,
                failed_from,
                cursor.failed_attempts,
            )
            cursor.next_sequence = failed_from + 1
            cursor.failed_attempts = 0
            accepted += 1
        return accepted

    def drain(self) -> int:
        """Deliver every pending stream record now, until the streams are quiet; returns the count."""
        total = 0
        with self.lock:
            progressed = True
            while progressed:
                progressed = False
                for cursor in self._cursors:
                    delivered = self._deliver(cursor)
                    if delivered or cursor.failed_attempts:
                        progressed = True
                    total += delivered
        return total

    def _poll_loop(self) -> None:
        """One batch per lock hold, after the doors, until every stream is caught up; then sleep."""
        while not self._stop.wait(self.poll_interval_s):
            try:
                progressed = True
                while progressed and not self._stop.is_set():
                    progressed = False
                    for cursor in self._cursors:
                        self._yield_to_doors(cursor)
                        with self.lock:
                            if self._deliver(cursor) or cursor.failed_attempts:
                                progressed = True
            except Exception:
                log.exception("stream poller")

    def _yield_to_doors(self, cursor: _StreamCursor) -> None:
        """Wait while door traffic queues for the lock, but no longer than the batching window."""
        deadline = time.monotonic() + cursor.max_batching_window_s
        while self._doors_waiting and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(DOOR_PRIORITY_POLL_S)

    # schedules

    def _schedule_timers(self) -> list[_ScheduleTimer]:
        timers = []
        now = time.monotonic()
        for function in self.functions.values():
            for index, schedule in enumerate(getattr(function, "schedules", ())):
                period = rate_seconds(schedule.expression)
                if period is None:
                    log.warning(
                        "%s: schedule %r is not a rate(); fire it with /_local/schedules",
                        function.name,
                        schedule.expression,
                    )
                    continue
                timers.append(
                    _ScheduleTimer(function.name, f"{function.name}-schedule-{index}", period, now + period)
                )
        return timers

    def fire(self, name: str) -> Any:
        """Invoke a scheduled function now with the event its first schedule rule would send."""
        if name not in self.functions:
            raise LookupError(f"unknown function {name!r}")
        if not getattr(self.functions[name], "schedules", ()):
            raise LookupError(f"function {name!r} has no schedule")
        return self.invoke(name, events.scheduled_event(f"{name}-schedule-0"))

    def run_scheduled(self, name: str) -> int:
        """A scheduled function's run as the scheduler does it: in slices; returns how many slices."""
        if not getattr(self.functions.get(name), "schedules", ()):
            raise LookupError(f"function {name!r} has no schedule")
        return self._run_in_slices(name, f"{name}-schedule-0")

    def _run_in_slices(self, function: str, rule_name: str) -> int:
        """One scheduled run as slices of SCHEDULE_SLICE_ITEMS, each after the doors had their turn."""
        for slices in range(1, SCHEDULE_MAX_SLICES + 1):
            event = events.scheduled_event(rule_name)
            event["detail"] = {"maxItems": SCHEDULE_SLICE_ITEMS}
            deadline = time.monotonic() + SCHEDULE_DOOR_WAIT_S
            while self._doors_waiting and time.monotonic() < deadline and not self._stop.is_set():
                time.sleep(DOOR_PRIORITY_POLL_S)
            result = self.invoke(function, event, background=True)
            if not (isinstance(result, dict) and result.get("more")) or self._stop.is_set():
                return slices
        return SCHEDULE_MAX_SLICES

    def _schedule_loop(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            for timer in self._timers:
                if now < timer.next_at:
                    continue
                timer.next_at = now + timer.period_s
                try:
                    self._run_in_slices(timer.function, timer.rule_name)
                except Exception:
                    log.exception("scheduled run of %s", timer.function)


def _stream_shard(stream_arn: str, shard_id: str) -> Any:
    """moto's shard behind a stream ARN, looked up on every read; None once that stream is gone."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][events.REGION]
    try:
        table = backend._get_table_from_arn(stream_arn)
    except Exception:
        return None
    shard = table.stream_shard
    if shard is None or shard.id != shard_id or not stream_arn.endswith(f"/stream/{table.latest_stream_label}"):
        return None
    return shard


def _first_failure(response: Any, sequences: Iterable[int]) -> int | None:
    """The lowest failed sequence number of a partial-batch response, None if all succeeded."""
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures") or []
    if not failures:
        return None
    numbers = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier:
            return min(sequences)
        try:
            numbers.append(int(identifier))
        except ValueError:
            return min(sequences)
    return min(numbers)
