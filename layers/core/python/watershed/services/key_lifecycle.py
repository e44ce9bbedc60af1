"""API key lifecycle: optional expiry, rotation with a grace period for the old secret, last use.

A key's secret is found through its hash look-up item (services.auth). Rotation gives the key a
new secret and a new look-up item, and marks the old look-up `previous` with an `expires` time:
the old secret keeps working until then (so a fleet can be re-keyed without downtime), and only
while the key itself still exists. Expiry is an `expires` time on the key and its look-up.
Last use is recorded by the authorizer at most once per LAST_USED_RESOLUTION_MS per key and
container, in an item of its own, so checking a key costs no write per request.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from watershed.errors import NotFound, ValidationError
from watershed.model import Principal
from watershed.services import credentials, keys
from watershed.store import catalog as store
from watershed.timefmt import now_ms, parse_time
from watershed.validation import integer, obj

MAX_GRACE_S = 30 * 86400
DEFAULT_GRACE_S = 86400
LAST_USED_RESOLUTION_MS = 5 * 60 * 1000


def _last_used_name(key_id: str) -> str:
    return f"KEYUSED#{key_id}"


def _owned(principal: Principal, key_id: str) -> dict[str, Any]:
    """A key the caller may manage, by services.keys' rules (a live caller; restricted ones within their pools)."""
    keys._require_live_caller(principal)
    doc = store.get("apikey", key_id) if len(key_id.encode()) <= 64 else None
    if doc is None or not keys._visible(principal, doc):
        raise NotFound("API key not found", "id")
    return doc


def _look_up_body(doc: dict[str, Any]) -> dict[str, Any]:
    body = {"keyId": doc["id"], "org": doc["org"], "scopes": doc["scopes"], "pools": doc["pools"]}
    if doc.get("expires"):
        body["expires"] = doc["expires"]
    return body


def describe(principal: Principal, key_id: str) -> dict[str, Any]:
    """The key with its expiry and last use."""
    doc = _owned(principal, key_id)
    used = store.get_lookup(_last_used_name(key_id))
    return {**doc, "lastUsed": used.get("at") if used else None}


def update(principal: Principal, key_id: str, body: Any) -> dict[str, Any]:
    """`PATCH /v1/keys/{id}`: set or clear (`null`) the key's expiry."""
    body = obj(body, ("expires",))
    if "expires" not in body:
        raise ValidationError("'expires' is required (null clears it)", "expires")
    doc = _owned(principal, key_id)
    expires = None
    if body.get("expires") is not None:
        expires = parse_time(body["expires"], "expires", bounded=False)
        if expires <= now_ms():
            raise ValidationError("expires must be in the future; delete the key to end it now", "expires")
    doc = {**doc, "expires": expires}
    store.replace("apikey", doc, ("org", doc["org"]))
    store.put_lookup(credentials.key_lookup_name(doc["hash"]), doc["org"], _look_up_body(doc))
    return describe(principal, key_id)


def rotate(principal: Principal, key_id: str, body: Any) -> tuple[dict[str, Any], str]:
    """`POST /v1/keys/{id}/rotate`: a new secret now; the old one works `graceSeconds` more (default a day)."""
    body = obj(body if body is not None else {}, ("graceSeconds",))
    grace_s = integer(body.get("graceSeconds", DEFAULT_GRACE_S), "graceSeconds", 0, MAX_GRACE_S)
    doc = _owned(principal, key_id)
    old_hash = doc["hash"]
    secret = credentials.KEY_PREFIX + secrets.token_urlsafe(32)
    now = now_ms()
    doc = {**doc, "hash": credentials.hash_key(secret), "prefix": secret[:8], "rotated": now}
    store.replace("apikey", doc, ("org", doc["org"]))
    store.put_lookup(credentials.key_lookup_name(doc["hash"]), doc["org"], _look_up_body(doc))
    old_expires = now + grace_s * 1000
    if doc.get("expires"):
        old_expires = min(old_expires, doc["expires"])
    if grace_s:
        store.put_lookup(credentials.key_lookup_name(old_hash), doc["org"],
                         {**_look_up_body(doc), "expires": old_expires, "previous": True})
    else:
        store.delete_items([(credentials.key_lookup_name(old_hash), store.GUARD)])
    return describe(principal, key_id), secret


def still_valid(found: dict[str, Any]) -> bool:
    """A key's look-up is good now: not expired, and a rotated-away secret only while its key exists."""
    expires = found.get("expires")
    if expires is not None and expires <= now_ms():
        return False
    if found.get("previous"):
        key = store.get("apikey", str(found.get("keyId")))
        return key is not None and key.get("org") == found.get("org")
    return True


_recorded: dict[str, int] = {}
_recorded_lock = threading.Lock()


def record_use(key_id: str) -> None:
    """Remember when a key was last used, at most once per LAST_USED_RESOLUTION_MS per container."""
    now = now_ms()
    with _recorded_lock:
        if _recorded.get(key_id, 0) + LAST_USED_RESOLUTION_MS > now:
            return
        if len(_recorded) > 10_000:
            _recorded.clear()
        _recorded[key_id] = now
    try:
        store.put_lookup(_last_used_name(key_id), "", {"at": now})
    except Exception:  # last use is a hint; it never refuses a request
        with _recorded_lock:
            _recorded.pop(key_id, None)
