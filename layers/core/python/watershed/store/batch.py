"""BatchWriteItem for the repositories that write raw items: groups of 25, UnprocessedItems retried."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pynamodb.models import Model

BATCH = 25
MAX_ATTEMPTS = 8


def write_all(
    model: type[Model],
    requests: list[dict[str, Any]],
    on_request: Callable[[list[dict[str, Any]]], None],
    backoff_base_s: float = 0.05,
) -> list[dict[str, Any]]:
    """Send every request; what DynamoDB still refused after backoff, with every later request, is returned.

    `on_request` sees each group as it is sent, so callers count requests, items and units.
    """
    connection = model._get_connection().connection
    table = model.Meta.table_name
    for start in range(0, len(requests), BATCH):
        pending = requests[start : start + BATCH]
        for attempt in range(MAX_ATTEMPTS):
            on_request(pending)
            result = connection.dispatch("BatchWriteItem", {"RequestItems": {table: pending}})
            pending = (result.get("UnprocessedItems") or {}).get(table) or []
            if not pending:
                break
            time.sleep(min(backoff_base_s * 2**attempt, 2.0))
        if pending:
            return pending + requests[start + BATCH :]
    return []
