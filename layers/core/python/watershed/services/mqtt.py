"""MQTT devices: credentials, the IoT custom authorizer, data and config messages, presence.

A station's MQTT secret is generated here, shown once and stored as a SHA-256 hash on the station.
Devices connect as client `thing:<station id>`, username `<station id>`, password the secret;
the authorizer answers with an IoT policy that lets a station publish only under its own
`things/<id>/` topics and receive only its own expected configs. Topic rules hand messages to
`ingest_message`, `report_config` and `presence`; what cannot be stored goes to the SQS
dead-letter queue (MQTT_DLQ_URL) with the reason, and the valid items of a message are stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import Interval, Principal, StreamType
from watershed.protocols import oring_mqtt
from watershed.services import catalog as cat
from watershed.services import configs, ingest
from watershed.store import catalog as store
from watershed.timefmt import now_ms

log = logging.getLogger(__name__)

DLQ_ENV = "MQTT_DLQ_URL"
SESSION_SECONDS = 86_400
POLICY_REFRESH_SECONDS = 3_600
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


# --------------------------------------------------------------------------- credentials


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def rotate_secret(principal: Principal, station_id: str) -> dict[str, Any]:
    """A new MQTT secret for the station (the old one stops working); shown only in this answer."""
    station = cat.get_station(principal, station_id)
    secret = secrets.token_urlsafe(24)
    station["secretHash"] = hash_secret(secret)
    cat.save_station(station)
    return {
        "stationId": station_id,
        "clientId": oring_mqtt.client_id(station_id),
        "username": station_id,
        "password": secret,
        "topics": {
            "data": oring_mqtt.data_topic(station_id, "{bucket}"),
            "configExpected": oring_mqtt.expected_topic(station_id, "{group}"),
            "configReported": oring_mqtt.reported_topic(station_id, "{group}"),
        },
    }


def _iot_arn_prefix(function_arn: str | None) -> str:
    """`arn:aws:iot:<region>:<account>` from the authorizer's own function ARN (`*` when unknown)."""
    parts = (function_arn or "").split(":")
    if len(parts) >= 5 and parts[3] and parts[4]:
        return f"arn:aws:iot:{parts[3]}:{parts[4]}"
    return "arn:aws:iot:*:*"


def station_policy(station_id: str, arn_prefix: str) -> dict[str, Any]:
    """Connect as itself; publish its data and reported configs; read only its expected configs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{arn_prefix}:client/{oring_mqtt.client_id(station_id)}",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [
                    f"{arn_prefix}:topic/things/{station_id}/data/*",
                    f"{arn_prefix}:topic/things/{station_id}/config/reported/*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": f"{arn_prefix}:topicfilter/things/{station_id}/config/expected/*",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": f"{arn_prefix}:topic/things/{station_id}/config/expected/*",
            },
        ],
    }


def _denied() -> dict[str, Any]:
    return {"isAuthenticated": False}


def authorize(event: dict[str, Any], function_arn: str | None = None) -> dict[str, Any]:
    """The IoT custom authorizer's answer to one MQTT CONNECT."""
    mqtt = (event.get("protocolData") or {}).get("mqtt") or {}
    username = mqtt.get("username")
    client = mqtt.get("clientId")
    encoded = mqtt.get("password")
    if not isinstance(username, str) or not isinstance(encoded, str):
        return _denied()
    station_id = oring_mqtt.station_of_client(client)
    if station_id is None or station_id != username:
        return _denied()
    try:
        password = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return _denied()
    station = cat.get_station_any(station_id)
    stored = (station or {}).get("secretHash")
    if not stored or not hmac.compare_digest(stored, hash_secret(password)):
        return _denied()
    policy = station_policy(station_id, _iot_arn_prefix(function_arn))
    return {
        "isAuthenticated": True,
        "principalId": _NOT_ALPHANUMERIC.sub("", station_id)[:128] or "station",
        "disconnectAfterInSeconds": SESSION_SECONDS,
        "refreshAfterInSeconds": POLICY_REFRESH_SECONDS,
        "policyDocuments": [json.dumps(policy)],
    }


# --------------------------------------------------------------------------- dead letters

_sqs: Any = None


def _dlq() -> Any:
    global _sqs
    if _sqs is None:
        import boto3

        _sqs = boto3.client("sqs")
    return _sqs


def dead_letter(body: dict[str, Any]) -> None:
    """Park what could not be stored, with the reason; never lose it silently."""
    url = os.environ.get(DLQ_ENV)
    if not url:
        log.error("no %s set; dropping dead letter: %s", DLQ_ENV, json.dumps(body)[:2000])
        return
    _dlq().send_message(QueueUrl=url, MessageBody=json.dumps(body, default=str))


