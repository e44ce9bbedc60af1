"""Organisation users: the people who sign in on the authorization page.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended
profile). After MAX_FAILURES wrong passwords in a row an account is locked for LOCKOUT_MS; a
locked account is refused even with the right password, with the same message as a wrong one.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from watershed.errors import NotFound, Unauthorized, ValidationError
from watershed.services.credentials import SCOPES
from watershed.store import catalog as store
from watershed.timefmt import now_ms
from watershed.validation import obj, text

MAX_FAILURES = 5
LOCKOUT_MS = 15 * 60 * 1000
MIN_PASSWORD = 12
MAX_PASSWORD = 256
USERNAME_MAX = 128
INTERNAL = ("passwordHash", "failures", "lockedUntil")


@cache
def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def valid_scopes(scopes: Any, field: str = "scopes") -> list[str]:
    """A non-empty list of read, write, admin (users and OAuth clients hold the same scopes as keys)."""
    if not isinstance(scopes, list) or not scopes or not all(s in SCOPES for s in scopes):
        raise ValidationError(f"scopes must be a non-empty list of {', '.join(SCOPES)}", field)
    return sorted(set(scopes))


def _guard(org: str, username: str) -> str:
    return f"USERNAME#{org}#{username.lower()}"


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in INTERNAL}


def create_user(org: str, body: Any) -> dict[str, Any]:
    body = obj(body, ("username", "password", "scopes", "name"), ("username", "password", "scopes"))
    username = text(body["username"], "username", max_len=USERNAME_MAX).strip()
    password = body["password"]
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(f"password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters", "password")
    doc = {
        "id": str(uuid.uuid4()),
        "org": org,
        "username": username,
        "name": text(body.get("name") or username, "name"),
        "scopes": valid_scopes(body["scopes"]),
        "created": now_ms(),
        "passwordHash": _hasher().hash(password),
        "failures": 0,
        "lockedUntil": None,
    }
    store.create("user", doc, ("org", org), {_guard(org, username): {"userId": doc["id"], "field": "username"}})
    return doc


def list_users(org: str) -> list[dict[str, Any]]:
    return [doc for _, doc in store.children("org", org, "user")]


def get_user(org: str, user_id: str) -> dict[str, Any]:
    doc = store.get("user", user_id) if len(user_id) <= 64 else None
    if doc is None or doc.get("org") != org:
        raise NotFound("user not found", "id")
    return doc


def delete_user(org: str, user_id: str) -> None:
    """Deleting a user ends their tokens: verification looks the user up (within the cache TTL)."""
    doc = get_user(org, user_id)
    store.delete_items([(store.entity_pk("user", user_id), store.META), (_guard(org, doc["username"]), store.GUARD)])


def sign_in(org: str, username: str, password: str) -> dict[str, Any]:
    """The user whose password this is; Unauthorized otherwise, counting failures towards a lockout."""
    found = store.get_lookup(_guard(org, username.strip()))
    doc = store.get("user", found["userId"]) if found else None
    if doc is None:
        _hasher().hash(password)  # about the same time as a wrong password: no user enumeration by timing
        raise Unauthorized("wrong user name or password")
    now = now_ms()
    if doc.get("lockedUntil") and doc["lockedUntil"] > now:
        raise Unauthorized("wrong user name or password")
    from argon2.exceptions import VerificationError

    try:
        _hasher().verify(doc["passwordHash"], password)
    except VerificationError:
        failures = int(doc.get("failures") or 0) + 1
        locked = now + LOCKOUT_MS if failures >= MAX_FAILURES else None
        store.replace("user", {**doc, "failures": 0 if locked else failures, "lockedUntil": locked}, ("org", org))
        raise Unauthorized("wrong user name or password") from None
    if doc.get("failures") or doc.get("lockedUntil"):
        doc = {**doc, "failures": 0, "lockedUntil": None}
        store.replace("user", doc, ("org", org))
    return doc
