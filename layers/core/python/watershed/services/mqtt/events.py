"""What a topic rule hands a function: the message payload and when the rules engine saw it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from watershed.errors import ValidationError
from watershed.timefmt import now_ms


def rule_payload(event: dict[str, Any]) -> bytes:
    """The raw message payload a rule selected as `encode(*, 'base64') AS payload`."""
    encoded = event.get("payload")
    if not isinstance(encoded, str):
        raise ValidationError("the rule event has no base64 payload", "payload")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("the rule event payload is not base64", "payload") from None


def received_at(event: dict[str, Any]) -> int:
    """When the rules engine saw the message (`timestamp()`), the server time of untimed items."""
    value = event.get("receivedAt")
    return value if isinstance(value, int) and not isinstance(value, bool) else now_ms()
