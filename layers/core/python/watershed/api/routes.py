"""The HTTP route table: the one place a route is declared.

functions/manifest.py, infra/ and local/ read it; each handler binds the operations of its own
function from it. It lives in the layer because a deployed handler sees only its folder and the
layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    """What a credential may do; admin implies write, write implies read."""

    NONE = "none"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class AuthMode(StrEnum):
    """Who authenticates a route (DESIGN §4)."""

    GATEWAY = "gateway"
    HANDLER = "handler"
    NONE = "none"


@dataclass(frozen=True)
class Route:
    """One HTTP method on one path, served by one function's operation."""

    method: str
    path: str
    function: str
    operation: str
    scope: Scope
    auth: AuthMode = AuthMode.GATEWAY
    binary: bool = False

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
    # intervals: writes
    _r("POST", "/v1/streams/{id}/intervals", "ingest", "push_stream", W),
    _r("POST", "/v1/intervals", "ingest", "push_many", W),
    _r("DELETE", "/v1/streams/{id}/intervals", "ingest", "delete_range", W),
    # intervals: reads
    _r("GET", "/v1/streams/{id}/intervals", "query", "pull", R),
    _r("GET", "/v1/streams/{id}/latest", "query", "latest", R),
    _r("GET", "/v1/stations/{id}/latest", "query", "station_latest", R),
    _r("POST", "/v1/query", "query", "query_many", R),
    # MQTT credentials and device configs (issue 5)
    _r("POST", "/v1/stations/{id}/secret", "configs", "native_devices:rotate_secret", A),
    _r("GET", "/v1/stations/{id}/configs", "configs", "native_devices:list_configs", R),
    _r("GET", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:get_config", R),
    _r("PUT", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:put_config", W),
    _r("DELETE", "/v1/stations/{id}/configs/{group}", "configs", "native_devices:delete_config", W),
    # object streams and exports (issue 7)
    _r("POST", "/v1/streams/{id}/objects", "objects", "native_objects:upload_object", W, binary=True),
    _r("POST", "/v1/streams/{id}/objects/uploads", "objects", "native_objects:start_upload", W),
    _r("POST", "/v1/streams/{id}/objects/uploads/{upload}", "objects", "native_objects:complete_upload", W),
    _r("GET", "/v1/streams/{id}/objects/{timestamp}", "objects", "native_objects:get_object", R),
    _r("POST", "/v1/exports", "exports", "native_objects:create_export", R),
    _r("GET", "/v1/exports/{id}", "exports", "native_objects:get_export", R),
    # the API's own description
    _r("GET", "/v1/openapi.json", "catalog", "native_meta:openapi_document", Scope.NONE, auth=AuthMode.NONE),
)


def routes_for(function: str) -> tuple[Route, ...]:
    """The routes one function serves."""
    return tuple(r for r in ROUTES if r.function == function)
