"""The HTTP route table: the one place a route is declared.

functions/manifest.py, infra/ and local/ read it; each handler binds the operations of its own
function from it. It lives in the layer because a deployed handler sees only its folder and the
layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from watershed.model import Scheme


class Scope(StrEnum):
    """What a credential may do; admin implies write, write implies read."""

    NONE = "none"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class AuthMode(StrEnum):
    """Who authenticates a route (docs/architecture.md, The doors)."""

    GATEWAY = "gateway"
    HANDLER = "handler"
    NONE = "none"


NATIVE_SCHEMES: tuple[Scheme, ...] = (Scheme.API_KEY, Scheme.BEARER)
"""What the native API accepts: API keys and Bearer tokens."""


@dataclass(frozen=True)
class Route:
    """One HTTP method on one path, served by one function's operation.

    `schemes` are the credential schemes the route accepts (any other is refused as if no
    credential was sent); `dialect` names the protocol module whose `error_reply` shapes its errors.
    """

    method: str
    path: str
    function: str
    operation: str
    scope: Scope
    auth: AuthMode = AuthMode.GATEWAY
    binary: bool = False
    schemes: tuple[Scheme, ...] = NATIVE_SCHEMES
    dialect: str = "native"

    @property
    def specificity(self) -> tuple[bool, ...]:
        """Which segments are parameters: a smaller value is matched first, as API Gateway
        prefers a literal segment to a parameter at the same place (`/a/new` before `/a/{id}`)."""
        return tuple(part.startswith("{") for part in self.path.strip("/").split("/"))

    @property
    def resolver_path(self) -> str:
        """The path in Powertools' syntax (`<id>` instead of `{id}`)."""
        return self.path.replace("{", "<").replace("}", ">")


def _r(method: str, path: str, function: str, operation: str, scope: Scope, **kw: object) -> Route:
    return Route(method, path, function, operation, scope, **kw)  # type: ignore[arg-type]


R, W, A = Scope.READ, Scope.WRITE, Scope.ADMIN

