"""Bearer tokens: the verifier every door's `Bearer` scheme calls (services.auth.resolve).

Two kinds of issuer are trusted:
- Watershed's own OAuth server: ES256 JWTs (RFC 9068, `typ: at+jwt`) whose public keys the token
  function publishes in the catalog; a verifier reads a key once per container, so a request
  costs no KMS call and no network call.
- external OIDC issuers an organisation registered (services.issuers): verified against the
  issuer's JWKS, fetched once and refreshed when a token names an unknown `kid`.

Every check refuses with Unauthorized: signature, algorithm, issuer, audience, expiry, not
before, and that the client, user and refresh family behind a token still exist. PyJWT is
imported here, on the Bearer path only, so an ApiKey request never pays for it.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from watershed.errors import Unauthorized
from watershed.model import Principal, PrincipalKind, Scheme
from watershed.services import credentials, issuers
from watershed.services.credentials import audience, issuer
from watershed.store import catalog
from watershed.store import oauth as store

ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"
EXTERNAL_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "PS384", "PS512")
"""Asymmetric algorithms only: an HS* token "signed" with a public key is refused outright."""
LEEWAY_S = 30
"""Clock skew tolerated on exp, nbf and iat."""
MAX_ACCESS_TOKEN_S = 3600
"""No access token lives longer; a retired signing key stays trusted this long after retirement."""
KEY_CACHE_S = 300.0


def _refuse(_reason: str) -> Unauthorized:
    return Unauthorized("Unauthorized")


def verify_bearer(token: str) -> Principal:
    """The principal a valid access token stands for; any other token is Unauthorized."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse("malformed") from None
    token_issuer = unverified.get("iss")
    if not isinstance(token_issuer, str):
        raise _refuse("no issuer")
    if token_issuer.rstrip("/") == issuer():
        return _verify_own(token, header)
    trust = issuers.trust_for(token_issuer)
    if trust is None:
        raise _refuse("untrusted issuer")
    return _verify_external(token, header, trust)


# Watershed's own tokens


class _PublishedKeys:
    """Public keys by kid, read from the catalog once per container (and again after KEY_CACHE_S)."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[float, Any, int | None]] = {}
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._keys.get(kid)
        if hit is None or hit[0] <= now:
            doc = store.get_signing_key(kid)
            if doc is None:
                raise _refuse("unknown kid")
            import jwt

            public = jwt.PyJWK(doc["jwk"], ALGORITHM).key
            hit = (now + KEY_CACHE_S, public, doc.get("retired"))
            with self._lock:
                if len(self._keys) > 64:
                    self._keys.clear()
                self._keys[kid] = hit
        _, public, retired = hit
        if retired is not None and retired + MAX_ACCESS_TOKEN_S * 1000 < time.time() * 1000:
            raise _refuse("retired key")
        return public

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


published_keys = _PublishedKeys()


def _verify_own(token: str, header: dict[str, Any]) -> Principal:
    import jwt

    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(header.get("kid"), str):
        raise _refuse("header")
    key = published_keys.key(header["kid"])
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience(),
            issuer=issuer(),
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "client_id", "org"]},
        )
    except jwt.PyJWTError:
        raise _refuse("invalid") from None
    return _own_principal(claims)


def _own_principal(claims: dict[str, Any]) -> Principal:
    """The client (and user) behind a verified token must still exist, unexpired, in its organisation."""
    org, client_id, subject = str(claims["org"]), str(claims["client_id"]), str(claims["sub"])
    now = int(time.time() * 1000)
    client = catalog.get("oauthclient", client_id)
    if client is None or client.get("org") != org or (client.get("expires") or now + 1) <= now:
        raise _refuse("client gone")
    kind = PrincipalKind.CLIENT
    if subject != client_id:
        user = catalog.get("user", subject)
        if user is None or user.get("org") != org:
            raise _refuse("user gone")
        kind = PrincipalKind.USER
    family = claims.get("sid")
    if isinstance(family, str) and store.family_revoked(family):
        raise _refuse("family revoked")
    return Principal(
        org=org,
        scopes=credentials.expand_scopes(str(claims.get("scope") or "").split()),
        pools=frozenset(client.get("pools") or []),
        key_id=subject,
        kind=kind,
        scheme=Scheme.BEARER,
    )


# external issuers


_jwks_clients: dict[str, Any] = {}
_jwks_lock = threading.Lock()


def jwks_cooldown_s() -> float:
    """Least seconds between two JWKS fetches of one issuer (an unknown kid forces one)."""
    return float(os.environ.get("WATERSHED_JWKS_COOLDOWN_S", "30"))


def _jwks_client(uri: str) -> Any:
    from jwt import PyJWKClient

    with _jwks_lock:
        client = _jwks_clients.get(uri)
        if client is None:
            client = PyJWKClient(uri, cache_keys=False, lifespan=KEY_CACHE_S, timeout=3,
                                 cooldown_duration=jwks_cooldown_s())
            _jwks_clients[uri] = client
        return client


def _verify_external(token: str, header: dict[str, Any], trust: dict[str, Any]) -> Principal:
    import jwt

    algorithm = header.get("alg")
    if algorithm not in EXTERNAL_ALGORITHMS or not isinstance(header.get("kid"), str):
        raise _refuse("algorithm")
    if not issuers.fetchable(trust["jwksUri"]):
        raise _refuse("JWKS address not allowed here")
    try:
        signing_key = _jwks_client(trust["jwksUri"]).get_signing_key(header["kid"])
    except jwt.PyJWKClientError:
        raise _refuse("unknown kid") from None
    if signing_key.algorithm_name != algorithm:
        raise _refuse("algorithm does not match the key")  # a JWK without `alg`: RS256, or ES* by its curve
    try:
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[algorithm],
            audience=trust["audience"],
            issuer=trust["issuer"],
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError:
        raise _refuse("invalid") from None
    org_claim = trust.get("orgClaim")
    if org_claim and str(claims.get(org_claim)) != str(trust.get("orgValue")):
        raise _refuse("other organisation")
    return Principal(
        org=trust["org"],
        scopes=credentials.expand_scopes(issuers.mapped_scopes(trust, claims)),
        key_id=f"{trust['id']}:{claims['sub']}",
        kind=PrincipalKind.USER,
        scheme=Scheme.BEARER,
    )


def jwks() -> dict[str, Any]:
    """The JWK Set of Watershed's own tokens: the active key and retired ones whose tokens may live."""
    cutoff = time.time() * 1000 - MAX_ACCESS_TOKEN_S * 1000
    keys = [doc["jwk"] for doc in store.signing_keys() if doc.get("retired") is None or doc["retired"] > cutoff]
    return {"keys": keys}
