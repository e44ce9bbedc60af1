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
from collections.abc import Iterable
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


def read_dead_letters(max_messages: int = 10, delete: bool = False) -> list[dict[str, Any]]:
    """Up to `max_messages` dead letters (removed from the queue when `delete`)."""
    url = os.environ.get(DLQ_ENV)
    if not url:
        return []
    answer = _dlq().receive_message(
        QueueUrl=url, MaxNumberOfMessages=min(max_messages, 10), WaitTimeSeconds=0
    )
    letters = []
    for message in answer.get("Messages", []):
        letters.append(json.loads(message["Body"]))
        if delete:
            _dlq().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return letters


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
    event: dict[str, Any], reason: str, rejected: Iterable[oring_mqtt.Rejected] = ()
) -> dict[str, Any]:
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
    }


class _Streams:
    """Per-message cache of the streams of one (station, bucket), creating them when allowed."""

    def __init__(self, station: dict[str, Any], bucket: str, auto_create: bool) -> None:
        self.station, self.bucket, self.auto_create = station, bucket, auto_create
        self.by_alias: dict[str, Any] = {}
        self.created: list[str] = []

    def get(self, item: oring_mqtt.DataItem) -> Any:
        if item.alias in self.by_alias:
            return self.by_alias[item.alias]
        doc = cat.find_stream_by_alias(self.station["id"], self.bucket, item.alias)
        if doc is None:
            doc = self._create(item)
        stream = cat.stream_from_doc(doc)
        self.by_alias[item.alias] = stream
        return stream

    def _create(self, item: oring_mqtt.DataItem) -> dict[str, Any]:
        where = f"[{item.index}].id"
        if not self.auto_create:
            raise ValidationError(
                f"no stream with alias '{item.alias}' in bucket '{self.bucket}', and the pool does not "
                "auto-create streams",
                where,
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


def ingest_message(event: dict[str, Any]) -> IngestResult:
    """Store the items of one data message; dead-letter the rest with their reasons."""
    result = IngestResult()
    station_id = str(event.get("station") or "")
    bucket = str(event.get("bucket") or "")
    received_at = _received_at(event)
    try:
        document = oring_mqtt.parse_json(_rule_payload(event))
        station = cat.get_station_any(station_id) if station_id else None
        if station is None:
            raise NotFound(f"station {station_id!r} not found", "station")
        pool = store.get("pool", station["pool"]) or {}
    except WatershedError as error:
        dead_letter(_letter(event, error.message))
        result.rejected.append(oring_mqtt.Rejected(-1, None, error.message))
        return result
    items, rejected = oring_mqtt.data_items(document)
    streams = _Streams(station, bucket, bool(pool.get("autoCreateStreams")))
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
        dead_letter(_letter(event, f"{len(rejected)} item(s) could not be stored", rejected))
    return result


def _raw(item: oring_mqtt.DataItem) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": item.alias, "value": item.value}
    if item.timestamp is not None:
        raw["timestamp"] = item.timestamp
    return raw


# --------------------------------------------------------------------------- configs and presence


def report_config(event: dict[str, Any]) -> dict[str, Any] | None:
    """Store the config a device reported on `things/<id>/config/reported/<group>`."""
    received_at = _received_at(event)
    try:
        values = oring_mqtt.config_values(oring_mqtt.parse_json(_rule_payload(event)))
        return configs.record_reported(str(event.get("station") or ""), str(event.get("configGroup") or ""),
                                       values, received_at)
    except WatershedError as error:
        dead_letter(_letter(event, error.message))
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
