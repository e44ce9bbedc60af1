"""API keys: created per organisation with scopes and optional pools, kept only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from watershed.errors import Forbidden, NotFound, Unauthorized, ValidationError
from watershed.model import Principal
from watershed.store import catalog as store
from watershed.timefmt import now_ms

SCOPES = ("read", "write", "admin")
IMPLIED = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}
KEY_PREFIX = "wsk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _lookup_name(key_hash: str) -> str:
    return f"KEYHASH#{key_hash}"


def create_key(org: str, name: str, scopes: list[str], pools: list[str]) -> tuple[dict[str, Any], str]:
    """A new key: its public document, and the secret shown this once."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key_hash = hash_key(secret)
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
        _lookup_name(key_hash), org, {"keyId": doc["id"], "org": org, "scopes": doc["scopes"], "pools": doc["pools"]}
    )
    return doc, secret


def delete_key(org: str, key_id: str) -> None:
    doc = store.get("apikey", key_id)
    if doc is None or doc["org"] != org:
        raise NotFound("API key not found", "id")
    store.delete_items([(store.entity_pk("apikey", key_id), store.META), (_lookup_name(doc["hash"]), store.GUARD)])


def list_keys(org: str) -> list[dict[str, Any]]:
    return [doc for _, doc in store.children("org", org, "apikey")]


def principal_for_key(key: str) -> Principal:
    """The organisation and scopes of a presented key; unknown keys are Unauthorized."""
    found = store.get_lookup(_lookup_name(hash_key(key)))
    if found is None:
        raise Unauthorized("Unauthorized")
    return Principal(
        org=found["org"],
        scopes=frozenset(s for scope in found["scopes"] for s in IMPLIED.get(scope, set())),
        pools=frozenset(found.get("pools") or []),
        key_id=found["keyId"],
    )


def principal_for_header(header: str | None) -> Principal:
    """Resolve `Authorization: ApiKey <key>` (the native API's scheme)."""
    if not header:
        raise Unauthorized("Unauthorized")
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() != "apikey" or not credential.strip():
        raise Unauthorized("Unauthorized")
    return principal_for_key(credential.strip())


def to_context(principal: Principal) -> dict[str, str]:
    """Authorizer context: API Gateway passes only strings."""
    return {
        "org": principal.org,
        "scopes": " ".join(sorted(principal.scopes)),
        "pools": ",".join(sorted(principal.pools)),
        "keyId": principal.key_id,
    }


def from_context(context: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in requestContext.authorizer; handlers trust only this."""
    if not context or not context.get("org"):
        raise Unauthorized("Unauthorized")
    pools = str(context.get("pools") or "")
    return Principal(
        org=str(context["org"]),
        scopes=frozenset(str(context.get("scopes") or "").split()),
        pools=frozenset(p for p in pools.split(",") if p),
        key_id=str(context.get("keyId") or ""),
    )


def require_scope(principal: Principal, scope: str) -> None:
    if scope == "none":
        return
    if scope not in principal.scopes:
        raise Forbidden(f"this key lacks the '{scope}' scope")


def check_scopes(scopes: Any, field: str = "scopes") -> list[str]:
    if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
        raise ValidationError(f"scopes must be a non-empty list of {', '.join(SCOPES)}", field)
    return list(scopes)
