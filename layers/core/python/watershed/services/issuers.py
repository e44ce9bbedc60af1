"""External OIDC issuers an organisation trusts (Cognito, Entra ID, Auth0, Keycloak...).

A trust names the issuer URL, the audience its tokens must carry, where its JWKS is, and how a
token maps onto Watershed: either every token of the issuer belongs to the organisation, or a
claim (`orgClaim`) must equal `orgValue`; `scopeMap` turns the issuer's scopes or groups into
read/write/admin. One issuer URL is trusted by one organisation (a guard item, so the verifier
finds it with one GetItem).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any
from urllib.parse import urlsplit

from watershed.errors import NotFound, ValidationError
from watershed.services import credentials
from watershed.services.credentials import SCOPES
from watershed.store import catalog as store
from watershed.timefmt import now_ms
from watershed.validation import obj, text

LOOPBACK = ("127.0.0.1", "localhost", "::1")
CLAIM_MAX = 128
CLAIM_VALUE_MAX = 256
AUDIENCE_MAX = 512
FIELDS = ("issuer", "audience", "jwksUri", "orgClaim", "orgValue", "scopeClaim", "scopeMap")


def _guard(issuer: str) -> str:
    return f"ISSUER#{hashlib.sha256(issuer.rstrip('/').encode()).hexdigest()}"


def loopback_allowed() -> bool:
    """Plain-http issuers on loopback: only in the local runtime (tests serve a JWKS there).

    In a Lambda, loopback is the runtime API: fetching a JWKS from it would be a request forgery.
    """
    return os.environ.get("WATERSHED_LOOPBACK_ISSUERS") == "true"


def fetchable(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname) and parts.hostname not in LOOPBACK
    return parts.scheme == "http" and parts.hostname in LOOPBACK and loopback_allowed()


def _url(value: Any, field: str) -> str:
    url = text(value, field, max_len=1024).rstrip("/")
    parts = urlsplit(url)
    if not fetchable(url) or parts.fragment or parts.query:
        raise ValidationError("must be an https URL without query or fragment", field)
    return url


def create_trust(org: str, body: Any) -> dict[str, Any]:
    body = obj(body, FIELDS, ("issuer", "audience"))
    issuer = _url(body["issuer"], "issuer")
    if issuer.rstrip("/") == credentials.issuer():
        raise ValidationError("Watershed's own issuer is always trusted", "issuer")
    org_claim = body.get("orgClaim")
    if org_claim is not None:
        text(org_claim, "orgClaim", max_len=CLAIM_MAX)
        text(body.get("orgValue"), "orgValue", max_len=CLAIM_VALUE_MAX)
    elif body.get("orgValue") is not None:
        raise ValidationError("orgValue needs orgClaim", "orgValue")
    scope_map = body.get("scopeMap") or {}
    if not isinstance(scope_map, dict) or not all(isinstance(k, str) and v in SCOPES for k, v in scope_map.items()):
        raise ValidationError(f"scopeMap maps the issuer's scopes or groups to one of {', '.join(SCOPES)}",
                              "scopeMap")
    doc = {
        "id": str(uuid.uuid4()),
        "org": org,
        "issuer": issuer,
        "audience": text(body["audience"], "audience", max_len=AUDIENCE_MAX),
        "jwksUri": _url(body.get("jwksUri") or f"{issuer}/.well-known/jwks.json", "jwksUri"),
        "orgClaim": org_claim,
        "orgValue": body.get("orgValue"),
        "scopeClaim": text(body.get("scopeClaim") or "scope", "scopeClaim", max_len=CLAIM_MAX),
        "scopeMap": scope_map,
        "created": now_ms(),
    }
    store.create("issuer", doc, ("org", org), {_guard(issuer): {**doc, "field": "issuer"}})
    return doc


def list_trusts(org: str) -> list[dict[str, Any]]:
    return [doc for _, doc in store.children("org", org, "issuer")]


def delete_trust(org: str, trust_id: str) -> None:
    doc = store.get("issuer", trust_id)
    if doc is None or doc.get("org") != org:
        raise NotFound("issuer not found", "id")
    store.delete_items([(store.entity_pk("issuer", trust_id), store.META), (_guard(doc["issuer"]), store.GUARD)])


def trust_for(issuer: str) -> dict[str, Any] | None:
    """The trust an organisation registered for this issuer URL, if any (one GetItem)."""
    return store.get_lookup(_guard(issuer))


def mapped_scopes(trust: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    """Watershed scopes from the token's scope claim (a space-separated string or a list)."""
    raw = claims.get(trust.get("scopeClaim") or "scope")
    names = raw.split() if isinstance(raw, str) else [str(s) for s in raw] if isinstance(raw, list) else []
    scope_map: dict[str, str] = trust.get("scopeMap") or {}
    return [scope_map[name] for name in names if name in scope_map]
