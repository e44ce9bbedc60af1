"""Station MQTT credentials and the IoT custom authorizer.

A station's MQTT secret is generated here, shown once and stored as a SHA-256 hash on the station.
Devices connect as client `thing:<station id>`, username `<station id>`, password the secret;
applications as `app:<identity>` (services.mqtt.apps). The authorizer answers with the client's
IoT policy from services.mqtt.policy (watershed.topics: with the stage's prefix, if any).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import secrets
from typing import Any

from watershed import topics
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.services import credentials
from watershed.services.mqtt import apps, policy

SESSION_SECONDS = 86_400
POLICY_REFRESH_SECONDS = 3_600
APP_POLICY_REFRESH_SECONDS = 300
"""IoT Core's shortest refresh: an app's policy lists its organisation's things, so a thing created
after the app connected is received within five minutes (and a deleted app is cut off as soon)."""
_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")
log = logging.getLogger(__name__)


def hash_secret(secret: str) -> str:
    """The SHA-256 every credential of Watershed is stored as (services.credentials)."""
    return credentials.hash_key(secret)


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


def _denied() -> dict[str, Any]:
    return {"isAuthenticated": False}


def _password(encoded: str) -> str | None:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _allowed(principal: str, documents: list[str], refresh_s: int) -> dict[str, Any]:
    return {
        "isAuthenticated": True,
        "principalId": _NOT_ALPHANUMERIC.sub("", principal)[:128] or "client",
        "disconnectAfterInSeconds": SESSION_SECONDS,
        "refreshAfterInSeconds": refresh_s,
        "policyDocuments": documents,
    }


def _authorize_app(identity: str, password: str, function_arn: str | None) -> dict[str, Any]:
    app = apps.authenticate(identity, password)
    if app is None:
        return _denied()
    try:
        documents = policy.app_policy_documents(identity, apps.things_of(app), policy.arn_prefix(function_arn))
    except policy.PolicyTooLarge as error:
        log.warning("refusing %s: %s", identity, error)
        return _denied()
    return _allowed(identity, documents, APP_POLICY_REFRESH_SECONDS)


def authorize(event: dict[str, Any], function_arn: str | None = None) -> dict[str, Any]:
    """The IoT custom authorizer's answer to one MQTT CONNECT: a thing's or an app's policy."""
    mqtt = (event.get("protocolData") or {}).get("mqtt") or {}
    username = mqtt.get("username")
    client = mqtt.get("clientId")
    encoded = mqtt.get("password")
    if not isinstance(username, str) or not isinstance(encoded, str):
        return _denied()
    password = _password(encoded)
    if password is None:
        return _denied()
    identity = policy.app_of_client(client)
    if identity is not None:
        return _authorize_app(identity, password, function_arn) if identity == username else _denied()
    station_id = topics.SCHEME.station_of_client(client)
    if station_id is None or station_id != username:
        return _denied()
    station = cat.get_station_any(station_id)
    stored = (station or {}).get("secretHash")
    if not stored or not hmac.compare_digest(stored, hash_secret(password)):
        return _denied()
    document = policy.thing_policy(station_id, policy.arn_prefix(function_arn))
    return _allowed(station_id, [json.dumps(document)], POLICY_REFRESH_SECONDS)
