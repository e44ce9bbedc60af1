"""Watershed's OAuth 2.0 authorization server: clients, grants, codes and refresh tokens.

Wire formats live in protocols/oauth.py (and any facade that maps its own paths onto these
calls, e.g. ORing's `/oring/v4/oauth/*`); this module only decides. Grants: `client_credentials`,
`authorization_code` with PKCE S256 (RFC 7636), `refresh_token` with rotation and reuse
detection (a refresh token used twice revokes its whole family, RFC 9700 §4.14), and `implicit`
only for a client registered with it (RFC 9700 deprecates it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from watershed import signing
from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import Principal, PrincipalKind
from watershed.services import tokens, users
from watershed.services.credentials import SCOPES, expand_scopes
from watershed.services.users import valid_scopes
from watershed.store import catalog as store
from watershed.store import oauth as oauth_store
from watershed.timefmt import now_ms
from watershed.validation import boolean, obj, text

GRANTS = ("client_credentials", "authorization_code", "refresh_token", "implicit")
MAX_REDIRECT_URIS = 20
CLIENT_PREFIX = "wsc_"
ACCESS_TOKEN_S = 3600
CODE_S = 300
REFRESH_S = 30 * 86400
AUTHORIZE_REQUEST_S = 900
"""How long a login page stays good for (its signed request)."""
INTERNAL = ("secretHash",)


class OAuthError(WatershedError):
    """An RFC 6749 error: `error` is its code (invalid_request, invalid_client, invalid_grant...)."""

    STATUS = {"invalid_client": 401, "server_error": 500, "temporarily_unavailable": 503}

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.status = self.STATUS.get(error, 400)
        self.code = error


# clients


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _redirect_uri(value: Any, field_name: str) -> str:
    uri = text(value, field_name, max_len=2048)
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.fragment or not parts.scheme or (not parts.netloc and parts.scheme in ("http", "https")):
        raise ValidationError("must be an absolute URI without a fragment", field_name)
    if parts.scheme == "http" and not loopback:
        raise ValidationError("http redirect URIs are allowed only on loopback; use https", field_name)
    return uri


def public_client(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in INTERNAL}


def create_client(org: str, body: Any) -> tuple[dict[str, Any], str | None]:
    """A new client and its secret, shown this once (None for a public client)."""
    body = obj(body, ("name", "grants", "redirectUris", "scopes", "public", "expires", "pools"), ("name", "grants"))
    grants = body["grants"]
    if not isinstance(grants, list) or not grants or not all(g in GRANTS for g in grants):
        raise ValidationError(f"grants must be a non-empty list of {', '.join(GRANTS)}", "grants")
    is_public = boolean(body.get("public", False), "public")
    if is_public and "client_credentials" in grants:
        raise ValidationError("a public client cannot use client_credentials", "grants")
    uris = body.get("redirectUris") or []
    if not isinstance(uris, list) or len(uris) > MAX_REDIRECT_URIS:
        raise ValidationError(f"redirectUris must be a list of at most {MAX_REDIRECT_URIS} URIs", "redirectUris")
    uris = [_redirect_uri(u, f"redirectUris[{i}]") for i, u in enumerate(uris)]
    if {"authorization_code", "implicit"} & set(grants) and not uris:
        raise ValidationError("authorization_code and implicit need at least one redirect URI", "redirectUris")
    expires = body.get("expires")
    if expires is not None:
        from watershed.timefmt import parse_time

        expires = parse_time(expires, "expires", bounded=False)
        if expires <= now_ms():
            raise ValidationError("expires must be in the future", "expires")
    pools = body.get("pools") or []
    if not isinstance(pools, list) or not all(isinstance(p, str) for p in pools):
        raise ValidationError("pools must be a list of pool ids", "pools")
    secret = None if is_public else "wss_" + secrets.token_urlsafe(32)
    doc = {
        "id": CLIENT_PREFIX + secrets.token_urlsafe(16),
        "org": org,
        "name": text(body["name"], "name"),
        "grants": sorted(set(grants)),
        "redirectUris": uris,
        "scopes": valid_scopes(body.get("scopes") or list(SCOPES)),
        "public": is_public,
        "pools": pools,
        "expires": expires,
        "created": now_ms(),
        "secretHash": _hash(secret) if secret else None,
    }
    store.create("oauthclient", doc, ("org", org))
    return doc, secret


def list_clients(org: str) -> list[dict[str, Any]]:
    return [doc for _, doc in store.children("org", org, "oauthclient")]


def get_client(org: str, client_id: str) -> dict[str, Any]:
    doc = store.get("oauthclient", client_id) if len(client_id) <= 64 else None
    if doc is None or doc.get("org") != org:
        raise NotFound("client not found", "id")
    return doc


def delete_client(org: str, client_id: str) -> None:
    """Revoking a client ends its tokens: verification looks the client up (within the cache TTL)."""
    get_client(org, client_id)
    store.delete_items([(store.entity_pk("oauthclient", client_id), store.META)])


def _live_client(client_id: str) -> dict[str, Any] | None:
    doc = store.get("oauthclient", client_id) if 0 < len(client_id) <= 64 else None
    if doc is None or (doc.get("expires") and doc["expires"] <= now_ms()):
        return None
    return doc


def authenticate_client(client_id: str | None, secret: str | None) -> dict[str, Any]:
    """The client a token request authenticates as (client_secret_basic/post, or none for public clients)."""
    if not client_id:
        raise OAuthError("invalid_client", "client authentication failed")
    client = _live_client(client_id)
    if client is None:
        raise OAuthError("invalid_client", "client authentication failed")
    if client.get("public"):
        if secret:
            raise OAuthError("invalid_client", "a public client has no secret")
        return client
    if not secret or not hmac.compare_digest(_hash(secret), str(client.get("secretHash"))):
        raise OAuthError("invalid_client", "client authentication failed")
    return client


# tokens


@dataclass
class TokenResponse:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    token_type: str = "Bearer"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"access_token": self.access_token, "token_type": self.token_type,
                               "expires_in": self.expires_in, "scope": self.scope}
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        return out


def _scopes(requested: str | None, allowed: list[str]) -> list[str]:
    """Requested scopes, each allowed or implied by one (admin ⊇ write ⊇ read); none requested: all allowed."""
    if requested is None or not requested.strip():
        return sorted(allowed)
    names = requested.split()
    if not all(n in _implied(allowed) for n in names):
        raise OAuthError("invalid_scope", f"scope must be within: {' '.join(sorted(allowed))}")
    return sorted(set(names))


def _access_token(client: dict[str, Any], subject: str, scopes: list[str], family: str | None = None) -> str:
    from watershed.services import signer

    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tokens.issuer(),
        "sub": subject,
        "aud": tokens.audience(),
        "exp": now + ACCESS_TOKEN_S,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "client_id": client["id"],
        "scope": " ".join(scopes),
        "org": client["org"],
    }
    if family:
        claims["sid"] = family
    return signer.sign(claims)


def _user_tokens(client: dict[str, Any], user: dict[str, Any], scopes: list[str], family: str) -> TokenResponse:
    refresh = None
    if "refresh_token" in client["grants"]:
        refresh = "wsr_" + secrets.token_urlsafe(32)
        oauth_store.put_refresh(refresh, client["org"], _refresh_doc(client, user, scopes, family),
                                int(time.time()) + REFRESH_S)
    return TokenResponse(_access_token(client, user["id"], scopes, family), ACCESS_TOKEN_S, " ".join(scopes), refresh)


def _refresh_doc(client: dict[str, Any], user: dict[str, Any], scopes: list[str], family: str) -> dict[str, Any]:
    return {"client": client["id"], "user": user["id"], "org": client["org"], "scopes": scopes, "family": family}


def token(params: dict[str, str], basic: tuple[str, str] | None) -> TokenResponse:
    """The token endpoint: one grant, after authenticating the client."""
    if basic is not None and (params.get("client_secret") or
                              (params.get("client_id") and params["client_id"] != basic[0])):
        raise OAuthError("invalid_request", "use one client authentication method")
    client_id, secret = basic if basic is not None else (params.get("client_id"), params.get("client_secret"))
    grant = params.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required")
    if grant not in GRANTS or grant == "implicit":
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
    client = authenticate_client(client_id, secret)
    if grant not in client["grants"]:
        raise OAuthError("unauthorized_client", f"this client may not use {grant}")
    if grant == "client_credentials":
        scopes = _scopes(params.get("scope"), client["scopes"])
        return TokenResponse(_access_token(client, client["id"], scopes), ACCESS_TOKEN_S, " ".join(scopes))
    if grant == "authorization_code":
        return _redeem_code(client, params)
    return _refresh(client, params)


def _pkce_s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")


def _redeem_code(client: dict[str, Any], params: dict[str, str]) -> TokenResponse:
    code = params.get("code")
    if not code:
        raise OAuthError("invalid_request", "code is required")
    grant = oauth_store.take_code(code)
    if grant is None or grant["client"] != client["id"] or grant["exp"] < now_ms():
        raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
    if params.get("redirect_uri") != grant["redirectUri"]:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    challenge = grant.get("challenge")
    verifier = params.get("code_verifier")
    if challenge:
        if not verifier or not 43 <= len(verifier) <= 128:
            raise OAuthError("invalid_grant", "code_verifier is required (43 to 128 characters)")
        if not hmac.compare_digest(_pkce_s256(verifier), challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    elif verifier:
        raise OAuthError("invalid_grant", "no code_challenge was sent with the authorization request")
    user = store.get("user", grant["user"])
    if user is None or user.get("org") != client["org"]:
        raise OAuthError("invalid_grant", "the user no longer exists")
    return _user_tokens(client, user, grant["scopes"], str(uuid.uuid4()))


def _refresh(client: dict[str, Any], params: dict[str, str]) -> TokenResponse:
    presented = params.get("refresh_token")
    if not presented:
        raise OAuthError("invalid_request", "refresh_token is required")
    doc = oauth_store.get_refresh(presented)
    expiry = int(time.time()) + REFRESH_S
    if doc is None:
        spent = oauth_store.spent_refresh(presented)
        if spent is not None:
            oauth_store.revoke_family(spent["family"], client["org"], expiry)
        raise OAuthError("invalid_grant", "the refresh token is invalid, expired or already used")
    if doc["client"] != client["id"] or oauth_store.family_revoked(doc["family"]):
        raise OAuthError("invalid_grant", "the refresh token is invalid, expired or already used")
    user = store.get("user", doc["user"])
    if user is None or user.get("org") != client["org"]:
        raise OAuthError("invalid_grant", "the user no longer exists")
    scopes = _scopes(params.get("scope"), doc["scopes"])
    new = "wsr_" + secrets.token_urlsafe(32)
    if not oauth_store.rotate_refresh(presented, new, client["org"], {**doc, "scopes": scopes}, expiry):
        oauth_store.revoke_family(doc["family"], client["org"], expiry)
        raise OAuthError("invalid_grant", "the refresh token is invalid, expired or already used")
    access = _access_token(client, user["id"], scopes, doc["family"])
    return TokenResponse(access, ACCESS_TOKEN_S, " ".join(scopes), new)


# the authorization endpoint


class AuthorizeError(WatershedError):
    """An authorization request that cannot go back to the client (unknown client or redirect URI):
    shown to the user, never redirected (RFC 6749 §4.1.2.1)."""

    status = 400
    code = "invalid_request"


@dataclass
class AuthorizationRequest:
    client: dict[str, Any]
    response_type: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    challenge: str | None
    extra: dict[str, str] = field(default_factory=dict)

    def signed(self) -> str:
        """The request as a tamper-proof token the login form carries back."""
        return signing.sign({"c": self.client["id"], "t": self.response_type, "r": self.redirect_uri,
                             "s": self.scopes, "st": self.state, "ch": self.challenge,
                             "exp": now_ms() + AUTHORIZE_REQUEST_S * 1000, "k": "authorize"})


def redirect(uri: str, params: dict[str, str | None], fragment: bool = False) -> str:
    """`uri` with the response parameters in its query (code) or fragment (implicit)."""
    encoded = urlencode({k: v for k, v in params.items() if v is not None})
    if fragment:
        return f"{uri}#{encoded}"
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{encoded}"


def authorization_request(params: dict[str, str]) -> AuthorizationRequest:
    """Validate `GET /oauth2/authorize`.

    AuthorizeError when the client or redirect URI is wrong (the page says so); an OAuthError
    carrying `redirect_to` for everything else, which goes back to the client with `state`.
    """
    client = _live_client(params.get("client_id") or "")
    if client is None:
        raise AuthorizeError("unknown client_id")
    redirect_uri = params.get("redirect_uri") or (client["redirectUris"][0] if len(client["redirectUris"]) == 1
                                                  else "")
    if redirect_uri not in client["redirectUris"]:
        raise AuthorizeError("redirect_uri is not registered for this client")
    state = params.get("state")
    response_type = params.get("response_type") or ""
    fragment = response_type == "token"

    def back(error: str, description: str) -> RedirectError:
        return RedirectError(redirect(redirect_uri, {"error": error, "error_description": description,
                                                     "state": state}, fragment))

    if response_type not in ("code", "token"):
        raise back("unsupported_response_type", "response_type must be code")
    grant = "authorization_code" if response_type == "code" else "implicit"
    if grant not in client["grants"]:
        if grant == "implicit":
            raise back("unauthorized_client", "the implicit grant is off for this client (RFC 9700); use code+PKCE")
        raise back("unauthorized_client", "this client may not use the authorization code grant")
    try:
        scopes = _scopes(params.get("scope"), client["scopes"])
    except OAuthError as error:
        raise back("invalid_scope", error.message) from None
    challenge = params.get("code_challenge")
    if grant == "authorization_code":
        method = params.get("code_challenge_method") or "plain"
        if challenge and method != "S256":
            raise back("invalid_request", "code_challenge_method must be S256")
        if not challenge and client.get("public"):
            raise back("invalid_request", "a public client must send a PKCE code_challenge (S256)")
        if challenge and not 43 <= len(challenge) <= 128:
            raise back("invalid_request", "code_challenge must be 43 to 128 characters")
    return AuthorizationRequest(client, response_type, redirect_uri, scopes, state, challenge or None)


class RedirectError(WatershedError):
    """An authorization error to send back to the client's redirect URI."""

    status = 302
    code = "redirect"

    def __init__(self, location: str) -> None:
        super().__init__("redirect")
        self.location = location


