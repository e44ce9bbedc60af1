"""Live data: WebSocket connections, their subscriptions, and what each should receive of a batch of changes.

The `changes` function reads the intervals table's stream, so every door (REST, MQTT, WebSocket,
facades) reaches subscribers by writing the table. Per batch there is one look-up of subscribers
per touched stream, and one Delivery per connection holding every update it gets (coalesced);
the WebSocket door encodes and posts it (watershed.api.websocket). Wire formats are not known
here: a Delivery names the connection's protocol and carries plain values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from watershed.errors import NotFound, ValidationError
from watershed.model import NUMERIC_TYPES, Change, Principal, Stream
from watershed.services import auth
from watershed.services import catalog as cat
from watershed.services.rollup_query import series, value_of
from watershed.services.rollup_time import bucket_start, parse_period, zone
from watershed.store import catalog as catalog_store
from watershed.store import connections as store
from watershed.timefmt import now_ms

MAX_STREAMS_PER_SUBSCRIPTION = 1000
MAX_STREAMS_PER_CONNECTION = 5000


@dataclass(frozen=True)
class Aggregate:
    """What an aggregate subscription wants: the bucket of `period` in `tz` (None: the stream's zone)."""

    period: str
    functions: tuple[str, ...] | None
    tz: str | None

    def to_doc(self) -> dict[str, Any]:
        return {"period": self.period, "fns": list(self.functions) if self.functions else None, "tz": self.tz}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Aggregate | None:
        if not doc:
            return None
        fns = doc.get("fns")
        return cls(str(doc["period"]), tuple(fns) if fns else None, doc.get("tz"))


@dataclass(frozen=True)
class Update:
    """What one subscription gets of one stream in one batch.

    `kind` is `intervals` (data: `{"timestamp": ms, "value"}` in stream order, one per timestamp)
    or `aggregates` (data: `{"timestamp": bucket start ms, <fn>: value...}`, each touched bucket
    recomputed).
    """

    kind: str
    subscription: str
    stream: str
    data: list[dict[str, Any]]
    context: dict[str, Any] | None = None
    """What the protocol stored with the subscription (live.subscribe `context`), for its encode."""


@dataclass
class Delivery:
    """Everything one connection receives of one batch."""

    connection: str
    protocol: str
    updates: list[Update] = field(default_factory=list)


# connections


def connect(connection_id: str, principal: Principal, protocol: str) -> None:
    store.put_connection(
        connection_id,
        {"org": principal.org, "principal": auth.to_context(principal), "protocol": protocol, "connectedAt": now_ms()},
    )


def principal_of(connection_id: str) -> Principal:
    """Who opened the connection, as its `$connect` authorizer said; Unauthorized once it is gone.

    API Gateway passes the authorizer's context with every frame; this is the fallback for a frame
    that arrives without it.
    """
    doc = store.get_connection(connection_id)
    return auth.from_context((doc or {}).get("principal"))


def connect_anonymous(connection_id: str, protocol: str) -> None:
    """A connection of an API without a `$connect` authorizer: no principal until `authenticate`."""
    store.put_connection(connection_id, {"protocol": protocol, "connectedAt": now_ms()})


def authenticate(connection_id: str, principal: Principal, protocol: str) -> None:
    """In-band authentication: the principal is kept on the connection item, so the later frames
    (other invocations) know it. A frame-level re-authentication replaces it."""
    doc = store.get_connection(connection_id) or {"protocol": protocol, "connectedAt": now_ms()}
    doc.update({"org": principal.org, "principal": auth.to_context(principal)})
    store.put_connection(connection_id, doc)


def principal_or_none(connection_id: str) -> Principal | None:
    """The principal an in-band connection authenticated as; None before (or once the item is gone)."""
    doc = (store.get_connection(connection_id) or {}).get("principal")
    return auth.from_context(doc) if doc else None


def disconnect(connection_id: str) -> int:
    """Forget a connection and its subscriptions; how many items went."""
    return store.delete_connection(connection_id)


# subscriptions


def streams_of_station(principal: Principal, station_id: str, field: str = "station") -> list[Stream]:
    try:
        docs = [doc for _, doc in cat.list_streams(principal, station_id, None)]
    except NotFound:
        raise NotFound("station not found", field) from None
    return [cat.stream_from_doc(doc) for doc in docs]


def streams_of_pool(principal: Principal, pool_id: str, field: str = "pool") -> list[Stream]:
    try:
        stations = [doc["id"] for _, doc in cat.list_stations(principal, pool_id, None)]
    except NotFound:
        raise NotFound("pool not found", field) from None
    streams: list[Stream] = []
    for station in stations:
        streams.extend(cat.stream_from_doc(doc) for _, doc in catalog_store.children("station", station, "stream"))
    return streams


def subscribe(
    connection_id: str, principal: Principal, protocol: str, streams: Sequence[Stream], aggregate: Aggregate | None,
    *, subscription_id: str | None = None, context: dict[str, Any] | None = None,
) -> str:
    """A new subscription of the connection to these streams (already checked to be the principal's).

    `subscription_id` lets a protocol name it (JSON-RPC: after the subscribe request's id; no `#`),
    `context` travels to its encode with every Update (kept small: it is stored per stream).
    """
    return subscribe_ids(connection_id, principal, protocol, [s.id for s in streams], aggregate,
                         subscription_id=subscription_id, context=context)


def subscribe_ids(
    connection_id: str, principal: Principal, protocol: str, streams: Sequence[str], aggregate: Aggregate | None,
    *, subscription_id: str | None = None, context: dict[str, Any] | None = None,
) -> str:
    """subscribe() by stream ids, which may be pseudo ids of a feed other than the intervals
    table's (services.entity_feed: catalog changes)."""
    if len(streams) > MAX_STREAMS_PER_SUBSCRIPTION:
        raise ValidationError(
            f"a subscription covers at most {MAX_STREAMS_PER_SUBSCRIPTION} streams, this one {len(streams)}"
        )
    if store.count_subscriptions(connection_id) + len(streams) > MAX_STREAMS_PER_CONNECTION:
        raise ValidationError(f"a connection subscribes to at most {MAX_STREAMS_PER_CONNECTION} streams")
    if subscription_id is not None and (not subscription_id or "#" in subscription_id):
        raise ValidationError("a subscription id is non-empty and holds no '#'", "subscription")
    subscription = subscription_id or uuid.uuid4().hex
    doc: dict[str, Any] = {
        "org": principal.org,
        "protocol": protocol,
        "aggregate": aggregate.to_doc() if aggregate else None,
    }
    if context is not None:
        doc["context"] = context
    store.put_subscription(connection_id, subscription, dict.fromkeys(streams), doc)
    return subscription


def unsubscribe(connection_id: str, subscription_id: str) -> None:
    if not subscription_id or "#" in subscription_id or store.delete_subscription(connection_id, subscription_id) == 0:
        raise NotFound("subscription not found", "subscription")


# fan-out


def _raw_data(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """One row per timestamp with its latest value, in first-seen order; deleted timestamps drop out."""
    latest: dict[int, Any] = {}
    for change in changes:
        if change.op == "put":
            latest[change.ts] = change.value
        else:
            latest.pop(change.ts, None)
    return [{"timestamp": ts, "value": value} for ts, value in latest.items()]


class _Buckets:
    """Recomputed aggregate buckets, shared by every subscriber of a batch that wants the same one."""

    def __init__(self) -> None:
        self._streams: dict[str, Stream | None] = {}
        self._rows: dict[tuple[str, str, str, int], Any] = {}

    def stream(self, stream_id: str) -> Stream | None:
        if stream_id not in self._streams:
            doc = cat.get_stream_any(stream_id)
            self._streams[stream_id] = cat.stream_from_doc(doc) if doc else None
        return self._streams[stream_id]

    def rows(self, stream: Stream, aggregate: Aggregate, changes: Sequence[Change]) -> list[dict[str, Any]]:
        period = parse_period(aggregate.period)
        tz = zone(aggregate.tz or stream.time_zone)
        functions = aggregate.functions or (("avg",) if stream.type in NUMERIC_TYPES else ("last",))
        starts = sorted({bucket_start(period, c.ts, tz) for c in changes})
        out = []
        for start in starts:
            key = (stream.id, period.name, tz.key, start)
            if key not in self._rows:
                page = series(stream, period, tz, start, start + 1, limit=1)
                self._rows[key] = page.rows[0] if page.rows else None
            row = self._rows[key]
            values: dict[str, Any] = {"timestamp": start}
            for name in functions:
                values[name] = value_of(name, row) if row is not None else (0 if name == "count" else None)
            out.append(values)
        return out


def deliveries(changes: Sequence[Change]) -> list[Delivery]:
    """Who receives what of this batch: one subscriber Query per touched stream, one Delivery per connection."""
    by_stream: dict[str, list[Change]] = {}
    for change in changes:
        by_stream.setdefault(change.stream, []).append(change)
    out: dict[str, Delivery] = {}
    buckets = _Buckets()
    for stream_id, stream_changes in by_stream.items():
        subscribers = store.subscribers(stream_id)
        if not subscribers:
            continue
        org = stream_changes[0].org
        raw: list[dict[str, Any]] | None = None
        for subscriber in subscribers:
            if subscriber.doc.get("org") != org:
                continue
            aggregate = Aggregate.from_doc(subscriber.doc.get("aggregate"))
            if aggregate is None:
                raw = _raw_data(stream_changes) if raw is None else raw
                if not raw:
                    continue
                update = Update("intervals", subscriber.subscription, stream_id, raw,
                                subscriber.doc.get("context"))
            else:
                stream = buckets.stream(stream_id)
                if stream is None:
                    continue
                update = Update("aggregates", subscriber.subscription, stream_id,
                                buckets.rows(stream, aggregate, stream_changes), subscriber.doc.get("context"))
            delivery = out.get(subscriber.connection)
            if delivery is None:
                delivery = out[subscriber.connection] = Delivery(
                    subscriber.connection, str(subscriber.doc.get("protocol") or "")
                )
            delivery.updates.append(update)
    return list(out.values())
