"""Station MQTT credentials and the IoT custom authorizer.

A station's MQTT secret is generated here, shown once and stored as a SHA-256 hash on the station.
Devices connect as client `thing:<station id>`, username `<station id>`, password the secret;
the authorizer answers with an IoT policy that lets a station publish only under its own
`things/<id>/` topics and receive only its own expected configs (watershed.topics: with the
stage's prefix, if any).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from watershed import topics
from watershed.model import Principal
from watershed.services import catalog as cat

SESSION_SECONDS = 86_400
POLICY_REFRESH_SECONDS = 3_600
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


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
        "clientId": topics.SCHEME.client_id(station_id),
        "username": station_id,
        "password": secret,
        "topics": {
            "data": topics.SCHEME.data(station_id, "{bucket}"),
            "configExpected": topics.SCHEME.expected(station_id, "{group}"),
            "configReported": topics.SCHEME.reported(station_id, "{group}"),
        },
    }


def _iot_arn_prefix(function_arn: str | None) -> str:
    """`arn:<partition>:iot:<region>:<account>` from the authorizer's own function ARN, partition
    included (`aws-cn`, `aws-us-gov`: a literal `aws` would allow nothing there); `*` when unknown."""
    parts = (function_arn or "").split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"
    return "arn:aws:iot:*:*"


def station_policy(station_id: str, arn_prefix: str) -> dict[str, Any]:
    """Connect as itself; publish its data and reported configs; read only its expected configs."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{arn_prefix}:client/{topics.SCHEME.client_id(station_id)}",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [f"{arn_prefix}:topic/{p}" for p in topics.SCHEME.publish_patterns(station_id)],
            },
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": f"{arn_prefix}:topicfilter/{topics.SCHEME.expected_pattern(station_id)}",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": f"{arn_prefix}:topic/{topics.SCHEME.expected_pattern(station_id)}",
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
    station_id = topics.SCHEME.station_of_client(client)
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