# --------------------------------------------------------------------------- data messages


def _rule_payload(event: dict[str, Any]) -> bytes:
    """The raw message payload a rule selected as `encode(*, 'base64') AS payload`."""
    encoded = event.get("payload")
    if not isinstance(encoded, str):
        raise ValidationError("the rule event has no base64 payload", "payload")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("the rule event payload is not base64", "payload") from None


def _received_at(event: dict[str, Any]) -> int:
    """When the rules engine saw the message (`timestamp()`), the server time of untimed items."""
    value = event.get("receivedAt")
    return value if isinstance(value, int) and not isinstance(value, bool) else now_ms()


def infer_type(value: Any) -> StreamType | None:
    """The stream type an auto-created stream gets from its first value."""
    if isinstance(value, bool):
        return StreamType.BOOLEAN
    if isinstance(value, int | float):
        return StreamType.FLOAT
    if isinstance(value, str):
        return StreamType.STRING
    if isinstance(value, dict) and {"lat", "lon"} <= set(value) <= {"lat", "lon", "alt"}:
        return StreamType.COORDINATE
    if isinstance(value, dict | list):
        return StreamType.JSON
    return None


@dataclass
class IngestResult:
    """What one data message did: intervals stored, streams created, items dead-lettered."""

    stored: int = 0
    created_streams: list[str] = field(default_factory=list)
    rejected: list[oring_mqtt.Rejected] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"stored": self.stored, "createdStreams": self.created_streams, "rejected": len(self.rejected)}


def _letter(
    event: dict[str, Any],
    reason: str,
    function: str | None,
    rejected: Sequence[oring_mqtt.Rejected] = (),
) -> dict[str, Any]:
    """A dead letter: why, what, and the event that re-drives it (`python -m watershed.dlq`).

    When only some items failed, the re-drive event carries just those items, so a re-drive
    after the cause is fixed (stream created, pool set to auto-create) stores them and no more.
    """
    redrive = dict(event)
    if rejected:
        items = [r.item for r in rejected]
        redrive["payload"] = base64.b64encode(json.dumps(items, default=str).encode()).decode("ascii")
    return {
        "source": "mqtt",
        "topic": event.get("topic"),
        "stationId": event.get("station"),
        "clientId": event.get("clientId"),
        "receivedAt": event.get("receivedAt"),
        "reason": reason,
        "items": [
            {"index": r.index, "item": r.item, "reason": r.reason, "field": r.field} for r in rejected
        ],
        "base64OriginalPayload": event.get("payload") if not rejected else None,
        "function": function,
        "event": redrive if function else None,
    }


