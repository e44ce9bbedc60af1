"""Pieces of the OAuth server that need no HTTP: PKCE, scope mapping, where a JWKS may be fetched from."""

from __future__ import annotations

import pytest

from watershed.services import issuers, oauth


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    assert oauth._pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_requested_scopes_stay_within_what_is_held() -> None:
    assert oauth._scopes(None, ["write"]) == ["write"]
    assert oauth._scopes("read", ["write"]) == ["read"]
    with pytest.raises(oauth.OAuthError) as refused:
        oauth._scopes("admin", ["write"])
    assert refused.value.error == "invalid_scope" and refused.value.status == 400


def test_external_scopes_map_from_strings_or_lists() -> None:
    trust = {"scopeClaim": "scp", "scopeMap": {"t.read": "read", "t.admin": "admin"}}
    assert issuers.mapped_scopes(trust, {"scp": ["t.read", "other"]}) == ["read"]
    assert issuers.mapped_scopes(trust, {"scp": "t.admin t.read"}) == ["admin", "read"]
    assert issuers.mapped_scopes(trust, {"scp": 42}) == []


def test_a_jwks_on_loopback_is_fetched_only_in_the_local_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATERSHED_LOOPBACK_ISSUERS", raising=False)
    assert issuers.fetchable("https://idp.example/.well-known/jwks.json")
    assert not issuers.fetchable("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next")
    assert not issuers.fetchable("https://localhost/jwks.json")
    assert not issuers.fetchable("http://idp.example/jwks.json")
    monkeypatch.setenv("WATERSHED_LOOPBACK_ISSUERS", "true")
    assert issuers.fetchable("http://127.0.0.1:8000/.well-known/jwks.json")


def test_oauth_errors_carry_rfc6749_statuses() -> None:
    assert oauth.OAuthError("invalid_client", "x").status == 401
    assert oauth.OAuthError("invalid_grant", "x").status == 400
    assert oauth.redirect("https://a.example/cb?x=1", {"code": "c", "state": None}) == "https://a.example/cb?x=1&code=c"
    assert oauth.redirect("https://a.example/cb", {"access_token": "t"}, fragment=True) == \
        "https://a.example/cb#access_token=t"
