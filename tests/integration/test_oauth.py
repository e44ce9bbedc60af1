"""OAuth 2.0 and Bearer tokens over real HTTP against `python -m local` (issue 21).

Grants end to end (client credentials; authorization code with PKCE through the sign-in page,
then refresh and rotation), RFC 6749 error bodies, the refusals (every forged, stale or orphaned
token is a 401 with no data), external issuers served on loopback, signing key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.integration.conftest import Platform, start_platform
from tests.integration.oidc_issuer import TestIssuer

REDIRECT = "https://app.example/callback"


@pytest.fixture(scope="module")
def oauth_platform() -> Iterator[Platform]:
    """A platform of its own: an external issuer's JWKS may be refetched at once on an unknown kid, and
    no authorizer cache, so a revocation or an expiry shows on the next request."""
    previous = os.environ.get("WATERSHED_JWKS_COOLDOWN_S")
    os.environ["WATERSHED_JWKS_COOLDOWN_S"] = "0"
    try:
        with start_platform("--no-mqtt", "--auth-cache-ttl", "0") as running:
            yield running
    finally:
        if previous is None:
            os.environ.pop("WATERSHED_JWKS_COOLDOWN_S", None)
        else:
            os.environ["WATERSHED_JWKS_COOLDOWN_S"] = previous


@pytest.fixture
def admin(oauth_platform: Platform) -> Iterator[httpx.Client]:
    """An admin API key client of a fresh organisation."""
    _, key = oauth_platform.create_org("oauth")
    with oauth_platform.client(key) as client:
        yield client


def _client(admin: httpx.Client, **body: Any) -> dict[str, Any]:
    response = admin.post("/v1/clients", json={"name": "app", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _user(admin: httpx.Client, username: str = "alice", scopes: tuple[str, ...] = ("admin",)) -> dict[str, Any]:
    response = admin.post("/v1/users", json={"username": username, "password": "correct horse battery",
                                             "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _token(url: str, **params: str) -> httpx.Response:
    return httpx.post(f"{url}/oauth2/token", data=params, timeout=30)


def _bearer(url: str, token: str, path: str = "/v1/me", scheme: str = "Bearer") -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"{scheme} {token}"}, timeout=30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class _Form(HTMLParser):
    """The hidden fields of the sign-in page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or ""
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def _sign_in(page: httpx.Response, username: str, password: str, decision: str = "allow") -> httpx.Response:
    """Fill in the sign-in form as a browser would and post it where its action points."""
    form = _Form()
    form.feed(page.text)
    target = urljoin(str(page.url), form.action)
    return httpx.post(target, data={**form.fields, "username": username, "password": password,
                                    "decision": decision}, timeout=30)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64(hashlib.sha256(verifier.encode()).digest())


def _authorize(url: str, client_id: str, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "xyz", **params}
    return httpx.get(f"{url}/oauth2/authorize", params=query, timeout=30)


