"""ORing PaaS v4 over MQTT, as Watershed maps it onto AWS IoT topics (docs/architecture.md, The doors).

ORing's `$thing/{id}/$data/{bucket}` is `things/{id}/data/{bucket}` here, and
`$thing/{id}/$conf/$expected|$reported/{group}` is `things/{id}/config/expected|reported/{group}`
(AWS IoT topics cannot start with `$`). Payloads keep ORing's shapes: a data message is one
`{"id", "value", "timestamp"?}` or an array of them; a config message is an array of
`{"id", "value"}`. This module only translates; services decide what to store.
"""

from __future__ import annotations

from typing import Any

from watershed import jsontext
from watershed.errors import ValidationError, WatershedError
from watershed.services.mqtt import dead_letters, events, ingest, presence
from watershed.services.mqtt.items import DataItem, Rejected
from watershed.timefmt import parse_time

DATA_FIELDS = ("id", "value", "timestamp")


def data_message(event: dict[str, Any], function: str | None = None) -> ingest.IngestResult:
    """A data topic rule's event: the payload read as ORing telemetry, then stored by the service."""
    try:
        items, rejected = data_items(parse_json(events.rule_payload(event)))
    except WatershedError as error:
        return ingest.refuse(event, error, function)
    return ingest.ingest_items(event, items, rejected, function)


def reported_message(event: dict[str, Any], function: str | None = None) -> dict[str, Any] | None:
    """A reported-config topic rule's event: the payload read as an ORing config, then stored."""
    try:
        values = config_values(parse_json(events.rule_payload(event)))
    except WatershedError as error:
        dead_letters.send(dead_letters.letter(event, error.message, function))
        return None
    return presence.report_config(event, values, function)


def parse_json(payload: bytes) -> Any:
    """A message payload as JSON, or a ValidationError saying why it is not.

    Numbers out of range read as ±inf, so the item holding one is refused on its own and the
    message's other items are still stored.
    """
    return jsontext.loads(payload, "payload", numbers_out_of_range="infinity")


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