def _catalog_docs(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Several catalog items in one consistent BatchGetItem, by (pk, sk); absent ones are missing."""
    from watershed.store.tables import CatalogItem

    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    found = CatalogItem.batch_get(unique, consistent_read=True)
    return {(item.pk, item.sk): dict(item.doc or {}) for item in found}


def _station_key(station_id: str) -> tuple[str, str]:
    return store.entity_pk("station", station_id), store.META


def _guard_key(station_id: str, bucket: str, alias: str) -> tuple[str, str]:
    return cat.alias_guard(station_id, bucket, alias), store.GUARD


class _Streams:
    """The streams one message names, looked up together: two BatchGetItem for any number of aliases.

    Round one reads the station and the alias guards, round two the streams they point to (and
    the pool, only when an alias is unknown and auto-creation must be asked). Nothing outlives
    the invocation, so a stream deleted between two messages is never written again.
    """

    def __init__(self, station_id: str, bucket: str, aliases: Iterable[str]) -> None:
        self.bucket = bucket
        self.created: list[str] = []
        self.by_alias: dict[str, Any] = {}
        wanted = {alias: _guard_key(station_id, bucket, alias) for alias in aliases}
        first = _catalog_docs([_station_key(station_id), *wanted.values()])
        station = first.get(_station_key(station_id))
        if station is None:
            raise NotFound(f"station {station_id!r} not found", "station")
        self.station = station
        stream_keys = {
            alias: (store.entity_pk("stream", first[key]["stream"]), store.META)
            for alias, key in wanted.items()
            if key in first
        }
        pool_key = (store.entity_pk("pool", station["pool"]), store.META)
        unknown = len(stream_keys) < len(wanted)
        second = _catalog_docs([*stream_keys.values(), *([pool_key] if unknown else [])])
        for alias, key in stream_keys.items():
            if key in second:
                self.by_alias[alias] = cat.stream_from_doc(second[key])
        self._pool: dict[str, Any] | None = second.get(pool_key, {}) if unknown else None

    @property
    def auto_create(self) -> bool:
        if self._pool is None:
            self._pool = store.get("pool", self.station["pool"]) or {}
        return bool(self._pool.get("autoCreateStreams"))

    def get(self, item: oring_mqtt.DataItem) -> Any:
        stream = self.by_alias.get(item.alias)
        if stream is None:
            stream = cat.stream_from_doc(self._create(item))
            self.by_alias[item.alias] = stream
        return stream

    def _create(self, item: oring_mqtt.DataItem) -> dict[str, Any]:
        if not self.auto_create:
            raise ValidationError(
                f"no stream with alias '{item.alias}' in bucket '{self.bucket}', and the pool does not "
                "auto-create streams",
                f"[{item.index}].id",
            )
        stream_type = infer_type(item.value)
        if stream_type is None:
            raise ValidationError("cannot infer a stream type from this value", f"[{item.index}].value")
        body = {"name": item.alias, "alias": item.alias, "type": stream_type.value, "bucket": self.bucket}
        try:
            doc = cat.create_stream_in(self.station, body)
        except WatershedError:
            found = cat.find_stream_by_alias(self.station["id"], self.bucket, item.alias)
            if found is None:
                raise
            return found
        self.created.append(doc["id"])
        return doc


def ingest_message(event: dict[str, Any], function: str | None = None) -> IngestResult:
    """Store the items of one data message; dead-letter the rest with their reasons.

    `function` is the name of the function running this, kept in dead letters for re-drives.
    """
    result = IngestResult()
    station_id = str(event.get("station") or "")
    bucket = str(event.get("bucket") or "")
    received_at = _received_at(event)
    try:
        document = oring_mqtt.parse_json(_rule_payload(event))
        if not station_id:
            raise NotFound("the topic names no station", "station")
        items, rejected = oring_mqtt.data_items(document)
        streams = _Streams(station_id, bucket, (item.alias for item in items))
    except WatershedError as error:
        dead_letter(_letter(event, error.message, function))
        result.rejected.append(oring_mqtt.Rejected(-1, None, error.message))
        return result
    points: dict[str, tuple[Any, dict[int, Interval]]] = {}
    for item in items:
        try:
            stream = streams.get(item)
            value = ingest.check_value(stream.type, item.value, f"[{item.index}].value")
        except WatershedError as error:
            rejected.append(oring_mqtt.Rejected(item.index, _raw(item), error.message, error.field))
            continue
        timestamp = item.timestamp if item.timestamp is not None else received_at
        points.setdefault(stream.id, (stream, {}))[1][timestamp] = Interval(timestamp, value)
    for stream, by_time in points.values():
        result.stored += ingest.write(stream, list(by_time.values()))
    result.created_streams = streams.created
    result.rejected = rejected
    if rejected:
        dead_letter(_letter(event, f"{len(rejected)} item(s) could not be stored", function, rejected))
    return result


def _raw(item: oring_mqtt.DataItem) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": item.alias, "value": item.value}
    if item.timestamp is not None:
        raw["timestamp"] = item.timestamp
    return raw


# --------------------------------------------------------------------------- configs and presence


def report_config(event: dict[str, Any], function: str | None = None) -> dict[str, Any] | None:
    """Store the config a device reported on `things/<id>/config/reported/<group>`."""
    received_at = _received_at(event)
    try:
        values = oring_mqtt.config_values(oring_mqtt.parse_json(_rule_payload(event)))
        return configs.record_reported(str(event.get("station") or ""), str(event.get("configGroup") or ""),
                                       values, received_at)
    except WatershedError as error:
        dead_letter(_letter(event, error.message, function))
        return None


def presence(event: dict[str, Any]) -> bool:
    """Apply a lifecycle event to its station's `isOnline`/`lastOnlineTime`; stale events are ignored.

    Lifecycle events may arrive out of order or twice, so an event older than the station's
    last recorded presence change does nothing. Returns whether the station changed.
    """
    station_id = oring_mqtt.station_of_client(event.get("clientId"))
    event_type = event.get("eventType")
    timestamp = event.get("timestamp")
    if station_id is None or event_type not in ("connected", "disconnected"):
        return False
    if not isinstance(timestamp, int):
        return False
    station = cat.get_station_any(station_id)
    if station is None:
        return False
    last = station.get("lastOnlineTime")
    if isinstance(last, int) and timestamp < last:
        return False
    station["isOnline"] = event_type == "connected"
    station["lastOnlineTime"] = timestamp
    cat.save_station(station)
    return True
