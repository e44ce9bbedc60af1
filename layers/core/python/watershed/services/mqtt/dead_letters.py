"""Dead letters: what an MQTT function could not store, parked in SQS (MQTT_DLQ_URL) with the reason.

A letter SQS cannot hold (over 256 KiB: a 128 KB payload is 171 KB in base64, and a letter carries
it twice, once to show and once in its re-drive event) is stored whole in OBJECTS_BUCKET under
`dead-letters/`, and the queue gets a small letter naming it (`storedAt`); watershed.dlq reads it back.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from collections.abc import Sequence
from typing import Any

from watershed import blobs, config
from watershed.services.mqtt.items import Rejected

log = logging.getLogger(__name__)

DLQ_ENV = config.MQTT_DLQ_ENV
SQS_MAX_BYTES = 256 * 1024 - 1024
"""SQS holds a message of at most 256 KiB; a little is left for the attributes."""
DEAD_LETTER_PREFIX = "dead-letters/"

_sqs: Any = None


def _dlq() -> Any:
    global _sqs
    if _sqs is None:
        import boto3

        _sqs = boto3.client("sqs")
    return _sqs


def send(body: dict[str, Any]) -> None:
    """Park what could not be stored, with the reason; never lose it silently."""
    url = os.environ.get(DLQ_ENV)
    text = json.dumps(body, default=str)
    if not url:
        log.error("no %s set; dropping dead letter: %s", DLQ_ENV, text[:2000])
        return
    if len(text.encode()) > SQS_MAX_BYTES:
        text = json.dumps(_stored_whole(body, text))
    _dlq().send_message(QueueUrl=url, MessageBody=text)


def _stored_whole(body: dict[str, Any], text: str) -> dict[str, Any]:
    """Put the letter in S3; what the queue gets instead: why, where, and where the letter is."""
    key = f"{DEAD_LETTER_PREFIX}{uuid.uuid4()}.json"
    blobs.put(config.OBJECTS_BUCKET, key, text.encode(), "application/json")
    kept = ("source", "topic", "stationId", "clientId", "receivedAt", "reason", "function")
    return {**{name: body.get(name) for name in kept}, "storedAt": {"bucket": config.OBJECTS_BUCKET, "key": key},
            "bytes": len(text.encode())}


def letter(
    event: dict[str, Any],
    reason: str,
    function: str | None,
    rejected: Sequence[Rejected] = (),
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
