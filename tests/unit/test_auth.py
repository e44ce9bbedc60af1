"""API keys are stored only as hashes, and resolve to their organisation, scopes and pools."""

from __future__ import annotations

import hashlib

import pytest

from watershed.errors import Unauthorized
from watershed.services import auth, keys
from watershed.store.tables import CatalogItem


def test_catalog_holds_no_plaintext_key(aws: None) -> None:
    _, secret = keys.issue_key("org-1", "ci", ["read", "write"], ["pool-9"])
    stored = [item.attribute_values for item in CatalogItem.scan()]
    flat = repr(stored)
    assert secret not in flat
    assert hashlib.sha256(secret.encode()).hexdigest() in flat
    principal = auth.principal_for_header(f"ApiKey {secret}")
    assert principal.org == "org-1"
    assert principal.scopes == {"read", "write"}
    assert principal.pools == {"pool-9"}


@pytest.mark.parametrize("header", [None, "", "ApiKey", "Bearer abc", "ApiKey wsk_nope", "Basic Zm9vOg=="])
def test_unusable_headers_are_unauthorized(aws: None, header: str | None) -> None:
    with pytest.raises(Unauthorized):
        auth.principal_for_header(header)


def test_context_round_trip_keeps_everything() -> None:
    principal = auth.Principal(org="o", scopes=frozenset({"read"}), pools=frozenset({"a", "b"}), key_id="k")
    context = auth.to_context(principal)
    assert all(isinstance(v, str) for v in context.values())
    assert auth.from_context(context) == principal
