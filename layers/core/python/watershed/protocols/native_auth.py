"""Native API v1: OAuth clients, users, trusted issuers and the caller (routes `native_auth:<name>`)."""

from __future__ import annotations

from typing import Any

from watershed.api.request import Reply, Request
from watershed.protocols import native
from watershed.services import issuers, key_lifecycle, oauth, users
from watershed.timefmt import format_time


def _out(doc: dict[str, Any], hidden: tuple[str, ...]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in (*hidden, "org")}
    for name in ("created", "expires", "lockedUntil", "rotated", "lastUsed"):
        if isinstance(out.get(name), int):
            out[name] = format_time(out[name])
    return out


def _client(doc: dict[str, Any]) -> dict[str, Any]:
    return _out(doc, oauth.INTERNAL)


def _user(doc: dict[str, Any]) -> dict[str, Any]:
    return _out(doc, users.INTERNAL)


def create_client(request: Request) -> Reply:
    doc, secret = oauth.create_client(request.principal.org, request.json())
    return Reply(201, {**_client(doc), "clientId": doc["id"], "clientSecret": secret})


def list_clients(request: Request) -> Reply:
    return Reply(200, native.listing(request, [_client(d) for d in oauth.list_clients(request.principal.org)], None))


def get_client(request: Request) -> Reply:
    return Reply(200, _client(oauth.get_client(request.principal.org, request.id)))


def delete_client(request: Request) -> Reply:
    oauth.delete_client(request.principal.org, request.id)
    return Reply(204)


def create_user(request: Request) -> Reply:
    return Reply(201, _user(users.create_user(request.principal.org, request.json())))


def list_users(request: Request) -> Reply:
    return Reply(200, native.listing(request, [_user(d) for d in users.list_users(request.principal.org)], None))


def get_user(request: Request) -> Reply:
    return Reply(200, _user(users.get_user(request.principal.org, request.id)))


def delete_user(request: Request) -> Reply:
    users.delete_user(request.principal.org, request.id)
    return Reply(204)


def create_issuer(request: Request) -> Reply:
    return Reply(201, _out(issuers.create_trust(request.principal.org, request.json()), ()))


def list_issuers(request: Request) -> Reply:
    return Reply(200, native.listing(request, [_out(d, ()) for d in issuers.list_trusts(request.principal.org)], None))


def delete_issuer(request: Request) -> Reply:
    issuers.delete_trust(request.principal.org, request.id)
    return Reply(204)


def _key(doc: dict[str, Any]) -> dict[str, Any]:
    return _out(doc, ("hash",))


def get_key(request: Request) -> Reply:
    return Reply(200, _key(key_lifecycle.describe(request.principal, request.id)))


def update_key(request: Request) -> Reply:
    return Reply(200, _key(key_lifecycle.update(request.principal, request.id, request.json())))


def rotate_key(request: Request) -> Reply:
    body = request.json() if request.body.strip() else None
    doc, secret = key_lifecycle.rotate(request.principal, request.id, body)
    return Reply(201, {**_key(doc), "key": secret})


def me(request: Request) -> Reply:
    return Reply(200, oauth.caller(request.principal))
