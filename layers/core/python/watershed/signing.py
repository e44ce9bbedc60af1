"""The platform's signing key (paging cursors now, tokens later), read once per container."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import cache
from typing import Any

from watershed.config import SIGNING_SECRET_ENV
from watershed.errors import ValidationError

_DEV_KEY = "watershed-local-development-key"


@cache
def signing_key() -> bytes:
    """From Secrets Manager when SIGNING_SECRET_ARN is set (the cloud), else the environment (local)."""
    arn = os.environ.get(SIGNING_SECRET_ENV)
    if arn:
        import boto3

        secret = boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        return str(secret).encode()
    return os.environ.get("WATERSHED_SIGNING_KEY", _DEV_KEY).encode()


def _mac(payload: bytes) -> bytes:
    return hmac.new(signing_key(), payload, hashlib.sha256).digest()[:16]


def sign(data: dict[str, Any]) -> str:
    """An opaque, tamper-proof token carrying `data`."""
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload + _mac(payload)).decode().rstrip("=")


def verify(token: str, field: str = "cursor") -> dict[str, Any]:
    """The data inside a token made by sign(); anything forged or garbled is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise ValidationError("cursor is not valid", field) from None
    payload, mac = raw[:-16], raw[-16:]
    if len(raw) <= 16 or not hmac.compare_digest(mac, _mac(payload)):
        raise ValidationError("cursor is not valid", field)
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValidationError("cursor is not valid", field)
    return data
