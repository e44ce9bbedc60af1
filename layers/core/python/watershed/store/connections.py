"""Connections and subscriptions repository: the one place that knows how they sit in DynamoDB.

A connection is one item (`pk` = connection id, `sk` = `conn`); a subscription is one item per
stream it covers (`sk` = `sub#<subscription>#<stream>`), indexed by stream, so the fan-out finds
every subscriber of a stream with one Query. Every item expires (TTL) a little after API
Gateway's two-hour connection limit, so a connection whose `$disconnect` never ran goes away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from watershed.store.tables import ConnectionItem

CONNECTION = "conn"
SUBSCRIPTION = "sub#"
LIFETIME_S = 3 * 3600
"""API Gateway closes a connection after 2 hours; its items outlive it by one more."""


@dataclass(frozen=True)
class Subscriber:
    """One subscription item: which connection wants which stream, and how (the subscription's doc)."""

    connection: str
    subscription: str
    stream: str
    doc: dict[str, Any]


def _expires() -> timedelta:
    return timedelta(seconds=LIFETIME_S)


def put_connection(connection_id: str, doc: dict[str, Any]) -> None:
    ConnectionItem(connection_id, CONNECTION, doc=doc, expires=_expires()).save()


def get_connection(connection_id: str) -> dict[str, Any] | None:
    try:
        item = ConnectionItem.get(connection_id, CONNECTION)
    except ConnectionItem.DoesNotExist:
        return None
    return dict(item.doc or {})


def put_subscription(connection_id: str, subscription_id: str, streams: Iterable[str], doc: dict[str, Any]) -> int:
    """One item per stream (BatchWriteItem); returns how many."""
    expires = _expires()
    count = 0
    with ConnectionItem.batch_write() as batch:
        for stream in streams:
            batch.save(
                ConnectionItem(
                    connection_id, f"{SUBSCRIPTION}{subscription_id}#{stream}", stream=stream, doc=doc, expires=expires
                )
            )
            count += 1
    return count


def _delete(items: Iterable[ConnectionItem]) -> int:
    count = 0
    with ConnectionItem.batch_write() as batch:
        for item in items:
            batch.delete(item)
            count += 1
    return count


def delete_subscription(connection_id: str, subscription_id: str) -> int:
    """Remove a subscription's items; returns how many there were (0: no such subscription)."""
    prefix = f"{SUBSCRIPTION}{subscription_id}#"
    return _delete(ConnectionItem.query(connection_id, ConnectionItem.sk.startswith(prefix)))


def count_subscriptions(connection_id: str) -> int:
    """Subscribed streams of a connection (its subscription items)."""
    return ConnectionItem.count(connection_id, ConnectionItem.sk.startswith(SUBSCRIPTION))


def count_items(connection_id: str) -> int:
    """Every item a connection has (itself and its subscriptions)."""
    return ConnectionItem.count(connection_id)


def delete_connection(connection_id: str) -> int:
    """Remove a connection and every subscription of it; returns how many items went."""
    return _delete(ConnectionItem.query(connection_id))


def subscribers(stream_id: str) -> list[Subscriber]:
    """Every subscription of a stream, ordered by connection: one Query of the by-stream index."""
    found = []
    for item in ConnectionItem.by_stream.query(stream_id):
        _, subscription, _stream = item.sk.split("#", 2)
        found.append(Subscriber(item.pk, subscription, stream_id, dict(item.doc or {})))
    return found