ROUTES: tuple[Route, ...] = (
    _r("GET", "/v1/health", "catalog", "health", Scope.NONE, auth=AuthMode.NONE),
    # pools
    _r("POST", "/v1/pools", "catalog", "create_pool", A),
    _r("GET", "/v1/pools", "catalog", "list_pools", R),
    _r("GET", "/v1/pools/{id}", "catalog", "get_pool", R),
    _r("PATCH", "/v1/pools/{id}", "catalog", "update_pool", A),
    _r("DELETE", "/v1/pools/{id}", "catalog", "delete_pool", A),
    # stations
    _r("POST", "/v1/pools/{id}/stations", "catalog", "create_station", A),
    _r("GET", "/v1/pools/{id}/stations", "catalog", "list_stations", R),
    _r("GET", "/v1/stations/{id}", "catalog", "get_station", R),
    _r("PATCH", "/v1/stations/{id}", "catalog", "update_station", A),
    _r("DELETE", "/v1/stations/{id}", "catalog", "delete_station", A),
    # buckets: named groups of streams at a station
    _r("POST", "/v1/stations/{id}/buckets", "catalog", "create_bucket", A),
    _r("GET", "/v1/stations/{id}/buckets", "catalog", "list_buckets", R),
    _r("GET", "/v1/stations/{id}/buckets/{name}", "catalog", "get_bucket", R),
    _r("PATCH", "/v1/stations/{id}/buckets/{name}", "catalog", "update_bucket", A),
    _r("DELETE", "/v1/stations/{id}/buckets/{name}", "catalog", "delete_bucket", A),
    # streams
    _r("POST", "/v1/stations/{id}/streams", "catalog", "create_stream", A),
    _r("GET", "/v1/stations/{id}/streams", "catalog", "list_streams", R),
    _r("GET", "/v1/streams/{id}", "catalog", "get_stream", R),
    _r("PATCH", "/v1/streams/{id}", "catalog", "update_stream", A),
    _r("DELETE", "/v1/streams/{id}", "catalog", "delete_stream", A),
    # API keys
    _r("POST", "/v1/keys", "catalog", "create_key", A),
    _r("GET", "/v1/keys", "catalog", "list_keys", A),
    _r("DELETE", "/v1/keys/{id}", "catalog", "delete_key", A),
    _r("GET", "/v1/keys/{id}", "catalog", "native_auth:get_key", A),
    _r("PATCH", "/v1/keys/{id}", "catalog", "native_auth:update_key", A),
    _r("POST", "/v1/keys/{id}/rotate", "catalog", "native_auth:rotate_key", A),
    # intervals: writes
    _r("POST", "/v1/streams/{id}/intervals", "ingest", "push_stream", W),
    _r("POST", "/v1/intervals", "ingest", "push_many", W),
    _r("DELETE", "/v1/streams/{id}/intervals", "ingest", "delete_range", W),
    # intervals: reads
    _r("GET", "/v1/streams/{id}/intervals", "query", "pull", R),
    _r("GET", "/v1/streams/{id}/latest", "query", "latest", R),
    _r("GET", "/v1/streams/{id}/summary", "query", "summary", R),
    _r("GET", "/v1/stations/{id}/latest", "query", "station_latest", R),
    _r("POST", "/v1/query", "query", "query_many", R),
    # MQTT credentials and device configs (issue 5)
    _r("POST", "/v1/stations/{id}/secret", "configs", "native_devices:rotate_secret", A),
    _r("GET", "/v1/stations/{id}/configs", "configs", "native_devices:list_configs", R),
    _r("GET", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:get_config", R),
    _r("PUT", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:put_config", W),
    _r("DELETE", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:delete_config", W),
    # application MQTT clients, `app:<identity>` (issue 23)
    _r("POST", "/v1/mqtt-apps", "configs", "native_mqtt_apps:create_app", A),
    _r("GET", "/v1/mqtt-apps", "configs", "native_mqtt_apps:list_apps", A),
    _r("GET", "/v1/mqtt-apps/{id}", "configs", "native_mqtt_apps:get_app", A),
    _r("DELETE", "/v1/mqtt-apps/{id}", "configs", "native_mqtt_apps:delete_app", A),
    # object streams and exports (issue 7)
    _r("POST", "/v1/streams/{id}/objects", "objects", "native_objects:upload_object", W, binary=True),
    _r("POST", "/v1/streams/{id}/objects/uploads", "objects", "native_objects:start_upload", W),
    _r("POST", "/v1/streams/{id}/objects/uploads/{upload}", "objects", "native_objects:complete_upload", W),
    _r("GET", "/v1/streams/{id}/objects/{timestamp}", "objects", "native_objects:get_object", R),
    _r("POST", "/v1/exports", "exports", "native_objects:create_export", R),
    _r("GET", "/v1/exports/{id}", "exports", "native_objects:get_export", R),
    # OAuth clients, organisation users, trusted issuers, the caller (issue 21)
    _r("POST", "/v1/clients", "catalog", "native_auth:create_client", A),
    _r("GET", "/v1/clients", "catalog", "native_auth:list_clients", A),
    _r("GET", "/v1/clients/{id}", "catalog", "native_auth:get_client", A),
    _r("DELETE", "/v1/clients/{id}", "catalog", "native_auth:delete_client", A),
    _r("POST", "/v1/users", "catalog", "native_auth:create_user", A),
    _r("GET", "/v1/users", "catalog", "native_auth:list_users", A),
    _r("GET", "/v1/users/{id}", "catalog", "native_auth:get_user", A),
    _r("DELETE", "/v1/users/{id}", "catalog", "native_auth:delete_user", A),
    _r("POST", "/v1/issuers", "catalog", "native_auth:create_issuer", A),
    _r("GET", "/v1/issuers", "catalog", "native_auth:list_issuers", A),
    _r("DELETE", "/v1/issuers/{id}", "catalog", "native_auth:delete_issuer", A),
    _r("GET", "/v1/me", "catalog", "native_auth:me", R),
    # the OAuth 2.0 authorization server (issue 21): public, RFC 6749 error bodies
    _r("POST", "/oauth2/token", "oauth", "oauth:token", Scope.NONE, auth=AuthMode.NONE, dialect="oauth"),
    _r("GET", "/oauth2/authorize", "oauth", "oauth:authorize_page", Scope.NONE, auth=AuthMode.NONE,
       dialect="oauth"),
    _r("POST", "/oauth2/authorize", "oauth", "oauth:authorize_submit", Scope.NONE, auth=AuthMode.NONE,
       dialect="oauth"),
    _r("GET", "/.well-known/jwks.json", "oauth", "oauth:jwks", Scope.NONE, auth=AuthMode.NONE,
       dialect="oauth"),
    _r("GET", "/.well-known/oauth-authorization-server", "oauth", "oauth:metadata", Scope.NONE,
       auth=AuthMode.NONE, dialect="oauth"),
    # the API's own description
    _r("GET", "/v1/openapi.json", "catalog", "native_meta:openapi_document", Scope.NONE, auth=AuthMode.NONE),
)


# Custom Stream (MK Data Hub) under /customstream: HTTP Basic, plain-text errors (issue 22)
_CUSTOMSTREAM = {"auth": AuthMode.HANDLER, "schemes": (Scheme.BASIC,), "dialect": "customstream"}
ROUTES += (
    _r("PUT", "/customstream/data/object/{uuid}", "customstream", "customstream:put_object", W, **_CUSTOMSTREAM),
    _r("POST", "/customstream/data/object/{uuid}", "customstream", "customstream:put_object", W, **_CUSTOMSTREAM),
    _r("PUT", "/customstream/data/object/{uuid}/{docid}", "customstream", "customstream:replace_object", W,
       **_CUSTOMSTREAM),
    _r("POST", "/customstream/data/object/{uuid}/{docid}", "customstream", "customstream:replace_object", W,
       **_CUSTOMSTREAM),
    _r("DELETE", "/customstream/data/object/{uuid}/{docid}", "customstream", "customstream:delete_object", W,
       **_CUSTOMSTREAM),
    _r("GET", "/customstream/data/query/{uuid}", "customstream", "customstream:query_all", R, **_CUSTOMSTREAM),
    _r("POST", "/customstream/data/query/{uuid}", "customstream", "customstream:query_filter", R, **_CUSTOMSTREAM),
    _r("GET", "/customstream/read", "customstream", "customstream:legacy_read", R, **_CUSTOMSTREAM),
)


# Bitpool API v2 under /bitpool: `Authorization: Bitpool2 <key>`, {"Message","Errors"} errors (issue 22)
_BITPOOL = {"auth": AuthMode.HANDLER, "schemes": (Scheme.BITPOOL2,), "dialect": "bitpool"}
_BP = "/bitpool/public/v2"
ROUTES += (
    _r("POST", f"{_BP}/pools", "bitpool", "bitpool:create_pool", A, **_BITPOOL),
    _r("GET", f"{_BP}/pools", "bitpool", "bitpool:list_pools", R, **_BITPOOL),
    _r("GET", f"{_BP}/pools/{{poolKey}}", "bitpool", "bitpool:get_pool", R, **_BITPOOL),
    _r("POST", f"{_BP}/pools/{{poolKey}}/stations", "bitpool", "bitpool:create_station", A, **_BITPOOL),
    _r("GET", f"{_BP}/pools/{{poolKey}}/stations", "bitpool", "bitpool:list_stations", R, **_BITPOOL),
    _r("POST", f"{_BP}/pools/{{poolKey}}/stations/{{stationId}}/streams", "bitpool", "bitpool:create_stream", A,
       **_BITPOOL),
    _r("GET", f"{_BP}/pools/{{poolKey}}/stations/{{stationId}}/streams", "bitpool", "bitpool:list_streams", R,
       **_BITPOOL),
    _r("GET", f"{_BP}/streams/{{streamKey}}", "bitpool", "bitpool:get_stream", R, **_BITPOOL),
    _r("POST", f"{_BP}/streams/logs", "bitpool", "bitpool:push_bulk", W, **_BITPOOL),
    _r("POST", f"{_BP}/streams/{{streamKey}}/logs", "bitpool", "bitpool:push_logs", W, **_BITPOOL),
    _r("GET", f"{_BP}/streams/{{streamKey}}/logs", "bitpool", "bitpool:pull_logs", R, **_BITPOOL),
    _r("GET", f"{_BP}/streams/{{streamKey}}/logs/aggregated", "bitpool", "bitpool:pull_aggregated", R, **_BITPOOL),
    _r("GET", "/bitpool/rest/BitPool_V1/pools/web-search", "bitpool", "bitpool:search_pools", R, **_BITPOOL),
    _r("GET", "/bitpool/rest/BitPool_V1/pool/{poolKey}/streams/web-search", "bitpool", "bitpool:search_streams", R,
       **_BITPOOL),
)


# Byteport HTTP API v1 under /byteport: `_key` in the form or query (reads also ApiKey/Bearer),
# plain-text errors (issue 22)
_BYTEPORT_STORE = {"auth": AuthMode.HANDLER, "schemes": (Scheme.FORM_KEY,), "dialect": "byteport"}
_BYTEPORT_READ = {"auth": AuthMode.HANDLER, "schemes": (Scheme.FORM_KEY, Scheme.API_KEY, Scheme.BEARER),
                  "dialect": "byteport"}
_BY = "/byteport/api/v1"
ROUTES += (
    _r("POST", f"{_BY}/timeseries/{{namespace}}/{{uid}}", "byteport", "byteport:store", W, **_BYTEPORT_STORE),
    _r("GET", f"{_BY}/timeseries/{{namespace}}/{{uid}}", "byteport", "byteport:store", W, **_BYTEPORT_STORE),
    _r("GET", f"{_BY}/timeseries/{{namespace}}/{{uid}}/{{field}}", "byteport", "byteport:timeseries", R,
       **_BYTEPORT_READ),
    _r("GET", f"{_BY}/value/{{namespace}}/{{uid}}/{{field}}/{{ref}}", "byteport", "byteport:value", R,
       **_BYTEPORT_READ),
    _r("GET", f"{_BY}/download/value/{{namespace}}/{{uid}}/{{field}}/{{ref}}", "byteport", "byteport:download", R,
       **_BYTEPORT_READ),
    _r("GET", f"{_BY}/namespace", "byteport", "byteport:namespaces", R, **_BYTEPORT_READ),
    _r("GET", f"{_BY}/namespace/{{namespace}}/device", "byteport", "byteport:devices", R, **_BYTEPORT_READ),
    _r("GET", f"{_BY}/search_devices", "byteport", "byteport:search_devices", R, **_BYTEPORT_READ),
    _r("GET", f"{_BY}/echo", "byteport", "byteport:echo", Scope.NONE, auth=AuthMode.NONE, dialect="byteport"),
)


# ORing PaaS v4 under /oring/v4: `Authorization: ApiKey <key>` or `Bearer <token>`, `{code, message}`
# errors (issue 23); its OAuth paths are the platform's OAuth operations, in the OAuth dialect
_ORING = {"auth": AuthMode.HANDLER, "schemes": (Scheme.API_KEY, Scheme.BEARER), "dialect": "oring"}
_OR = "/oring/v4"
_THING = f"{_OR}/things/{{id}}"
_BUCKET = f"{_THING}/data-buckets/{{bucket}}"
_OAUTH = {"auth": AuthMode.NONE, "dialect": "oauth"}
ROUTES += (
    _r("GET", f"{_OR}/me", "oring", "oring:me", R, **_ORING),
    _r("GET", f"{_OR}/org", "oring", "oring:org", R, **_ORING),
    _r("POST", f"{_OR}/things", "oring", "oring:create_thing", A, **_ORING),
    _r("GET", f"{_OR}/things", "oring", "oring:list_things", R, **_ORING),
    _r("GET", _THING, "oring", "oring:get_thing", R, **_ORING),
    _r("PATCH", _THING, "oring", "oring:update_thing", A, **_ORING),
    _r("DELETE", _THING, "oring", "oring:delete_thing", A, **_ORING),
    _r("PUT", f"{_THING}/labels/{{key}}", "oring", "oring:put_label", A, **_ORING),
    _r("DELETE", f"{_THING}/labels/{{key}}", "oring", "oring:delete_label", A, **_ORING),
    _r("GET", f"{_THING}/configs", "oring", "oring:list_configs", R, **_ORING),
    _r("GET", f"{_THING}/configs/{{group}}", "oring", "oring:get_config", R, **_ORING),
    _r("PUT", f"{_THING}/configs/{{group}}", "oring", "oring:put_config", W, **_ORING),
    _r("DELETE", f"{_THING}/configs/{{group}}", "oring", "oring:delete_config", W, **_ORING),
    _r("POST", f"{_THING}/data-buckets", "oring", "oring:create_bucket", A, **_ORING),
    _r("GET", f"{_THING}/data-buckets", "oring", "oring:list_buckets", R, **_ORING),
    _r("GET", _BUCKET, "oring", "oring:get_bucket", R, **_ORING),
    _r("DELETE", _BUCKET, "oring", "oring:delete_bucket", A, **_ORING),
    _r("POST", f"{_BUCKET}/data-shapes", "oring", "oring:create_shape", A, **_ORING),
    _r("DELETE", f"{_BUCKET}/data-shapes/{{shape}}", "oring", "oring:delete_shape", A, **_ORING),
    _r("GET", f"{_BUCKET}/timeline", "oring", "oring:timeline", R, **_ORING),
    _r("GET", f"{_BUCKET}/last-telemetries", "oring", "oring:last_telemetries", R, **_ORING),
    _r("GET", f"{_OR}/oauth/authorize", "oauth", "oauth:authorize_page", Scope.NONE, **_OAUTH),
    _r("POST", f"{_OR}/oauth/authorize", "oauth", "oauth:authorize_submit", Scope.NONE, **_OAUTH),
    _r("POST", f"{_OR}/oauth/token", "oauth", "oauth:token", Scope.NONE, **_OAUTH),
)


# iTwin IoT REST: the Sensor Data Service under /itwin/api, `Authorization: ApiKey <key>` or
# `Bearer <jwt>`, `{"errors": [{"message", "path"}]}` errors (issue 24)
_ITWIN = {"auth": AuthMode.HANDLER, "schemes": (Scheme.API_KEY, Scheme.BEARER), "dialect": "itwin_rest"}
_IT = "/itwin/api"
ROUTES += (
    _r("POST", f"{_IT}/integrations/integrate", "itwin", "itwin_rest:integrate", A, **_ITWIN),
    _r("POST", f"{_IT}/integrations/{{nodeId}}", "itwin", "itwin_rest:get_integration", R, **_ITWIN),
    _r("POST", f"{_IT}/integrations//{{source}}/{{serial}}/node", "itwin", "itwin_rest:get_integration", R,
       **_ITWIN),
    _r("POST", f"{_IT}/data/upload", "itwin", "itwin_rest:upload", W, **_ITWIN),
    _r("GET", f"{_IT}/devices/types", "itwin", "itwin_rest:device_types", R, **_ITWIN),
    _r("GET", f"{_IT}/sensors/types", "itwin", "itwin_rest:sensor_types", R, **_ITWIN),
    _r("GET", f"{_IT}/metrics/types", "itwin", "itwin_rest:metric_types", R, **_ITWIN),
    _r("POST", f"{_IT}/sensors/metrics", "itwin", "itwin_rest:sensors_metrics", R, **_ITWIN),
    _r("GET", f"{_IT}/nodes/all", "itwin", "itwin_rest:nodes_all", R, **_ITWIN),
    _r("GET", f"{_IT}/devices/all", "itwin", "itwin_rest:devices_all", R, **_ITWIN),
    _r("GET", f"{_IT}/sensors/all", "itwin", "itwin_rest:sensors_all", R, **_ITWIN),
    _r("GET", f"{_IT}/projects/{{projectId}}", "itwin", "itwin_rest:get_project", R, **_ITWIN),
    _r("DELETE", f"{_IT}/projects/{{projectId}}", "itwin", "itwin_rest:delete_project", A, **_ITWIN),
)


def routes_for(function: str) -> tuple[Route, ...]:
    """The routes one function serves."""
    return tuple(r for r in ROUTES if r.function == function)


def gateway_schemes() -> frozenset[Scheme]:
    """Every scheme some gateway route accepts: what the REST authorizer resolves.

    The authorizer's decision is cached by the `Authorization` header for the whole API, so it
    resolves the union; the handler then refuses a scheme its own route does not list.
    """
    return frozenset(s for r in ROUTES if r.auth is AuthMode.GATEWAY for s in r.schemes)


def dialect_for_path(path: str) -> str:
    """The error dialect of a path no route matched: the dialect of routes under its first segment."""
    head = "/" + path.strip("/").split("/", 1)[0]
    for route in ROUTES:
        if route.path == head or route.path.startswith(head + "/"):
            return route.dialect
    return "native"


GATEWAY_ROUTED_DIALECTS = frozenset({"native", "oauth"})
"""Dialects whose routes get an API Gateway method each: the gateway authorizer, CORS preflights
for browsers, a metric per operation. Every other dialect (a facade's) is served through one
greedy `ANY /<prefix>/{proxy+}` method per path prefix, and its handler finds the route: facades
authenticate in the handler anyway, an unknown path under a facade then answers in the facade's
dialect rather than the gateway's, and the stack stays under CloudFormation's 500 resources
however many routes the facades declare."""

PROXY = "{proxy+}"


def gateway_resource(route: Route) -> str:
    """The API Gateway resource that serves a route: its own path, or its prefix's greedy proxy."""
    if route.dialect in GATEWAY_ROUTED_DIALECTS:
        return route.path
    return f"/{route.path.strip('/').split('/', 1)[0]}/{PROXY}"


def proxied_prefixes(routes: Iterable[Route]) -> dict[str, str]:
    """Each greedy proxy resource and the one function behind it."""
    functions: dict[str, str] = {}
    for route in routes:
        resource = gateway_resource(route)
        if resource == route.path:
            continue
        if functions.setdefault(resource, route.function) != route.function:
            raise ValueError(f"{resource} would serve both {functions[resource]!r} and {route.function!r}")
    return functions


def match(routes: Iterable[Route], method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
    """The route a request's (decoded) path segments select, with its path parameters.

    As API Gateway does, a literal segment wins over a parameter at the same place.
    """
    best: tuple[tuple[bool, ...], Route, dict[str, str]] | None = None
    for route in routes:
        if route.method != method.upper():
            continue
        pattern = route.path.strip("/").split("/")
        if len(pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(pattern, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    break
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            if best is None or route.specificity < best[0]:
                best = (route.specificity, route, params)
    return None if best is None else (best[1], best[2])
