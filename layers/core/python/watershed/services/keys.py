"""API key management: who may create, see and revoke which keys of an organisation.

A pool-restricted key manages only keys restricted to pools it may see itself: it never sees,
revokes or mints an unrestricted key. Key management trusts no cached authorization: it first
re-reads (one consistent GetItem) the caller's own key, so a key revoked a moment ago cannot mint
its own replacement within the authorizer's cache window.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from watershed.errors import NotFound, Unauthorized, ValidationError
from watershed.model import Principal, PrincipalKind
from watershed.services import catalog as cat
from watershed.services import credentials
from watershed.store import catalog as store
from watershed.timefmt import now_ms
from watershed.validation import obj, text

KEY_FIELDS = ("name", "scopes", "pools")


def check_scopes(scopes: Any, field: str = "scopes") -> list[str]:
    if not isinstance(scopes, list) or not scopes or not all(s in credentials.SCOPES for s in scopes):
        raise ValidationError(f"scopes must be a non-empty list of {', '.join(credentials.SCOPES)}", field)
    return list(scopes)


def issue_key(org: str, name: str, scopes: list[str], pools: list[str]) -> tuple[dict[str, Any], str]:
    """Store a new key: its document, and the secret shown this once (kept only as a hash)."""
    secret = credentials.KEY_PREFIX + secrets.token_urlsafe(32)
    key_hash = credentials.hash_key(secret)
    doc = {
        "id": str(uuid.uuid4()),
        "org": org,
        "name": name,
        "scopes": sorted(set(scopes)),
        "pools": list(pools),
        "prefix": secret[:8],
        "created": now_ms(),
        "hash": key_hash,
    }
    store.create("apikey", doc, ("org", org))
    store.put_lookup(
        credentials.key_lookup_name(key_hash), org,
        {"keyId": doc["id"], "org": org, "scopes": doc["scopes"], "pools": doc["pools"]},
    )
    return doc, secret


def _require_live_caller(principal: Principal) -> None:
    """The caller's own key still exists, read now rather than trusted from the authorizer cache.

    Only API keys are re-read here; a Bearer token's client or user is the token verifier's to check.
    """
    if principal.kind is not PrincipalKind.KEY:
        return
    doc = store.get("apikey", principal.key_id) if principal.key_id else None
    if doc is None or doc.get("org") != principal.org:
        raise Unauthorized("Unauthorized")


def _visible(principal: Principal, doc: dict[str, Any]) -> bool:
    """Unrestricted callers see every key of their organisation; restricted ones only keys within their pools."""
    if doc.get("org") != principal.org:
        return False
    if not principal.pools:
        return True
    pools = doc.get("pools") or []
    return bool(pools) and all(principal.may_see_pool(pool) for pool in pools)


def create_key(principal: Principal, body: Any) -> tuple[dict[str, Any], str]:
    """A key of the caller's organisation, within the caller's pools (its own pools when none are named)."""
    _require_live_caller(principal)
    obj(body, KEY_FIELDS, ("name", "scopes"))
    name = text(body["name"], "name")
    scopes = check_scopes(body["scopes"])
    pools = body.get("pools") or []
    if not isinstance(pools, list):
        raise ValidationError("pools must be a list of pool ids", "pools")
    for i, pool in enumerate(pools):
        if not isinstance(pool, str):
            raise ValidationError("pool ids are strings", f"pools[{i}]")
        try:
            cat.get_pool(principal, pool)
        except NotFound:
            raise NotFound("pool not found", f"pools[{i}]") from None
    if principal.pools and not pools:
        pools = sorted(principal.pools)
    return issue_key(principal.org, name, scopes, list(dict.fromkeys(pools)))


def list_keys(principal: Principal) -> list[dict[str, Any]]:
    _require_live_caller(principal)
    return [doc for _, doc in store.children("org", principal.org, "apikey") if _visible(principal, doc)]


def revoke_key(principal: Principal, key_id: str) -> None:
    """Delete a key and its hash look-up; a key the caller may not see is a 404, never a leak."""
    _require_live_caller(principal)
    doc = store.get("apikey", key_id) if len(key_id.encode()) <= cat.MAX_ID_BYTES else None
    if doc is None or not _visible(principal, doc):
        raise NotFound("API key not found", "id")
    store.delete_items([
        (store.entity_pk("apikey", key_id), store.META),
        (credentials.key_lookup_name(doc["hash"]), store.GUARD),
    ])
