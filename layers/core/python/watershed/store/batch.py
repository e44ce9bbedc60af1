"""BatchWriteItem for the repositories that write raw items: groups of 25, UnprocessedItems retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pynamodb.models import Model

BATCH = 25
MAX_ATTEMPTS = 8


Tabled = tuple[str, dict[str, Any]]
"""A write request and the name of the table it goes to: one BatchWriteItem may span tables."""


def write_all(
    model: type[Model],
    requests: list[dict[str, Any]],
    on_request: Callable[[list[dict[str, Any]]], None],
    backoff_base_s: float = 0.05,
) -> list[dict[str, Any]]:
    """Send every request; what DynamoDB still refused after backoff, with every later request, is returned.

    `on_request` sees each group as it is sent, so callers count requests, items and units.
    """
    table = model.Meta.table_name
    unstored = write_tables(model, [(table, r) for r in requests], lambda g: on_request([r for _, r in g]),
                            backoff_base_s)
    return [request for _, request in unstored]


def write_tables(
    model: type[Model],
    requests: list[Tabled],
    on_request: Callable[[list[Tabled]], None],
    backoff_base_s: float = 0.05,
) -> list[Tabled]:
    """`write_all` for requests to several tables, 25 to a call whatever their tables (`model` gives
    the connection). Requests keep their order across calls, so what must land first goes first."""
    connection = model._get_connection().connection
    for start in range(0, len(requests), BATCH):
        pending = requests[start : start + BATCH]
        for attempt in range(MAX_ATTEMPTS):
            on_request(pending)
            items: dict[str, list[dict[str, Any]]] = {}
            for table, request in pending:
                items.setdefault(table, []).append(request)
            result = connection.dispatch("BatchWriteItem", {"RequestItems": items})
            left = result.get("UnprocessedItems") or {}
            pending = [(table, request) for table, requests_left in left.items() for request in requests_left]
            if not pending:
                break
            time.sleep(min(backoff_base_s * 2**attempt, 2.0))
        if pending:
            return pending + requests[start + BATCH :]
    return []
