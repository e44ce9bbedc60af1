"""What every credential module shares: scopes, the API-key format and hash, Watershed's own
token issuer. Kept apart from services.auth (which resolves credentials through keys and tokens)
so that keys, key_lifecycle, tokens and issuers import it without an import cycle."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

SCOPES = ("read", "write", "admin")
IMPLIED = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}
KEY_PREFIX = "wsk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_lookup_name(key_hash: str) -> str:
    """The look-up item that finds a key by its hash (one GetItem per request)."""
    return f"KEYHASH#{key_hash}"


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """Granted scopes with what they imply (admin ⊇ write ⊇ read)."""
    return frozenset(s for scope in scopes for s in IMPLIED.get(scope, set()))


def issuer() -> str:
    """Watershed's own issuer: the API's base URL (set by infra/, or by the local runtime)."""
    return os.environ.get("OAUTH_ISSUER", "http://127.0.0.1:8080").rstrip("/")


def audience() -> str:
    """The `aud` of Watershed's access tokens: the API they are good for."""
    return os.environ.get("OAUTH_AUDIENCE") or issuer()
