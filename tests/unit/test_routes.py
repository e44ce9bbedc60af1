"""Every route of the route table resolves to a callable operation and a dialect that answers
errors, and its function is in the manifest: a typo fails here, not on the first request."""

from __future__ import annotations

import importlib
import json
import warnings

import pytest

from functions.manifest import BY_NAME, Kind
from local.events import rest_proxy_event
from watershed.api import http
from watershed.api.routes import ROUTES, AuthMode, Route, Scope, gateway_resource, match, proxied_prefixes, routes_for
from watershed.errors import NotFound


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_resolves(route: Route) -> None:
    assert callable(http.operation_for(route))
    reply = importlib.import_module(f"watershed.protocols.{route.dialect}").error_reply(NotFound("x", "id"))
    assert 400 <= reply.status < 500  # OAuth's dialect answers RFC 6749 errors, 400 for most
    assert BY_NAME[route.function].kind is Kind.HTTP
    if route.auth is not AuthMode.NONE:
        assert route.schemes, "a route that takes credentials names at least one scheme"


def test_no_route_is_declared_twice() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))


def _proxy_event(method: str, path: str, proxy: str, prefix: str = "/bitpool") -> dict[str, object]:
    return {"httpMethod": method, "resource": f"{prefix}/{{proxy+}}", "path": path,
            "pathParameters": {"proxy": proxy}}


def test_a_facade_proxy_event_becomes_its_routes_own_event() -> None:
    routes = routes_for("bitpool")
    event = http.unproxied(_proxy_event("GET", "/bitpool/public/v2/pools/p%2F1", "public/v2/pools/p/1"), routes)
    assert event["resource"] == "/bitpool/public/v2/pools/{poolKey}"
    assert event["pathParameters"] == {"poolKey": "p/1"}  # the encoded slash stays in its segment
    event = http.unproxied(_proxy_event("GET", "/bitpool/public/v2/pools/caf%C3%A9/", "public/v2/pools/café/"), routes)
    assert event["pathParameters"] == {"poolKey": "café"}


def test_a_proxy_event_no_route_matches_is_left_for_the_facade_to_answer() -> None:
    event = _proxy_event("DELETE", "/bitpool/public/v2/pools", "public/v2/pools")
    assert http.unproxied(event, routes_for("bitpool")) is event


def test_literal_segments_win_over_parameters() -> None:
    routes = (Route("GET", "/x/{id}", "f", "a", Scope.READ, dialect="bitpool"),
              Route("GET", "/x/new", "f", "b", Scope.READ, dialect="bitpool"))
    assert match(routes, "GET", ["x", "new"]) == (routes[1], {})
    assert match(routes, "GET", ["x", "7"]) == (routes[0], {"id": "7"})
    assert match(routes, "GET", ["x", ""]) is None


def test_one_function_per_greedy_proxy() -> None:
    clash = (Route("GET", "/f/a", "one", "a", Scope.READ, dialect="bitpool"),
             Route("GET", "/f/b", "two", "b", Scope.READ, dialect="bitpool"))
    with pytest.raises(ValueError, match="would serve both"):
        proxied_prefixes(clash)
    assert proxied_prefixes(ROUTES)["/bitpool/{proxy+}"] == "bitpool"
    assert all(gateway_resource(r) == r.path for r in ROUTES if r.dialect == "native")


def test_each_function_binds_each_route_once_and_serves_a_trailing_slash() -> None:
    functions = sorted({r.function for r in ROUTES})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Powertools warns when a route is registered twice
        resolvers = {name: http.resolver_for(name) for name in functions}
    for path in ("/v1/health", "/v1/health/"):
        event = rest_proxy_event(method="GET", resource="/v1/health", path=path)
        answer = resolvers["catalog"].resolve(event, None)
        assert answer["statusCode"] == 200 and json.loads(answer["body"]).get("status") == "ok", answer
