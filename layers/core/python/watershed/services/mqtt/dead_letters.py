"""Dead letters: what an MQTT function could not store, parked in SQS (MQTT_DLQ_URL) with the reason."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from watershed import config
from watershed.protocols import oring_mqtt

log = logging.getLogger(__name__)

DLQ_ENV = config.MQTT_DLQ_ENV

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
    if not url:
        log.error("no %s set; dropping dead letter: %s", DLQ_ENV, json.dumps(body)[:2000])
        return
    _dlq().send_message(QueueUrl=url, MessageBody=json.dumps(body, default=str))


def letter(
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