def _code_flow(url: str, client: dict[str, Any], verifier_challenge: tuple[str, str]) -> str:
    _, challenge = verifier_challenge
    page = _authorize(url, client["clientId"], code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    answer = _sign_in(page, "alice", "correct horse battery")
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


# client credentials


def test_client_credentials_token_calls_native_routes(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    reader = _client(admin, grants=["client_credentials"], scopes=["read"])
    assert "clientSecret" not in admin.get(f"/v1/clients/{reader['clientId']}").json()
    issued = _token(url, grant_type="client_credentials", client_id=reader["clientId"],
                    client_secret=reader["clientSecret"])
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "read"
    assert issued.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "org"} <= set(claims)
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    token = body["access_token"]
    assert _bearer(url, token, "/v1/pools").status_code == 200
    me = _bearer(url, token).json()
    assert me["kind"] == "client" and me["id"] == reader["clientId"] and me["scopes"] == ["read"]
    refused = httpx.post(f"{url}/v1/pools", json={"name": "x"}, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403

    writer = _client(admin, grants=["client_credentials"], scopes=["admin"])
    basic = base64.b64encode(f"{writer['clientId']}:{writer['clientSecret']}".encode()).decode()
    by_basic = httpx.post(f"{url}/oauth2/token", json={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"})
    assert by_basic.status_code == 200, by_basic.text
    created = httpx.post(f"{url}/v1/pools", json={"name": "by token"},
                         headers={"Authorization": f"Bearer {by_basic.json()['access_token']}"})
    assert created.status_code == 201
    assert admin.get(f"/v1/pools/{created.json()['id']}").json()["name"] == "by token"


def test_token_endpoint_errors_follow_rfc6749(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    client = _client(admin, grants=["client_credentials"], scopes=["read"])
    cid, secret = client["clientId"], client["clientSecret"]
    cases = [
        ({"grant_type": "client_credentials", "client_id": cid, "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "wsc_nobody", "client_secret": "x"}, 401,
         "invalid_client"),
        ({"client_id": cid, "client_secret": secret}, 400, "invalid_request"),
        ({"grant_type": "password", "client_id": cid, "client_secret": secret}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "client_id": cid, "client_secret": secret, "code": "x"}, 400,
         "unauthorized_client"),
        ({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret, "scope": "admin"}, 400,
         "invalid_scope"),
    ]
    for params, status, error in cases:
        response = _token(url, **params)
        assert response.status_code == status, (params, response.text)
        assert response.json()["error"] == error and response.json()["error_description"]
    challenged = _token(url, grant_type="client_credentials", client_id=cid, client_secret="wrong")
    assert challenged.headers["www-authenticate"].startswith("Basic")
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    twice = httpx.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials", "client_secret": secret},
                       headers={"Authorization": f"Basic {basic}"})
    assert twice.status_code == 400 and twice.json()["error"] == "invalid_request"


# authorization code + PKCE, refresh rotation


def test_authorization_code_with_pkce_then_refresh_rotation(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    user = _user(admin, scopes=("write",))
    client = _client(admin, grants=["authorization_code", "refresh_token"], redirectUris=[REDIRECT],
                     scopes=["read", "write", "admin"])
    pkce = _pkce()
    code = _code_flow(url, client, pkce)
    auth = {"client_id": client["clientId"], "client_secret": client["clientSecret"]}
    wrong = _token(url, grant_type="authorization_code", code=_code_flow(url, client, pkce), redirect_uri=REDIRECT,
                   code_verifier=_pkce()[0], **auth)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    issued = _token(url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=pkce[0],
                    **auth)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    assert tokens["scope"] == "read write"  # what the user holds, within what the client asked
    me = _bearer(url, tokens["access_token"]).json()
    assert me == {"kind": "user", "id": user["id"], "org": me["org"], "scopes": ["read", "write"], "pools": [],
                  "scheme": "Bearer"}
    again = _token(url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=pkce[0],
                   **auth)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    first_refresh = tokens["refresh_token"]
    rotated = _token(url, grant_type="refresh_token", refresh_token=first_refresh, **auth)
    assert rotated.status_code == 200, rotated.text
    second_refresh = rotated.json()["refresh_token"]
    assert second_refresh != first_refresh
    assert _bearer(url, rotated.json()["access_token"]).status_code == 200

    reused = _token(url, grant_type="refresh_token", refresh_token=first_refresh, **auth)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    family_gone = _token(url, grant_type="refresh_token", refresh_token=second_refresh, **auth)
    assert family_gone.status_code == 400 and family_gone.json()["error"] == "invalid_grant"
    # the family's access tokens die with it (a header the gateway has not cached yet)
    _refused(url, rotated.json()["access_token"], scheme="bearer")


def test_public_client_must_use_pkce_and_redirect_uri_must_match(oauth_platform: Platform,
                                                                 admin: httpx.Client) -> None:
    url = oauth_platform.url
    _user(admin)
    spa = _client(admin, grants=["authorization_code"], redirectUris=[REDIRECT], public=True)
    assert spa["clientSecret"] is None
    no_pkce = _authorize(url, spa["clientId"])
    assert no_pkce.status_code == 302
    assert parse_qs(urlsplit(no_pkce.headers["location"]).query)["error"] == ["invalid_request"]
    elsewhere = _authorize(url, spa["clientId"], redirect_uri="https://evil.example/callback")
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    assert "text/html" in elsewhere.headers["content-type"]
    pkce = _pkce()
    code = _code_flow(url, spa, pkce)
    issued = _token(url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=pkce[0],
                    client_id=spa["clientId"])
    assert issued.status_code == 200 and "refresh_token" not in issued.json()


def test_sign_in_page_refuses_wrong_passwords_and_locks_out(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    _user(admin)
    client = _client(admin, grants=["authorization_code"], redirectUris=[REDIRECT])
    page = _authorize(url, client["clientId"], code_challenge=_pkce()[1], code_challenge_method="S256")
    denied = _sign_in(page, "alice", "correct horse battery", decision="deny")
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    for _ in range(5):
        wrong = _sign_in(page, "alice", "not the password")
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    locked = _sign_in(page, "alice", "correct horse battery")
    assert locked.status_code == 401 and "location" not in locked.headers


def test_implicit_grant_is_refused_unless_the_client_allows_it(oauth_platform: Platform,
                                                               admin: httpx.Client) -> None:
    url = oauth_platform.url
    _user(admin, scopes=("read",))
    plain = _client(admin, grants=["authorization_code"], redirectUris=[REDIRECT])
    refused = _authorize(url, plain["clientId"], response_type="token")
    assert refused.status_code == 302
    fragment = parse_qs(urlsplit(refused.headers["location"]).fragment)
    assert fragment["error"] == ["unauthorized_client"] and fragment["state"] == ["xyz"]

    legacy = _client(admin, grants=["implicit"], redirectUris=[REDIRECT], public=True)
    page = _authorize(url, legacy["clientId"], response_type="token", scope="read")
    answer = _sign_in(page, "alice", "correct horse battery")
    fragment = parse_qs(urlsplit(answer.headers["location"]).fragment)
    assert fragment["token_type"] == ["Bearer"] and fragment["state"] == ["xyz"]
    assert _bearer(url, fragment["access_token"][0]).json()["kind"] == "user"


# refusals: 401 and no data


def _forged(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _refused(url: str, token: str, scheme: str = "Bearer") -> None:
    for path in ("/v1/me", "/v1/pools"):
        response = _bearer(url, token, path, scheme)
        assert response.status_code == 401, (path, response.text)
        assert "data" not in response.json() and "org" not in response.json()


def test_own_tokens_refused_when_forged_or_orphaned(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    client = _client(admin, grants=["client_credentials"], scopes=["read"])
    good = _token(url, grant_type="client_credentials", client_id=client["clientId"],
                  client_secret=client["clientSecret"]).json()["access_token"]
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    head, _, signature = good.split(".")
    jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
    public_text = json.dumps(jwks["keys"][0]).encode()

    tampered = f"{head}.{_b64(json.dumps({**claims, 'scope': 'admin'}).encode())}.{signature}"
    alg_none = _forged({**header, "alg": "none"}, claims)
    signing_input = f"{_b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{good.split('.')[1]}"
    hs256 = f"{signing_input}.{_b64(hmac.new(public_text, signing_input.encode(), hashlib.sha256).digest())}"
    unknown_kid = _forged({**header, "kid": "no-such-key"}, claims, b"x" * 64)
    for token in (tampered, alg_none, hs256, unknown_kid, "not-a-jwt"):
        _refused(url, token)

    assert _bearer(url, good).status_code == 200
    assert admin.delete(f"/v1/clients/{client['clientId']}").status_code == 204
    # The gateway caches a decision by the Authorization header for its TTL (docs/auth.md); the
    # scheme's other spelling is another header, so this request reaches the authorizer.
    _refused(url, good, scheme="bearer")


def test_deleted_user_tokens_are_refused(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    user = _user(admin, scopes=("read",))
    client = _client(admin, grants=["authorization_code"], redirectUris=[REDIRECT])
    pkce = _pkce()
    code = _code_flow(url, client, pkce)
    token = _token(url, grant_type="authorization_code", code=code, redirect_uri=REDIRECT, code_verifier=pkce[0],
                   client_id=client["clientId"], client_secret=client["clientSecret"]).json()["access_token"]
    assert admin.delete(f"/v1/users/{user['id']}").status_code == 204
    _refused(url, token)


def test_external_issuer_tokens(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    with TestIssuer() as issuer:
        trust = admin.post("/v1/issuers", json={
            "issuer": issuer.url, "audience": "watershed-api", "orgClaim": "tenant", "orgValue": "acme",
            "scopeClaim": "scp", "scopeMap": {"telemetry.read": "read", "telemetry.admin": "admin"},
        })
        assert trust.status_code == 201, trust.text
        org = admin.get("/v1/me").json()["org"]
        claims = issuer.claims("watershed-api", tenant="acme", scp=["telemetry.read"])
        accepted = _bearer(url, issuer.token(claims))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["org"] == org and accepted.json()["scopes"] == ["read"]
        assert accepted.json()["kind"] == "user"
        assert _bearer(url, issuer.token(claims), "/v1/pools").status_code == 200

        now = int(time.time())
        public_pem = issuer.keys[issuer.kid].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        hs_header = _b64(json.dumps({"alg": "HS256", "kid": issuer.kid}).encode())
        signing_input = f"{hs_header}.{_b64(json.dumps(claims).encode())}"
        hs256 = f"{signing_input}.{_b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
        head, _, signature = issuer.token(claims).split(".")
        refusals = {
            "expired": issuer.token({**claims, "exp": now - 3600, "iat": now - 7200, "nbf": now - 7200}),
            "not yet valid": issuer.token({**claims, "nbf": now + 3600}),
            "wrong audience": issuer.token({**claims, "aud": "someone-else"}),
            "wrong issuer": issuer.token({**claims, "iss": "https://other.example"}),
            "other tenant": issuer.token({**claims, "tenant": "globex"}),
            "alg none": _forged({"alg": "none", "kid": issuer.kid}, claims),
            "HS256 with the public key": hs256,
            "tampered payload": f"{head}.{_b64(json.dumps({**claims, 'scp': ['telemetry.admin']}).encode())}"
                                f".{signature}",
            "unknown kid": issuer.token(claims, kid="never-published",
                                        key=issuer.keys[issuer.kid]),
        }
        for reason, token in refusals.items():
            response = _bearer(url, token)
            assert response.status_code == 401, (reason, response.text)

        fetched = issuer.fetches
        rotated_kid = issuer.add_key()
        after_rotation = _bearer(url, issuer.token(claims, kid=rotated_kid))
        assert after_rotation.status_code == 200, after_rotation.text
        assert issuer.fetches == fetched + 1  # refreshed once, on the unknown kid


def test_signing_key_rotation_keeps_old_tokens_valid(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    client = _client(admin, grants=["client_credentials"], scopes=["read"])

    def issue() -> str:
        return str(_token(url, grant_type="client_credentials", client_id=client["clientId"],
                          client_secret=client["clientSecret"]).json()["access_token"])

    old = issue()
    old_kid = jwt.get_unverified_header(old)["kid"]
    rotated = httpx.post(f"{url}/_local/signing-keys")
    assert rotated.status_code == 201
    new = issue()
    new_kid = jwt.get_unverified_header(new)["kid"]
    assert new_kid == rotated.json()["kid"] != old_kid
    assert _bearer(url, old).status_code == 200
    assert _bearer(url, new).status_code == 200
    kids = {key["kid"] for key in httpx.get(f"{url}/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    for token, kid in ((old, old_kid), (new, new_kid)):
        key = next(k for k in httpx.get(f"{url}/.well-known/jwks.json").json()["keys"] if k["kid"] == kid)
        verified = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["ES256"], audience=url, issuer=url)
        assert verified["client_id"] == client["clientId"]


def test_metadata_and_crud(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    metadata = httpx.get(f"{url}/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == url
    assert metadata["token_endpoint"] == f"{url}/oauth2/token"
    assert metadata["jwks_uri"] == f"{url}/.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    user = _user(admin, "bob")
    listed = admin.get("/v1/users").json()["data"]
    assert [u["username"] for u in listed] == ["bob"] and "passwordHash" not in listed[0]
    assert admin.post("/v1/users", json={"username": "BOB", "password": "another long one",
                                         "scopes": ["read"]}).status_code == 409
    short = admin.post("/v1/users", json={"username": "carol", "password": "short", "scopes": ["read"]})
    assert short.status_code == 400 and short.json()["field"] == "password"
    assert admin.delete(f"/v1/users/{user['id']}").status_code == 204
    assert admin.get(f"/v1/users/{user['id']}").status_code == 404
    bad = admin.post("/v1/clients", json={"name": "x", "grants": ["authorization_code"],
                                          "redirectUris": ["http://evil.example/cb"]})
    assert bad.status_code == 400 and bad.json()["field"] == "redirectUris[0]"
    client = _client(admin, grants=["client_credentials"])
    assert [c["id"] for c in admin.get("/v1/clients").json()["data"]] == [client["clientId"]]
    assert "secretHash" not in admin.get("/v1/clients").text


# API key lifecycle


def _key_call(url: str, secret: str) -> int:
    return httpx.get(f"{url}/v1/me", headers={"Authorization": f"ApiKey {secret}"}, timeout=30).status_code


def test_key_rotation_keeps_the_old_secret_for_the_grace_period(oauth_platform: Platform,
                                                                admin: httpx.Client) -> None:
    url = oauth_platform.url
    created = admin.post("/v1/keys", json={"name": "fleet", "scopes": ["write"]}).json()
    old = created["key"]
    assert _key_call(url, old) == 200
    described = admin.get(f"/v1/keys/{created['id']}").json()
    assert described["lastUsed"] is not None and "hash" not in described
    rotated = admin.post(f"/v1/keys/{created['id']}/rotate", json={"graceSeconds": 3600})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["key"]
    assert new != old and rotated.json()["id"] == created["id"]
    assert _key_call(url, new) == 200 and _key_call(url, old) == 200
    now_only = admin.post(f"/v1/keys/{created['id']}/rotate", json={"graceSeconds": 0}).json()["key"]
    assert _key_call(url, now_only) == 200
    assert _key_call(url, new) == 401
    assert _key_call(url, old) == 200  # still within the first rotation's grace period
    assert admin.delete(f"/v1/keys/{created['id']}").status_code == 204
    assert _key_call(url, old) == 401 and _key_call(url, now_only) == 401


def test_key_expiry(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    created = admin.post("/v1/keys", json={"name": "temp", "scopes": ["read"]}).json()
    past = admin.patch(f"/v1/keys/{created['id']}", json={"expires": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["field"] == "expires"
    soon = int(time.time() * 1000) + 1500
    updated = admin.patch(f"/v1/keys/{created['id']}", json={"expires": soon})
    assert updated.status_code == 200 and updated.json()["expires"].endswith("Z")
    assert _key_call(url, created["key"]) == 200
    deadline = time.monotonic() + 10
    while _key_call(url, created["key"]) == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _key_call(url, created["key"]) == 401
    assert time.time() * 1000 >= soon


def test_client_expiry(oauth_platform: Platform, admin: httpx.Client) -> None:
    url = oauth_platform.url
    soon = int(time.time() * 1000) + 1500
    client = _client(admin, grants=["client_credentials"], expires=soon)
    token = _token(url, grant_type="client_credentials", client_id=client["clientId"],
                   client_secret=client["clientSecret"]).json()["access_token"]
    assert _bearer(url, token).status_code == 200
    deadline = time.monotonic() + 10
    while _bearer(url, token).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _bearer(url, token).status_code == 401
    refused = _token(url, grant_type="client_credentials", client_id=client["clientId"],
                     client_secret=client["clientSecret"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