def resume(signed_request: str) -> AuthorizationRequest:
    """The authorization request a login form carries back, checked again (the client may be gone)."""
    try:
        data = signing.verify(signed_request, "request")
    except ValidationError:
        raise AuthorizeError("the sign-in form is not valid; start again") from None
    if data.get("k") != "authorize" or int(data.get("exp") or 0) < now_ms():
        raise AuthorizeError("the sign-in form has expired; start again")
    client = _live_client(str(data["c"]))
    if client is None or data["r"] not in client["redirectUris"]:
        raise AuthorizeError("unknown client_id")
    return AuthorizationRequest(client, data["t"], data["r"], list(data["s"]), data.get("st"), data.get("ch"))


def approve(request: AuthorizationRequest, username: str, password: str, consent: bool) -> str:
    """Sign the user in and answer the client: the redirect URI with a code (or a token, implicit).

    Unauthorized (the page shows the form again) when the user name or password is wrong.
    """
    back_with_fragment = request.response_type == "token"
    if not consent:
        return redirect(request.redirect_uri, {"error": "access_denied", "error_description": "the user said no",
                                               "state": request.state}, back_with_fragment)
    user = users.sign_in(request.client["org"], username, password)
    scopes = [s for s in request.scopes if s in _implied(user["scopes"])]
    if not scopes:
        return redirect(request.redirect_uri, {"error": "invalid_scope",
                                               "error_description": "the user holds none of the requested scopes",
                                               "state": request.state}, back_with_fragment)
    if request.response_type == "token":
        access = _access_token(request.client, user["id"], scopes)
        return redirect(request.redirect_uri, {"access_token": access, "token_type": "Bearer",
                                               "expires_in": str(ACCESS_TOKEN_S), "scope": " ".join(scopes),
                                               "state": request.state}, fragment=True)
    code = secrets.token_urlsafe(32)
    oauth_store.put_code(code, request.client["org"], {
        "client": request.client["id"], "user": user["id"], "scopes": scopes, "redirectUri": request.redirect_uri,
        "challenge": request.challenge, "exp": now_ms() + CODE_S * 1000,
    }, int(time.time()) + CODE_S)
    return redirect(request.redirect_uri, {"code": code, "state": request.state})


def _implied(scopes: list[str]) -> set[str]:
    return set(expand_scopes(scopes))


def metadata() -> dict[str, Any]:
    """RFC 8414 authorization server metadata."""
    base = tokens.issuer()
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token", "implicit"],
        "response_types_supported": ["code", "token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES),
        "service_documentation": f"{base}/v1/openapi.json",
    }


def caller(principal: Any) -> dict[str, Any]:
    """`GET /v1/me`: who the credential stands for."""
    return {"kind": principal.kind.value, "id": principal.key_id, "org": principal.org,
            "scopes": sorted(principal.scopes), "pools": sorted(principal.pools), "scheme": principal.scheme.value}


def credential(principal: Principal) -> dict[str, Any] | None:
    """The stored key, client or user the caller's credential stands for (one GetItem; None when it
    is gone): facades answer its name and creation time."""
    try:
        if principal.kind is PrincipalKind.USER:
            return users.get_user(principal.org, principal.key_id)
        if principal.kind is PrincipalKind.CLIENT:
            return get_client(principal.org, principal.key_id)
    except NotFound:
        return None
    doc = store.get("apikey", principal.key_id) if len(principal.key_id.encode()) <= 64 else None
    return doc if doc is not None and doc.get("org") == principal.org else None
