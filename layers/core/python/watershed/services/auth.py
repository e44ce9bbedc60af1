"""Credentials: every scheme of every door resolves here to one Principal (docs/architecture.md, Auth).

API keys are created per organisation with scopes and optional pools and kept only as SHA-256
hashes; Bearer tokens are verified by services.tokens.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping
from typing import Any

from watershed.errors import Forbidden, MissingCredential, Unauthorized
from watershed.model import Principal, PrincipalKind, Scheme
from watershed.services.credentials import expand_scopes, hash_key, key_lookup_name
from watershed.store import catalog as store


def principal_for_key(key: str, scheme: Scheme = Scheme.API_KEY) -> Principal:
    """The organisation and scopes of a presented key; unknown keys are Unauthorized."""
    found = store.get_lookup(key_lookup_name(hash_key(key)))
    if found is None:
        raise Unauthorized("Unauthorized")
    from watershed.services import key_lifecycle

    if not key_lifecycle.still_valid(found):
        raise Unauthorized("Unauthorized")
    key_lifecycle.record_use(found["keyId"])
    return Principal(
        org=found["org"],
        scopes=expand_scopes(found["scopes"]),
        pools=frozenset(found.get("pools") or []),
        key_id=found["keyId"],
        kind=PrincipalKind.KEY,
        scheme=scheme,
    )


HEADER_SCHEMES = {s.value.lower(): s for s in (Scheme.API_KEY, Scheme.BITPOOL2, Scheme.BASIC, Scheme.BEARER)}
FORM_FIELD = "_key"


def credential_from(
    accepted: Iterable[Scheme],
    authorization: str | None,
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> tuple[Scheme, str]:
    """The one credential a request presents in a scheme the route accepts.

    A credential in a scheme the route does not list counts as none: the request is refused as
    if it carried nothing, so no route can be reached through another facade's scheme.
    """
    allowed = frozenset(accepted)
    if authorization and authorization.strip():
        word, _, rest = authorization.strip().partition(" ")
        scheme = HEADER_SCHEMES.get(word.lower())
        if scheme in allowed and rest.strip():
            return scheme, rest.strip()
    if Scheme.FORM_KEY in allowed:
        for source in (form, query):
            value = (source or {}).get(FORM_FIELD)
            if value:
                return Scheme.FORM_KEY, value
    raise MissingCredential("Unauthorized")


def resolve(scheme: Scheme, credential: str) -> Principal:
    """One credential in one scheme → the principal it stands for (every scheme, one principal)."""
    if scheme is Scheme.BEARER:
        from watershed.services import tokens

        return tokens.verify_bearer(credential)
    if scheme is Scheme.BASIC:
        return principal_for_key(_basic_user(credential), scheme)
    return principal_for_key(credential, scheme)


def _basic_user(credential: str) -> str:
    """HTTP Basic's user name is the key; the password is ignored (Custom Stream's convention)."""
    try:
        decoded = base64.b64decode(credential, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise Unauthorized("Unauthorized") from None
    user = decoded.partition(":")[0]
    if not user:
        raise Unauthorized("Unauthorized")
    return user


def authenticate(
    accepted: Iterable[Scheme],
    authorization: str | None,
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> Principal:
    """The caller of a request, from the credential it presents in one of the `accepted` schemes."""
    scheme, credential = credential_from(accepted, authorization, query, form)
    return _cache.get_or_resolve(scheme, credential)


def principal_for_header(header: str | None, accepted: Iterable[Scheme] = (Scheme.API_KEY,)) -> Principal:
    """Resolve an `Authorization` header in one of the accepted schemes (ApiKey by default)."""
    scheme, credential = credential_from(accepted, header)
    return resolve(scheme, credential)


class _PrincipalCache:
    """What a warm container already resolved, for `handler` routes: API Gateway's authorizer cache,
    same TTL, so a facade costs no more catalog reads per request than a gateway route."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get_or_resolve(self, scheme: Scheme, credential: str) -> Principal:
        key = f"{scheme.value} {hash_key(credential)}"
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = resolve(scheme, credential)
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (now + self.ttl_s, principal)
        return principal

    def clear(self) -> None:
        self._entries.clear()


CACHE_TTL_S = 60.0
"""Equal to the REST authorizer's result TTL: revocation takes effect within it on every door."""
_cache = _PrincipalCache(CACHE_TTL_S, 1000)


def to_context(principal: Principal) -> dict[str, str]:
    """Authorizer context: API Gateway passes only strings."""
    return {
        "org": principal.org,
        "scopes": " ".join(sorted(principal.scopes)),
        "pools": ",".join(sorted(principal.pools)),
        "keyId": principal.key_id,
        "kind": principal.kind.value,
        "scheme": principal.scheme.value,
    }


def allow_invoke(principal: Principal, resource: str) -> dict[str, Any]:
    """A REQUEST authorizer's answer: invoke `resource`, with the principal as its context."""
    return {
        "principalId": principal.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": to_context(principal),
    }


def from_context(context: dict[str, Any] | None) -> Principal:
    """The principal the authorizer put in requestContext.authorizer; handlers trust only this."""
    if not context or not context.get("org"):
        raise Unauthorized("Unauthorized")
    pools = str(context.get("pools") or "")
    try:
        kind = PrincipalKind(str(context.get("kind") or PrincipalKind.KEY.value))
        scheme = Scheme(str(context.get("scheme") or Scheme.API_KEY.value))
    except ValueError:
        raise Unauthorized("Unauthorized") from None
    return Principal(
        org=str(context["org"]),
        scopes=frozenset(str(context.get("scopes") or "").split()),
        pools=frozenset(p for p in pools.split(",") if p),
        key_id=str(context.get("keyId") or ""),
        kind=kind,
        scheme=scheme,
    )


def require_scheme(principal: Principal, accepted: Iterable[Scheme]) -> None:
    """A gateway-resolved principal presented in a scheme this route does not list is refused."""
    if principal.scheme not in frozenset(accepted):
        raise Unauthorized("Unauthorized")


def require_scope(principal: Principal, scope: str) -> None:
    if scope == "none":
        return
    if scope not in principal.scopes:
        raise Forbidden(f"this key lacks the '{scope}' scope")
