"""The local API Gateway: an ASGI app that turns HTTP requests into the manifest's Lambda invocations.

It does what API Gateway REST does in front of the deployed handlers: route matching, the
6 MB Lambda payload limit, the REQUEST authorizer with its 60 s result cache keyed by the
`Authorization` header, and the proxy integration's response mapping.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from local import events, s3proxy
from local.runtime import Runtime
from watershed.api.routes import gateway_resource

log = logging.getLogger("watershed.local.http")

MAX_BODY_BYTES = 6_291_456
"""Lambda's synchronous payload limit; API Gateway cannot hand a larger request to a function."""

AUTH_CACHE_TTL_S = 60.0


class _Denied(Exception):
    """The gateway answers the request itself (401, 403, 500) without running the handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _CompiledRoute:
    route: Any
    pattern: re.Pattern[str]


def _compile(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", path)
    regex = "".join(f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{regex}$")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> _Response:
    body = json.dumps({"code": code, "message": message}).encode()
    raw = [("content-type", "application/json"), *((headers or {}).items())]
    return _Response(status, raw, body)


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    async def send(self, send: Send) -> None:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        raw.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


class _BodyTooLarge(Exception):
    pass


class Gateway:
    """ASGI app: REST routes of the manifest plus the `/_local/...` controls tests use."""

    def __init__(
        self,
        runtime: Runtime,
        routes: Sequence[Any] | None = None,
        *,
        authorizer: str | None = None,
        auth_cache_ttl_s: float = AUTH_CACHE_TTL_S,
    ) -> None:
        self.runtime = runtime
        if routes is None:
            from functions.manifest import http_routes

            routes = http_routes()
        self.routes = [_CompiledRoute(r, _compile(r.path)) for r in routes]
        self._proxies = {
            gateway_resource(r).strip("/").split("/", 1)[0]: r for r in reversed(routes)
            if gateway_resource(r) != r.path
        }
        if authorizer is None:
            found = runtime.functions_of_kind("rest_authorizer")
            authorizer = found[0].name if found else None
        self.authorizer = authorizer
        self.auth_cache_ttl_s = auth_cache_ttl_s
        self._auth_cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._s3 = s3proxy.app(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["path"].startswith(s3proxy.PREFIX + "/"):
            await self._s3(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._handle(request)
        except Exception:
            log.exception("local gateway failed on %s %s", request.method, request.url.path)
            response = _error(500, "internal_error", "Internal server error")
        await response.send(send)

    async def _handle(self, request: Request) -> _Response:
        path = request.url.path
        if path.startswith("/_local/"):
            return await self._local(request, path)
        method = request.method.upper()
        matched, allowed = self._match(method, path)
        if matched is None and len(path) > 1 and path.endswith("/"):
            # as API Gateway REST does: `/a/b/` is served by the `/a/b` resource
            matched, allowed = self._match(method, path.rstrip("/"))
        head, _, rest = path.strip("/").partition("/")
        proxy = self._proxies.get(head)
        if proxy is not None and (matched is None or gateway_resource(matched[0]) != matched[0].path):
            # a facade's greedy `/<prefix>/{proxy+}` method: any method, any path under the prefix
            matched = (proxy, {"proxy": unquote(rest)})
        if matched is None:
            if allowed:
                return _error(
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed on {path}",
                    {"Allow": ", ".join(sorted(allowed))},
                )
            return _error(404, "not_found", f"no route for {path}")
        route, path_parameters = matched
        try:
            body = await _read_body(request)
        except _BodyTooLarge:
            return _error(413, "payload_too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
        query = list(request.query_params.multi_items())
        source_ip = request.client.host if request.client else "127.0.0.1"
        authorizer_context = None
        if str(route.auth) == "gateway":
            try:
                authorizer_context = await self._authorize(
                    method, route.path, path, headers, query, path_parameters, source_ip
                )
            except _Denied as denied:
                return _error(denied.status, denied.code, denied.message)
        event = events.rest_proxy_event(
            method=method,
            resource=gateway_resource(route),
            path=path,
            headers=headers,
            query=query,
            path_parameters=path_parameters,
            body=body,
            binary=route.binary,
            source_ip=source_ip,
            authorizer=authorizer_context,
        )
        try:
            result = await self.runtime.invoke_async(route.function, event)
        except Exception:
            log.exception("%s failed on %s %s", route.function, method, path)
            return _error(502, "internal_error", "Internal server error")
        return _proxy_response(route.function, result)

    def _match(self, method: str, path: str) -> tuple[tuple[Any, dict[str, str]] | None, set[str]]:
        allowed: set[str] = set()
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if not found:
                continue
            if compiled.route.method.upper() == method:
                return (compiled.route, found.groupdict()), allowed
            allowed.add(compiled.route.method.upper())
        return None, allowed

    async def _authorize(
        self,
        method: str,
        resource: str,
        path: str,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
        path_parameters: dict[str, str],
        source_ip: str,
    ) -> dict[str, Any]:
        """API Gateway's REQUEST authorizer step; returns `requestContext.authorizer`."""
        token = next((v for k, v in reversed(headers) if k.lower() == "authorization"), "")
        if not token:
            raise _Denied(401, "unauthorized", "Unauthorized")
        if self.authorizer is None:
            raise _Denied(500, "authorizer_error", "no REST authorizer in the manifest")
        cached = self._auth_cache.get(token)
        if cached is not None and cached[0] > time.monotonic():
            policy = cached[1]
        else:
            event = events.rest_authorizer_event(
                method=method,
                resource=resource,
                path=path,
                headers=headers,
                query=query,
                path_parameters=path_parameters,
                source_ip=source_ip,
            )
            try:
                policy = await self.runtime.invoke_async(self.authorizer, event)
            except Exception as error:
                if str(error) == "Unauthorized":
                    raise _Denied(401, "unauthorized", "Unauthorized") from error
                log.exception("authorizer failed")
                raise _Denied(500, "authorizer_error", "the authorizer failed") from error
            if not isinstance(policy, dict) or "principalId" not in policy or "policyDocument" not in policy:
                raise _Denied(500, "authorizer_error", "the authorizer returned no valid policy")
            self._auth_cache[token] = (time.monotonic() + self.auth_cache_ttl_s, policy)
        if not policy_allows(policy["policyDocument"], events.method_arn(method, path)):
            raise _Denied(403, "forbidden", "User is not authorized to access this resource")
        try:
            return events.authorizer_context(str(policy["principalId"]), policy.get("context"))
        except ValueError as error:
            raise _Denied(500, "authorizer_error", str(error)) from error

    async def _local(self, request: Request, path: str) -> _Response:
        """Controls of the local runtime itself; not part of the API."""
        method = request.method.upper()
        if path == "/_local/health" and method == "GET":
            return _json(200, {"status": "ok"})
        if path == "/_local/drain" and method == "POST":
            drained = await _in_thread(self.runtime.drain)
            return _json(200, {"drained": drained})
        if path == "/_local/metrics" and method == "GET":
            from local.runtime import EMITTED_METRICS

            return _json(200, {"data": list(EMITTED_METRICS)})
        if path.startswith("/_local/tables/") and method in ("GET", "POST"):
            return await self._table_control(request, path.removeprefix("/_local/tables/"), method)
        if path == "/_local/requests" and method == "GET":
            return _json(200, {"data": {name: dict(calls) for name, calls in self.runtime.aws_requests.items()}})
        if path == "/_local/orgs" and method == "POST":
            return await self._create_org(request)
        if path == "/_local/signing-keys" and method == "POST":
            return _json(201, {"kid": await _in_thread(self.runtime.create_signing_key)})
        if path in ("/_local/dlq", "/_local/dlq/redrive"):
            from local.mqtt import dead_letters, redrive_dead_letters

            limit = request.query_params.get("max", "100")
            if not limit.isdigit() or int(limit) < 1:
                return _error(400, "invalid_request", "max must be a positive integer")
            if path == "/_local/dlq" and method == "GET":
                return _json(200, {"data": await _in_thread(dead_letters, self.runtime, int(limit))})
            if path == "/_local/dlq/redrive" and method == "POST":
                return _json(200, await _in_thread(redrive_dead_letters, self.runtime, int(limit)))
        prefix = "/_local/schedules/"
        if path.startswith(prefix) and method == "POST":
            name = path[len(prefix) :]
            if not getattr(self.runtime.functions.get(name), "schedules", ()):
                return _error(404, "not_found", f"no scheduled function {name!r}")
            if request.query_params.get("sliced") == "true":
                return _json(200, {"slices": await _in_thread(self.runtime.run_scheduled, name)})
            result = await _in_thread(self.runtime.fire, name)
            return _json(200, result)
        return _error(404, "not_found", f"no local endpoint {path}")


    async def _table_control(self, request: Request, table: str, method: str) -> _Response:
        """GET: every item of a table (tests compare scans); POST: put one raw item (tests plant faults)."""
        try:
            name = self.runtime.table_name(table)
        except (KeyError, LookupError):
            return _error(404, "not_found", f"no table {table!r}")
        client = self.runtime.client

        def scan() -> list[Any]:
            items: list[Any] = []
            params: dict[str, Any] = {"TableName": name}
            while True:
                page = client("dynamodb").scan(**params)
                items.extend(page["Items"])
                if "LastEvaluatedKey" not in page:
                    return items
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        if method == "GET":
            return _json(200, {"data": await _in_thread(self.runtime.call, scan)})
        try:
            item = json.loads(await _read_body(request))
        except ValueError:
            return _error(400, "invalid_request", "body must be one item in DynamoDB JSON")
        await _in_thread(self.runtime.call, lambda: client("dynamodb").put_item(TableName=name, Item=item))
        return _json(201, {"table": name})

    async def _create_org(self, request: Request) -> _Response:
        """A new organisation and its admin key, as `python -m watershed.admin create-org` does in the cloud."""
        from watershed.admin import create_org

        try:
            name = str(json.loads(await _read_body(request) or b"{}").get("name") or "local")
        except (ValueError, AttributeError):
            return _error(400, "invalid_request", "body must be {\"name\": ...}")
        created = await _in_thread(self.runtime.call, create_org, name)
        return _json(201, {"org": created.org_id, "key": created.key})


async def _in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _json(status: int, payload: Any) -> _Response:
    return _Response(
        status, [("content-type", "application/json")], json.dumps(payload, default=str).encode()
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > MAX_BODY_BYTES:
            raise _BodyTooLarge
    return bytes(chunks)


def policy_allows(document: Any, arn: str) -> bool:
    """IAM evaluation of an authorizer policy for one method ARN: an explicit Deny wins."""
    allowed = False
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(arn, r) for r in _as_list(statement.get("Resource"))):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _proxy_response(function: str, result: Any) -> _Response:
    """A proxy integration result as API Gateway turns it into an HTTP response."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        log.error("%s returned no proxy response: %r", function, result)
        return _error(502, "internal_error", "Internal server error")
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in values)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return _Response(result["statusCode"], headers, raw)
