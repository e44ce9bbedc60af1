"""Application MQTT clients (ORing PaaS v4's `app:<identity>`): created over REST, secret shown once.

An app connects as client `app:<identity>`, username `<identity>`, password its secret (stored as
the same SHA-256 hash as station secrets and API keys). It sees the things of its organisation,
or only those of the pools of the key that created it when that key is pool-restricted (as a
key made by such a key is): services.mqtt.policy turns that set of things into its IoT policy.
"""

from __future__ import annotations

import hmac
import secrets
import string
from collections.abc import Iterator
from typing import Any

from watershed import topics
from watershed.errors import NotFound
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.services import credentials
from watershed.services.mqtt import policy
from watershed.store import catalog as store
from watershed.timefmt import format_time, now_ms
from watershed.validation import obj, text

KIND = "mqttapp"
APP_FIELDS = ("name",)
IDENTITY_CHARS = 12
_ALPHABET = string.ascii_letters + string.digits


def _identity() -> str:
    """Letters and digits only: safe in a client id, a username and IoT's principal id."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(IDENTITY_CHARS))


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """An app as the API shows it (never its secret's hash)."""
    return {
        "id": doc["id"],
        "name": doc["name"],
        "clientId": policy.app_client_id(doc["id"]),
        "username": doc["id"],
        "pools": list(doc.get("pools") or []),
        "created": format_time(doc["created"]),
        "topics": {
            "data": topics.SCHEME.data("+", "#"),
            "configExpected": topics.SCHEME.expected("{thing}", "{group}"),
        },
    }


def create_app(principal: Principal, body: Any) -> dict[str, Any]:
    """A new app of the caller's organisation (and pools); its `password` is in this answer only."""
    obj(body, APP_FIELDS, APP_FIELDS)
    secret = secrets.token_urlsafe(24)
    doc = {
        "id": _identity(),
        "org": principal.org,
        "name": text(body["name"], "name"),
        "pools": sorted(principal.pools),
        "created": now_ms(),
        "secretHash": credentials.hash_key(secret),
    }
    store.create(KIND, doc, ("org", principal.org))
    return {**public(doc), "password": secret}


def _owned(principal: Principal, identity: str) -> dict[str, Any]:
    """The caller's app; another organisation's, or one beyond the caller's pools, is a 404."""
    doc = store.get(KIND, identity) if len(identity.encode()) <= cat.MAX_ID_BYTES else None
    if doc is None or doc.get("org") != principal.org:
        raise NotFound("MQTT app not found", "id")
    pools = doc.get("pools") or []
    if principal.pools and not (pools and all(principal.may_see_pool(pool) for pool in pools)):
        raise NotFound("MQTT app not found", "id")
    return doc


def get_app(principal: Principal, identity: str) -> dict[str, Any]:
    return public(_owned(principal, identity))


def list_apps(principal: Principal) -> list[dict[str, Any]]:
    """The organisation's apps the caller may see (apps are few: one page)."""
    found = []
    for _, doc in store.children("org", principal.org, KIND):
        try:
            found.append(public(_owned(principal, doc["id"])))
        except NotFound:
            continue
    return found


def delete_app(principal: Principal, identity: str) -> None:
    """Forget the app: its next CONNECT is refused (a live session ends at the policy's refresh)."""
    _owned(principal, identity)
    store.delete_items([(store.entity_pk(KIND, identity), store.META)])


def authenticate(identity: str, password: str) -> dict[str, Any] | None:
    """The app whose secret this is; None for an unknown identity or a wrong secret."""
    doc = store.get(KIND, identity) if len(identity.encode()) <= cat.MAX_ID_BYTES else None
    stored = (doc or {}).get("secretHash")
    if not stored or not hmac.compare_digest(stored, credentials.hash_key(password)):
        return None
    return doc


def things_of(app: dict[str, Any]) -> Iterator[str]:
    """The ids of the things the app sees: its organisation's stations, or its pools' only."""
    pools = app.get("pools") or [doc["id"] for _, doc in store.children("org", app["org"], "pool")]
    for pool in pools:
        for _, station in store.children("pool", pool, "station"):
            if station.get("org") == app["org"]:
                yield station["id"]
