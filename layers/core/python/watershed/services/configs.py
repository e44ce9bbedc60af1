"""Device configs: the expected values set over REST, the values a device reports over MQTT.

One catalog item per (station, config group), listed under its station. Setting the expected
values publishes them retained on the group's expected topic, so a device gets them whenever it
(re)subscribes; the device answers on the reported topic. A view shows both, their times, and the
delta: every expected key whose reported value differs.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from watershed import config, topics
from watershed import validation as v
from watershed.errors import NotFound, ValidationError
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.store import catalog as store
from watershed.timefmt import format_time, now_ms

log = logging.getLogger(__name__)

KIND = "config"
BODY_FIELDS = ("configs", "partialUpdate")
MAX_KEYS = 200
KEY_MAX = 128
MAX_BYTES = 65_536
"""Expected and reported values share one catalog item, and a DynamoDB item holds at most 400 KB."""
IOT_DATA_ENDPOINT = config.IOT_DATA_ENDPOINT_ENV

_iot_data: Any = None


def _publisher() -> Any:
    """The IoT data-plane client (endpoint from IOT_DATA_ENDPOINT when infra sets one)."""
    global _iot_data
    if _iot_data is None:
        import boto3

        endpoint = os.environ.get(IOT_DATA_ENDPOINT) or None
        _iot_data = boto3.client("iot-data", endpoint_url=endpoint)
    return _iot_data


def publish_expected(station_id: str, group: str, values: dict[str, Any] | None) -> None:
    """Retain the expected config for the device; None clears the retained message."""
    payload = b"" if values is None else topics.config_message(values)
    _publisher().publish(
        topic=topics.SCHEME.expected(station_id, group), qos=1, retain=True, payload=payload
    )


def _config_id(station_id: str, group: str) -> str:
    return f"{station_id}:{group}"


def _group_name(group: str) -> str:
    return v.topic_level(group, "group")


def _load(station_id: str, group: str) -> dict[str, Any] | None:
    return store.get(KIND, _config_id(station_id, group))


def _save(doc: dict[str, Any], existed: bool) -> None:
    parent = ("station", doc["station"])
    if existed:
        store.replace(KIND, doc, parent)
    else:
        store.create(KIND, doc, parent)


def _new_doc(station: dict[str, Any], group: str) -> dict[str, Any]:
    return {
        "id": _config_id(station["id"], group),
        "org": station["org"],
        "pool": station["pool"],
        "station": station["id"],
        "name": group,
        "expected": {},
        "reported": {},
        "lastConfigTime": None,
        "lastReportTime": None,
        "created": now_ms(),
    }


def delta(expected: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
    """Expected keys the device has not confirmed with the same value."""
    return {key: value for key, value in expected.items() if key not in reported or reported[key] != value}


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """A config group as the API shows it (ORing's `configs` list plus expected/reported/delta)."""
    expected = doc.get("expected") or {}
    reported = doc.get("reported") or {}
    keys = list(expected) + [key for key in reported if key not in expected]
    return {
        "name": doc["name"],
        "stationId": doc["station"],
        "configs": [
            {"key": key, "expectedValue": expected.get(key), "reportedValue": reported.get(key)}
            for key in keys
        ],
        "expected": expected,
        "reported": reported,
        "delta": delta(expected, reported),
        "lastConfigTime": format_time(doc["lastConfigTime"]) if doc.get("lastConfigTime") else None,
        "lastReportTime": format_time(doc["lastReportTime"]) if doc.get("lastReportTime") else None,
    }


def _check_values(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object of config keys and values", field)
    if len(value) > MAX_KEYS:
        raise ValidationError(f"at most {MAX_KEYS} keys per config group", field)
    for key in value:
        v.text(key, f"{field}.{key}", max_len=KEY_MAX)
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise ValidationError("config values must be finite numbers", field) from None
    if len(encoded.encode()) > MAX_BYTES:
        raise ValidationError(f"a config group encodes to at most {MAX_BYTES} bytes of JSON", field)
    return dict(value)


def put_config(principal: Principal, station_id: str, group: str, body: Any) -> dict[str, Any]:
    """Set the expected values (replace, or merge with `partialUpdate`) and publish them retained."""
    station = cat.get_station(principal, station_id)
    group = _group_name(group)
    v.obj(body, BODY_FIELDS, ("configs",))
    values = _check_values(body["configs"], "configs")
    partial = v.boolean(body.get("partialUpdate", False), "partialUpdate")
    doc = _load(station_id, group)
    existed = doc is not None
    if doc is None:
        doc = _new_doc(station, group)
    doc["expected"] = {**(doc.get("expected") or {}), **values} if partial else values
    doc["lastConfigTime"] = now_ms()
    _save(doc, existed)
    publish_expected(station_id, group, doc["expected"])
    return view(doc)


def get_config(principal: Principal, station_id: str, group: str) -> dict[str, Any]:
    cat.get_station(principal, station_id)
    doc = _load(station_id, _group_name(group))
    if doc is None:
        raise NotFound("config group not found", "group")
    return view(doc)


def list_configs(principal: Principal, station_id: str, name: str | None = None) -> list[dict[str, Any]]:
    """A station's config groups (groups are few: one Query), or only the one called `name`."""
    if name is not None:
        v.topic_level(name, "name")
    cat.get_station(principal, station_id)
    return [view(doc) for _, doc in store.children("station", station_id, KIND)
            if name is None or doc["name"] == name]


def delete_config(principal: Principal, station_id: str, group: str) -> None:
    """Forget the group and clear its retained expected message."""
    cat.get_station(principal, station_id)
    group = _group_name(group)
    if _load(station_id, group) is None:
        raise NotFound("config group not found", "group")
    store.delete_items([(store.entity_pk(KIND, _config_id(station_id, group)), store.META)])
    publish_expected(station_id, group, None)


def record_reported(station_id: str, group: str, values: dict[str, Any], reported_at: int) -> dict[str, Any]:
    """Store what a device reported for a group (its whole reported state for that group)."""
    station = cat.get_station_any(station_id)
    if station is None:
        raise NotFound("station not found", "station")
    group = _group_name(group)
    doc = _load(station_id, group)
    existed = doc is not None
    if doc is None:
        doc = _new_doc(station, group)
    doc["reported"] = _check_values(values, "reported")
    doc["lastReportTime"] = reported_at
    _save(doc, existed)
    return view(doc)


def remove_all(station_id: str) -> None:
    """Delete every config group of a station (for the station's cascade delete)."""
    groups = store.children("station", station_id, KIND)
    keys = [(store.entity_pk(KIND, doc["id"]), store.META) for _, doc in groups]
    if keys:
        store.delete_items(keys)
