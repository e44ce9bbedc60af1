"""API keys: created per organisation with scopes and optional pools, kept only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
from typing import Any

from watershed.errors import Forbidden, Unauthorized
from watershed.model import Principal
from watershed.store import catalog as store

SCOPES = ("read", "write", "admin")
IMPLIED = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}
KEY_PREFIX = "wsk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _lookup_name(key_hash: str) -> str:
    return f"KEYHASH#{key_hash}"


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
