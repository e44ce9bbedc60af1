"""Credentials per route: every scheme resolves to the same principal where the route lists it,
and is refused as if absent where it does not; each dialect shapes every error status."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from watershed.api import http
from watershed.api.routes import AuthMode, Route, Scope
from watershed.errors import (
    Conflict,
    Forbidden,
    MissingCredential,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationError,
    WatershedError,
)
from watershed.model import Scheme
from watershed.services import auth, keys

HEADER_FORMS = {
    Scheme.API_KEY: lambda key: {"headers": {"Authorization": f"ApiKey {key}"}},
    Scheme.BITPOOL2: lambda key: {"headers": {"Authorization": f"Bitpool2 {key}"}},
    Scheme.BASIC: lambda key: {
        "headers": {"Authorization": "Basic " + base64.b64encode(f"{key}:anything".encode()).decode()}
    },
}


def _presentations(scheme: Scheme, key: str) -> list[dict[str, Any]]:
    """The ways a request can carry `key` in `scheme` (the form key: body and query string)."""
    if scheme is Scheme.FORM_KEY:
        return [
            {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "body": f"a=1&_key={key}"},
            {"queryStringParameters": {"_key": key}},
        ]
    return [HEADER_FORMS[scheme](key)]


def _route(schemes: tuple[Scheme, ...]) -> Route:
    return Route("POST", "/t/things", "catalog", "health", Scope.READ, auth=AuthMode.HANDLER, schemes=schemes)


def _event(**parts: Any) -> dict[str, Any]:
    return {"path": "/t/things", "httpMethod": "POST", "headers": {}, "body": "", **parts}


SCHEMES = (Scheme.API_KEY, Scheme.BITPOOL2, Scheme.BASIC, Scheme.FORM_KEY)


@pytest.fixture
def key(aws: None) -> str:
    auth._cache.clear()
    _, secret = keys.issue_key("org-7", "table", ["write"], ["pool-1"])
    return secret


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_on_a_route_that_lists_it_is_the_same_principal(key: str, scheme: Scheme) -> None:
    expected = auth.principal_for_key(key)
    for presented in _presentations(scheme, key):
        principal = http.request_from(_event(**presented), _route((scheme,))).principal
        assert (principal.org, principal.scopes, principal.pools, principal.key_id) == (
            expected.org, expected.scopes, expected.pools, expected.key_id,
        )
        assert principal.scheme is scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_scheme_on_a_route_that_does_not_list_it_is_refused_as_missing(key: str, scheme: Scheme) -> None:
    others = tuple(s for s in SCHEMES if s is not scheme)
    for presented in _presentations(scheme, key):
        with pytest.raises(MissingCredential):
            http.request_from(_event(**presented), _route(others))


def test_gateway_principal_in_an_unlisted_scheme_is_refused(key: str) -> None:
    principal = auth.principal_for_header(f"Bitpool2 {key}", (Scheme.BITPOOL2,))
    event = _event(requestContext={"authorizer": auth.to_context(principal)})
    gateway = Route("GET", "/v1/pools", "catalog", "list_pools", Scope.READ)
    with pytest.raises(Unauthorized):
        http.request_from(event, gateway)
    allowed = Route("GET", "/v1/pools", "catalog", "list_pools", Scope.READ, schemes=(Scheme.BITPOOL2,))
    assert http.request_from(event, allowed).principal.org == "org-7"


def test_unknown_keys_and_broken_basic_are_unauthorized(key: str) -> None:
    for header in ("ApiKey wsk_nope", "Basic !!!", "Basic " + base64.b64encode(b":pw").decode()):
        with pytest.raises(Unauthorized):
            auth.authenticate((Scheme.API_KEY, Scheme.BASIC), header)


ERRORS: list[WatershedError] = [
    ValidationError("value must be a number", "[3].value"),
    MissingCredential("Unauthorized"),
    Forbidden("this key lacks the 'write' scope"),
    NotFound("stream not found", "id"),
    Conflict("alias is already taken", "alias"),
    PayloadTooLarge("request body is over 6291456 bytes"),
]


def _reply(dialect: str, error: WatershedError) -> tuple[int, dict[str, str], bytes]:
    response = http.to_response(http.error_reply(dialect, error))
    headers = {k.lower(): v for k, v in (response.headers or {}).items()}
    headers.setdefault("content-type", response.content_type or "")
    body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
    return response.status_code, headers, body


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.status))
def test_native_dialect(error: WatershedError) -> None:
    status, headers, body = _reply("native", error)
    assert status == error.status and headers["content-type"] == "application/json"
    assert json.loads(body) == {"code": error.code, "message": error.message,
                                **({"field": error.field} if error.field else {})}


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.status))
def test_bitpool_dialect(error: WatershedError) -> None:
    status, _, body = _reply("bitpool", error)
    assert status == error.status
    errors = {error.field: [error.message]} if error.field else {}
    assert json.loads(body) == {"Message": error.message, "Errors": errors}


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.status))
def test_oring_dialect(error: WatershedError) -> None:
    status, _, body = _reply("oring", error)
    doc = json.loads(body)
    assert status == error.status
    assert doc["code"] == f"{error.code.upper()}_ERROR" and doc["message"] == error.message
    assert doc["code"].isupper()


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.status))
def test_itwin_rest_dialect(error: WatershedError) -> None:
    status, _, body = _reply("itwin_rest", error)
    path = "Authorization" if error.status == 401 else (error.field or "")
    assert status == error.status
    assert json.loads(body) == {"errors": [{"message": error.message, "path": path}]}


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: str(e.status))
def test_customstream_dialect_is_plain_text(error: WatershedError) -> None:
    status, headers, body = _reply("customstream", error)
    assert status == error.status
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert not text.startswith("{")
    if error.status == 401:
        assert headers["www-authenticate"] == 'Basic realm="Realm"'
        assert text == "Dataset key must be provided as HTTP Basic Auth username"
    else:
        assert error.message in text


def test_unknown_paths_answer_in_their_prefix_dialect() -> None:
    from watershed.api.routes import dialect_for_path

    assert dialect_for_path("/v1/nope") == "native"
    assert dialect_for_path("/nowhere/at/all") == "native"
