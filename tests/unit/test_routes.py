"""Every route of the route table resolves to a callable operation and a dialect that answers
errors, and its function is in the manifest: a typo fails here, not on the first request."""

from __future__ import annotations

import importlib

import pytest

from functions.manifest import BY_NAME, Kind
from watershed.api import http
from watershed.api.routes import ROUTES, Route
from watershed.errors import NotFound


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_resolves(route: Route) -> None:
    assert callable(http.operation_for(route))
    reply = importlib.import_module(f"watershed.protocols.{route.dialect}").error_reply(NotFound("x", "id"))
    assert reply.status == 404
    assert BY_NAME[route.function].kind is Kind.HTTP
    assert route.schemes, "a route that takes credentials names at least one scheme"


def test_no_route_is_declared_twice() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys))
