"""Paged DynamoDB Query for the repositories that read raw items (intervals, rollups, markers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.models import Model


def pages(model: type[Model], params: dict[str, Any], limit: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """Each page of a Query on the model's table (one request per page) until exhausted or `limit` items."""
    remaining = limit
    last_key: dict[str, Any] | None = None
    connection = model._get_connection().connection
    while remaining is None or remaining > 0:
        request = {"TableName": model.Meta.table_name, **params}
        if remaining is not None:
            request["Limit"] = min(remaining, params.get("Limit", remaining))
        if last_key:
            request["ExclusiveStartKey"] = last_key
        data = connection.dispatch("Query", request)
        items: list[dict[str, Any]] = data.get("Items", [])
        yield items
        if remaining is not None:
            remaining -= len(items)
        last_key = data.get("LastEvaluatedKey")
        if not last_key:
            return
