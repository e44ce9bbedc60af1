"""Bind a function's routes from the route table to a Powertools REST resolver.

The handler of each HTTP function is one line: `lambda_handler = http_handler("<name>")`.
Tracing is Lambda's active tracing, not the X-Ray SDK: the SDK builds a botocore client at import,
which doubled the cold start (tests/bench/bench_push.py).
"""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from watershed.api.request import Reply, Request
from watershed.api.routes import PROXY, AuthMode, Route, dialect_for_path, match, routes_for
from watershed.errors import PayloadTooLarge, WatershedError
from watershed.model import Scheme
from watershed.services import auth

MAX_BODY = 6 * 1024 * 1024
Operation = Callable[[Request], Reply]


def operation_for(route: Route) -> Operation:
    """`name` is an operation of the native protocol; `module:name` one of another protocol module."""
    module, _, name = route.operation.rpartition(":")
    protocol = importlib.import_module(f"watershed.protocols.{module or 'native'}")
    return getattr(protocol, name)  # type: ignore[no-any-return]


def error_reply(dialect: str, error: WatershedError) -> Reply:
    """The error in the dialect of a protocol: its module's `error_reply` translator."""
    protocol = importlib.import_module(f"watershed.protocols.{dialect}")
    return protocol.error_reply(error)  # type: ignore[no-any-return]


def to_response(reply: Reply) -> Response[Any]:
    if reply.raw is not None:
        return Response(reply.status, reply.headers.get("Content-Type", "application/octet-stream"), reply.raw,
                        headers=reply.headers)
    body = "" if reply.body is None else json.dumps(reply.body, separators=(",", ":"))
    return Response(reply.status, "application/json", body, headers=reply.headers)


def request_from(event: dict[str, Any], route: Route) -> Request:
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"request body is over {MAX_BODY} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    query = dict(event.get("queryStringParameters") or {})
    principal = None
    if route.auth is AuthMode.GATEWAY:
        principal = auth.from_context((event.get("requestContext") or {}).get("authorizer"))
        auth.require_scheme(principal, route.schemes)
        auth.require_scope(principal, route.scope)
    elif route.auth is AuthMode.HANDLER:
        form = _form(headers, body) if Scheme.FORM_KEY in route.schemes else None
        principal = auth.authenticate(route.schemes, headers.get("authorization"), query, form)
        auth.require_scope(principal, route.scope)
    return Request(
        path=event.get("path") or "",
        path_params=dict(event.get("pathParameters") or {}),
        query=query,
        headers=headers,
        body=body,
        principal_or_none=principal,
    )


def _form(headers: dict[str, str], body: bytes) -> dict[str, str] | None:
    """A form-urlencoded body's fields (first value each), where a `_key` credential may be."""
    if "application/x-www-form-urlencoded" not in headers.get("content-type", "").lower():
        return None
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in fields.items() if values}


def resolver_for(function: str) -> APIGatewayRestResolver:
    """A resolver serving every route the route table gives this function."""
    app = APIGatewayRestResolver(strip_prefixes=None)

    def serve(route: Route) -> Response[Any]:
        try:
            request = request_from(app.current_event.raw_event, route)
            return to_response(operation_for(route)(request))
        except WatershedError as error:
            return to_response(error_reply(route.dialect, error))

    def bind(route: Route) -> None:
        # the REST resolver also matches `/a/b/` (API Gateway serves it on `/a/b`; facade clients send it)
        app.route(route.resolver_path, route.method)(lambda **_params: serve(route))

    by_resource = {(r.method, r.path): r for r in routes_for(function)}
    for route in sorted(by_resource.values(), key=lambda r: r.specificity):
        bind(route)

    @app.not_found
    def handle_not_found(_error: Exception) -> Response[Any]:
        """API Gateway already matched the route (`resource`); Powertools' path pattern refuses some
        characters (non-ASCII in a path parameter), so serve the route and let it say what is wrong."""
        event = app.current_event.raw_event
        route = by_resource.get((str(event.get("httpMethod") or ""), str(event.get("resource") or "")))
        if route is not None:
            return serve(route)
        return to_response(error_reply(dialect_for_path(event.get("path") or ""), _NoRoute("no such route")))

    return app


def unproxied(event: dict[str, Any], routes: tuple[Route, ...]) -> dict[str, Any]:
    """An event of a facade's greedy `/<prefix>/{proxy+}` method, as its route's own resource
    would have sent it (`resource`, `pathParameters`); unchanged when no route matches, so the
    facade answers its own 404."""
    resource = str(event.get("resource") or "")
    if not resource.endswith("/" + PROXY):
        return event
    prefix = resource[: -len(PROXY)].strip("/").split("/")
    proxy = str((event.get("pathParameters") or {}).get("proxy") or "").strip("/")
    segments = prefix + _proxied(str(event.get("path") or ""), prefix, proxy)
    found = match(routes, str(event.get("httpMethod") or ""), segments)
    if found is None:
        return event
    route, params = found
    return {**event, "resource": route.path, "pathParameters": params or None}


def _proxied(path: str, prefix: list[str], proxy: str) -> list[str]:
    """The decoded segments after the prefix, read from the still-encoded `path` where it can be
    (an encoded `/` then stays in its segment), else from the decoded proxy parameter."""
    raw = path.strip("/").split("/")
    for start in range(len(raw) - len(prefix) + 1):
        tail = raw[start + len(prefix):]
        if raw[start:start + len(prefix)] == prefix and unquote("/".join(tail)) == proxy:
            return [unquote(part) for part in tail]
    return proxy.split("/") if proxy else []


def http_handler(function: str) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an HTTP function: logging, metrics, and its routes' resolver."""
    logger = Logger()
    metrics = Metrics()
    app = resolver_for(function)
    routes = routes_for(function)

    @logger.inject_lambda_context
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        return app.resolve(unproxied(event, routes), context)

    return lambda_handler


class _NoRoute(WatershedError):
    status = 404
    code = "not_found"
