"""ORing PaaS v4 over MQTT, as Watershed maps it onto AWS IoT topics (DESIGN §4).

ORing's `$thing/{id}/$data/{bucket}` is `things/{id}/data/{bucket}` here, and
`$thing/{id}/$conf/$expected|$reported/{group}` is `things/{id}/config/expected|reported/{group}`
(AWS IoT topics cannot start with `$`). Payloads keep ORing's shapes: a data message is one
`{"id", "value", "timestamp"?}` or an array of them; a config message is an array of
`{"id", "value"}`. This module only translates; services decide what to store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from watershed import jsontext, topics
from watershed.errors import ValidationError
from watershed.timefmt import parse_time

DATA_FIELDS = ("id", "value", "timestamp")


# The topics themselves are watershed.topics' (with the stage prefix, if any); these name them
# in ORing's terms for the services.


def data_topic(station_id: str, bucket: str) -> str:
    return topics.SCHEME.data(station_id, bucket)


def expected_topic(station_id: str, group: str) -> str:
    return topics.SCHEME.expected(station_id, group)


def reported_topic(station_id: str, group: str) -> str:
    return topics.SCHEME.reported(station_id, group)


def client_id(station_id: str) -> str:
    return topics.SCHEME.client_id(station_id)


def station_of_client(client: str | None) -> str | None:
    """The station id of this stage's `[<prefix>:]thing:<id>` client id; None for any other client."""
    return topics.SCHEME.station_of_client(client)


def parse_json(payload: bytes) -> Any:
    """A message payload as JSON, or a ValidationError saying why it is not.

    Numbers out of range read as ±inf, so the item holding one is refused on its own and the
    message's other items are still stored.
    """
    return jsontext.loads(payload, "payload", numbers_out_of_range="infinity")


@dataclass(frozen=True)
class DataItem:
    """One telemetry item of a data message, checked for shape (not yet against its stream)."""

    index: int
    alias: str
    value: Any
    timestamp: int | None


@dataclass(frozen=True)
class Rejected:
    """An item that cannot be stored, with the reason (it goes to the dead-letter queue)."""

    index: int
    item: Any
    reason: str
    field: str | None = None


def data_items(document: Any) -> tuple[list[DataItem], list[Rejected]]:
    """Split a data message into well-formed items and rejected ones (never raises)."""
    items = document if isinstance(document, list) else [document]
    accepted: list[DataItem] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        try:
            accepted.append(_data_item(index, item))
        except ValidationError as error:
            rejected.append(Rejected(index, item, error.message, error.field))
    return accepted, rejected


def _data_item(index: int, item: Any) -> DataItem:
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise ValidationError("each item must be an object with id and value", where)
    unknown = [name for name in item if name not in DATA_FIELDS]
    if unknown:
        raise ValidationError(f"unknown field '{unknown[0]}'", f"{where}.{unknown[0]}")
    alias = item.get("id")
    if not isinstance(alias, str) or not alias:
        raise ValidationError("id must be a non-empty string (the stream alias)", f"{where}.id")
    if "value" not in item or item["value"] is None:
        raise ValidationError("value is required", f"{where}.value")
    timestamp = None
    if item.get("timestamp") is not None:
        timestamp = parse_time(item["timestamp"], f"{where}.timestamp")
    return DataItem(index, alias, item["value"], timestamp)


def config_values(document: Any) -> dict[str, Any]:
    """A config message as `{key: value}`: ORing's `[{"id", "value"}]` array, or a plain object."""
    if isinstance(document, dict):
        return dict(document)
    if not isinstance(document, list):
        raise ValidationError("a config message is an array of {id, value} or an object", None)
    values: dict[str, Any] = {}
    for index, entry in enumerate(document):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or "value" not in entry:
            raise ValidationError("each config entry must be {\"id\": string, \"value\": any}", f"[{index}]")
        values[entry["id"]] = entry["value"]
    return values


def config_message(values: dict[str, Any]) -> bytes:
    """The expected config as the device reads it: ORing's array of `{"id", "value"}`."""
    return json.dumps([{"id": key, "value": value} for key, value in values.items()]).encode()
