"""Short-lived OAuth items: authorization codes, refresh tokens, their families, published signing keys.

Codes and refresh tokens are keyed by the SHA-256 of the secret (the secret itself is never
stored) and carry a TTL. A code or refresh token is spent by one conditional transaction, so two
racing redemptions cannot both win.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from watershed.store.tables import CatalogItem

GUARD = "GUARD"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _get(pk: str) -> dict[str, Any] | None:
    try:
        item = CatalogItem.get(pk, GUARD, consistent_read=True)
    except DoesNotExist:
        return None
    return dict(item.doc or {})


def _item(pk: str, org: str, kind: str, doc: dict[str, Any], expires_s: int | None) -> CatalogItem:
    item = CatalogItem(pk, GUARD, kind=kind, org=org, doc=doc)
    if expires_s is not None:
        item.expires = datetime.fromtimestamp(expires_s, UTC)
    return item


# authorization codes


def put_code(code: str, org: str, doc: dict[str, Any], expires_s: int) -> None:
    _item(f"OAUTHCODE#{digest(code)}", org, "oauth_code", doc, expires_s).save()


def take_code(code: str) -> dict[str, Any] | None:
    """The code's grant, deleted in the same step; None when unknown or already taken."""
    pk = f"OAUTHCODE#{digest(code)}"
    doc = _get(pk)
    if doc is None:
        return None
    try:
        CatalogItem(pk, GUARD).delete(condition=CatalogItem.pk.exists())
    except Exception:
        return None
    return doc


# refresh tokens


def put_refresh(token: str, org: str, doc: dict[str, Any], expires_s: int) -> None:
    _item(f"REFRESH#{digest(token)}", org, "refresh_token", doc, expires_s).save()


def get_refresh(token: str) -> dict[str, Any] | None:
    return _get(f"REFRESH#{digest(token)}")


def rotate_refresh(old: str, new: str, org: str, doc: dict[str, Any], expires_s: int) -> bool:
    """Spend `old` and store `new` atomically; False when `old` was already spent (a reuse)."""
    old_pk = f"REFRESH#{digest(old)}"
    spent = _item(f"REFRESHSPENT#{digest(old)}", org, "refresh_spent", {"family": doc["family"]}, expires_s)
    try:
        with TransactWrite(connection=Connection(region=CatalogItem.Meta.region)) as tx:
            tx.delete(CatalogItem(old_pk, GUARD), condition=CatalogItem.pk.exists())
            tx.save(spent, condition=CatalogItem.pk.does_not_exist())
            tx.save(_item(f"REFRESH#{digest(new)}", org, "refresh_token", doc, expires_s),
                    condition=CatalogItem.pk.does_not_exist())
    except TransactWriteError:
        return False
    return True


def spent_refresh(token: str) -> dict[str, Any] | None:
    """The family of a refresh token that was already rotated away, if it was."""
    return _get(f"REFRESHSPENT#{digest(token)}")


def revoke_family(family: str, org: str, expires_s: int) -> None:
    _item(f"RFAMILY#{family}", org, "refresh_family", {"revoked": True}, expires_s).save()


def family_revoked(family: str) -> bool:
    return _get(f"RFAMILY#{family}") is not None


# signing keys


def put_signing_key(kid: str, doc: dict[str, Any]) -> None:
    """A public key the platform signs with (or signed with), for verifiers and the JWKS."""
    item = CatalogItem(f"SIGNINGKEY#{kid}", GUARD, kind="signing_key", org="", doc=doc)
    item.gsi1pk = "SIGNINGKEYS"
    item.gsi1sk = f"{doc['created']:013d}#{kid}"
    item.save()


def get_signing_key(kid: str) -> dict[str, Any] | None:
    return _get(f"SIGNINGKEY#{kid}")


def signing_keys() -> list[dict[str, Any]]:
    """Every published key, oldest first."""
    return [dict(item.doc or {}) for item in CatalogItem.by_parent.query("SIGNINGKEYS")]
