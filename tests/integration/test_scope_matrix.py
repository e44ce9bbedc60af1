"""The scope matrix: every native route of the route table, with read, write and admin credentials of
each kind (API key, client-credentials token, user token from the code flow), answers 2xx when the
credential's scope covers the route's and 403 when it does not (issue 21).

A /v1 route without a call here fails the test, so a new route cannot skip the matrix.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.conftest import Platform
from tests.integration.test_oauth import REDIRECT, _b64, _sign_in
from watershed.api.routes import ROUTES, AuthMode, Route
from watershed.model import Scheme

SCOPES = ("read", "write", "admin")
COVERS = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}
TS = 1_764_000_000_000
PASSWORD = "matrix password 1"


@dataclass
class World:
    """What the calls act on, made with the organisation's admin key."""

    admin: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)

    def post(self, path: str, **kw: Any) -> dict[str, Any]:
        response = self.admin.post(path, **kw)
        assert response.status_code in (200, 201), (path, response.text)
        return dict(response.json())

    def new(self, path: str, body: Callable[[], dict[str, Any]]) -> str:
        """The id of a new resource, made to be deleted."""
        return str(self.post(path, json=body())["id"])

    def new_pool(self) -> str:
        return str(self.post("/v1/pools", json={"name": "throwaway"})["id"])

    def new_station(self) -> str:
        return str(self.post(f"/v1/pools/{self.ids['pool']}/stations", json={"name": "throwaway"})["id"])

    def new_stream(self) -> str:
        return str(self.post(f"/v1/stations/{self.ids['station']}/streams", json={"name": "t", "type": "float"})["id"])

    def new_bucket(self) -> str:
        name = f"b{uuid.uuid4().hex[:8]}"
        self.post(f"/v1/stations/{self.ids['station']}/buckets", json={"name": name})
        return name

    def new_upload(self) -> str:
        ticket = self.post(f"/v1/streams/{self.ids['objects']}/objects/uploads", json={"contentType": "image/png"})
        httpx.put(ticket["url"], content=b"png", headers=ticket["headers"], timeout=30).raise_for_status()
        return str(ticket["upload"])


Call = Callable[[World, httpx.Client], httpx.Response]


def USER() -> dict[str, Any]:
    return {"username": uuid.uuid4().hex, "password": PASSWORD, "scopes": ["read"]}


def ISSUER() -> dict[str, Any]:
    return {"issuer": f"https://{uuid.uuid4().hex}.example", "audience": "a"}


def CLIENT() -> dict[str, Any]:
    return {"name": "c", "grants": ["client_credentials"]}


def KEY() -> dict[str, Any]:
    return {"name": "k", "scopes": ["read"]}


def MQTT_APP() -> dict[str, Any]:
    return {"name": "app"}


def _calls() -> dict[tuple[str, str], Call]:
    def new_config(w: World) -> str:
        group = f"g{uuid.uuid4().hex[:8]}"
        w.admin.put(f"/v1/stations/{w.ids['station']}/configs/{group}", json={"configs": {"a": 1}}).raise_for_status()
        return group

    return {
        ("POST", "/v1/pools"): lambda w, c: c.post("/v1/pools", json={"name": "m"}),
        ("GET", "/v1/pools"): lambda w, c: c.get("/v1/pools"),
        ("GET", "/v1/pools/{id}"): lambda w, c: c.get(f"/v1/pools/{w.ids['pool']}"),
        ("PATCH", "/v1/pools/{id}"): lambda w, c: c.patch(f"/v1/pools/{w.ids['pool']}", json={"description": "d"}),
        ("DELETE", "/v1/pools/{id}"): lambda w, c: c.delete(f"/v1/pools/{w.new_pool()}"),
        ("POST", "/v1/pools/{id}/stations"): lambda w, c: c.post(f"/v1/pools/{w.ids['pool']}/stations",
                                                                 json={"name": "s"}),
        ("GET", "/v1/pools/{id}/stations"): lambda w, c: c.get(f"/v1/pools/{w.ids['pool']}/stations"),
        ("GET", "/v1/stations/{id}"): lambda w, c: c.get(f"/v1/stations/{w.ids['station']}"),
        ("PATCH", "/v1/stations/{id}"): lambda w, c: c.patch(f"/v1/stations/{w.ids['station']}",
                                                             json={"labels": ["x"]}),
        ("DELETE", "/v1/stations/{id}"): lambda w, c: c.delete(f"/v1/stations/{w.new_station()}"),
        ("POST", "/v1/stations/{id}/streams"): lambda w, c: c.post(f"/v1/stations/{w.ids['station']}/streams",
                                                                   json={"name": "n", "type": "float"}),
        ("GET", "/v1/stations/{id}/streams"): lambda w, c: c.get(f"/v1/stations/{w.ids['station']}/streams"),
        ("POST", "/v1/stations/{id}/buckets"): lambda w, c: c.post(f"/v1/stations/{w.ids['station']}/buckets",
                                                                   json={"name": f"b{uuid.uuid4().hex[:8]}"}),
        ("GET", "/v1/stations/{id}/buckets"): lambda w, c: c.get(f"/v1/stations/{w.ids['station']}/buckets"),
        ("GET", "/v1/stations/{id}/buckets/{name}"): lambda w, c: c.get(
            f"/v1/stations/{w.ids['station']}/buckets/main"),
        ("PATCH", "/v1/stations/{id}/buckets/{name}"): lambda w, c: c.patch(
            f"/v1/stations/{w.ids['station']}/buckets/main", json={"description": "d"}),
        ("DELETE", "/v1/stations/{id}/buckets/{name}"): lambda w, c: c.delete(
            f"/v1/stations/{w.ids['station']}/buckets/{w.new_bucket()}"),
        ("GET", "/v1/streams/{id}/summary"): lambda w, c: c.get(f"/v1/streams/{w.ids['stream']}/summary"),
        ("GET", "/v1/streams/{id}"): lambda w, c: c.get(f"/v1/streams/{w.ids['stream']}"),
        ("PATCH", "/v1/streams/{id}"): lambda w, c: c.patch(f"/v1/streams/{w.ids['stream']}", json={"unit": "K"}),
        ("DELETE", "/v1/streams/{id}"): lambda w, c: c.delete(f"/v1/streams/{w.new_stream()}"),
        ("POST", "/v1/keys"): lambda w, c: c.post("/v1/keys", json=KEY()),
        ("GET", "/v1/keys"): lambda w, c: c.get("/v1/keys"),
        ("GET", "/v1/keys/{id}"): lambda w, c: c.get(f"/v1/keys/{w.ids['key']}"),
        ("PATCH", "/v1/keys/{id}"): lambda w, c: c.patch(f"/v1/keys/{w.ids['key']}", json={"expires": None}),
        ("POST", "/v1/keys/{id}/rotate"): lambda w, c: c.post(f"/v1/keys/{w.new('/v1/keys', KEY)}/rotate"),
        ("DELETE", "/v1/keys/{id}"): lambda w, c: c.delete(f"/v1/keys/{w.new('/v1/keys', KEY)}"),
        ("POST", "/v1/streams/{id}/intervals"): lambda w, c: c.post(f"/v1/streams/{w.ids['stream']}/intervals",
                                                                    json=[{"timestamp": TS, "value": 1.5}]),
        ("POST", "/v1/intervals"): lambda w, c: c.post("/v1/intervals", json=[{"stream": w.ids["stream"],
                                                                              "timestamp": TS + 1, "value": 2}]),
        ("DELETE", "/v1/streams/{id}/intervals"): lambda w, c: c.delete(
            f"/v1/streams/{w.ids['stream']}/intervals", params={"start": "0", "end": "1"}),
        ("GET", "/v1/streams/{id}/intervals"): lambda w, c: c.get(f"/v1/streams/{w.ids['stream']}/intervals"),
        ("GET", "/v1/streams/{id}/latest"): lambda w, c: c.get(f"/v1/streams/{w.ids['stream']}/latest"),
        ("GET", "/v1/stations/{id}/latest"): lambda w, c: c.get(f"/v1/stations/{w.ids['station']}/latest"),
        ("POST", "/v1/query"): lambda w, c: c.post("/v1/query", json={
            "streams": [w.ids["stream"]], "period": "1d", "fn": "count", "start": TS - 86_400_000,
            "end": TS + 86_400_000}),
        ("POST", "/v1/stations/{id}/secret"): lambda w, c: c.post(f"/v1/stations/{w.ids['station']}/secret"),
        ("GET", "/v1/stations/{id}/configs"): lambda w, c: c.get(f"/v1/stations/{w.ids['station']}/configs"),
        ("GET", "/v1/stations/{id}/configs/{group}"): lambda w, c: c.get(
            f"/v1/stations/{w.ids['station']}/configs/main"),
        ("PUT", "/v1/stations/{id}/configs/{group}"): lambda w, c: c.put(
            f"/v1/stations/{w.ids['station']}/configs/main", json={"configs": {"a": 2}}),
        ("DELETE", "/v1/stations/{id}/configs/{group}"): lambda w, c: c.delete(
            f"/v1/stations/{w.ids['station']}/configs/{new_config(w)}"),
        ("POST", "/v1/mqtt-apps"): lambda w, c: c.post("/v1/mqtt-apps", json=MQTT_APP()),
        ("GET", "/v1/mqtt-apps"): lambda w, c: c.get("/v1/mqtt-apps"),
        ("GET", "/v1/mqtt-apps/{id}"): lambda w, c: c.get(f"/v1/mqtt-apps/{w.ids['mqtt_app']}"),
        ("DELETE", "/v1/mqtt-apps/{id}"): lambda w, c: c.delete(f"/v1/mqtt-apps/{w.new('/v1/mqtt-apps', MQTT_APP)}"),
        ("POST", "/v1/streams/{id}/objects"): lambda w, c: c.post(
            f"/v1/streams/{w.ids['objects']}/objects", content=b"png", headers={"Content-Type": "image/png"}),
        ("POST", "/v1/streams/{id}/objects/uploads"): lambda w, c: c.post(
            f"/v1/streams/{w.ids['objects']}/objects/uploads", json={"contentType": "image/png"}),
        ("POST", "/v1/streams/{id}/objects/uploads/{upload}"): lambda w, c: c.post(
            f"/v1/streams/{w.ids['objects']}/objects/uploads/{w.new_upload()}"),
        ("GET", "/v1/streams/{id}/objects/{timestamp}"): lambda w, c: c.get(
            f"/v1/streams/{w.ids['objects']}/objects/{TS}"),
        ("POST", "/v1/exports"): lambda w, c: c.post("/v1/exports", json={
            "streams": [w.ids["stream"]], "start": 0, "end": TS + 10, "format": "ndjson"}),
        ("GET", "/v1/exports/{id}"): lambda w, c: c.get(f"/v1/exports/{w.ids['export']}"),
        ("POST", "/v1/clients"): lambda w, c: c.post("/v1/clients", json=CLIENT()),
        ("GET", "/v1/clients"): lambda w, c: c.get("/v1/clients"),
        ("GET", "/v1/clients/{id}"): lambda w, c: c.get(f"/v1/clients/{w.ids['client']}"),
        ("DELETE", "/v1/clients/{id}"): lambda w, c: c.delete(f"/v1/clients/{w.new('/v1/clients', CLIENT)}"),
        ("POST", "/v1/users"): lambda w, c: c.post("/v1/users", json=USER()),
        ("GET", "/v1/users"): lambda w, c: c.get("/v1/users"),
        ("GET", "/v1/users/{id}"): lambda w, c: c.get(f"/v1/users/{w.ids['user_read']}"),
        ("DELETE", "/v1/users/{id}"): lambda w, c: c.delete(f"/v1/users/{w.new('/v1/users', USER)}"),
        ("POST", "/v1/issuers"): lambda w, c: c.post("/v1/issuers", json=ISSUER()),
        ("GET", "/v1/issuers"): lambda w, c: c.get("/v1/issuers"),
        ("DELETE", "/v1/issuers/{id}"): lambda w, c: c.delete(f"/v1/issuers/{w.new('/v1/issuers', ISSUER)}"),
        ("GET", "/v1/me"): lambda w, c: c.get("/v1/me"),
    }


CALLS = _calls()


def native_routes() -> list[Route]:
    return [r for r in ROUTES if r.path.startswith("/v1/") and r.auth is not AuthMode.NONE]


def test_every_native_route_has_a_call_in_the_matrix() -> None:
    missing = [f"{r.method} {r.path}" for r in native_routes() if (r.method, r.path) not in CALLS]
    assert missing == []


@pytest.fixture(scope="module")
def world(platform: Platform) -> Iterator[World]:
    _, key = platform.create_org("matrix")
    with platform.client(key) as admin:
        w = World(admin)
        w.ids["pool"] = w.new_pool()
        w.ids["station"] = w.new_station()
        w.ids["stream"] = w.new_stream()
        w.post(f"/v1/stations/{w.ids['station']}/buckets", json={"name": "main"})
        w.post(f"/v1/streams/{w.ids['stream']}/intervals", json=[{"timestamp": TS, "value": 1.0}])
        w.ids["objects"] = str(w.post(f"/v1/stations/{w.ids['station']}/streams",
                                      json={"name": "o", "type": "object"})["id"])
        w.post(f"/v1/streams/{w.ids['objects']}/objects", content=b"png", params={"timestamp": str(TS)},
               headers={"Content-Type": "image/png"})
        admin.put(f"/v1/stations/{w.ids['station']}/configs/main", json={"configs": {"a": 1}}).raise_for_status()
        w.ids["export"] = str(w.post("/v1/exports", json={"streams": [w.ids["stream"]], "start": 0,
                                                          "end": TS + 10})["id"])
        w.ids["key"] = w.new("/v1/keys", KEY)
        w.ids["mqtt_app"] = w.new("/v1/mqtt-apps", MQTT_APP)
        w.ids["client"] = str(w.post("/v1/clients", json={"name": "c", "grants": ["client_credentials"]})["id"])
        for scope in SCOPES:
            w.ids[f"user_{scope}"] = str(w.post("/v1/users", json={"username": f"u-{scope}", "password": PASSWORD,
                                                                  "scopes": [scope]})["id"])
        yield w


def _key(platform: Platform, w: World, scope: str) -> httpx.Client:
    secret = w.post("/v1/keys", json={"name": f"matrix {scope}", "scopes": [scope]})["key"]
    return platform.client(secret)


def _client_token(platform: Platform, w: World, scope: str) -> httpx.Client:
    client = w.post("/v1/clients", json={"name": scope, "grants": ["client_credentials"], "scopes": [scope]})
    issued = httpx.post(f"{platform.url}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": client["clientId"], "client_secret": client["clientSecret"]})
    issued.raise_for_status()
    return platform.client(issued.json()["access_token"], scheme="Bearer")


def _user_token(platform: Platform, w: World, scope: str) -> httpx.Client:
    client = w.post("/v1/clients", json={"name": scope, "grants": ["authorization_code"], "redirectUris": [REDIRECT]})
    verifier = secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    page = httpx.get(f"{platform.url}/oauth2/authorize", params={
        "response_type": "code", "client_id": client["clientId"], "redirect_uri": REDIRECT,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    answer = _sign_in(page, f"u-{scope}", PASSWORD)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    issued = httpx.post(f"{platform.url}/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
        "client_id": client["clientId"], "client_secret": client["clientSecret"]})
    issued.raise_for_status()
    return platform.client(issued.json()["access_token"], scheme="Bearer")


KINDS: dict[str, tuple[Scheme, Callable[[Platform, World, str], httpx.Client]]] = {
    "key": (Scheme.API_KEY, _key),
    "client token": (Scheme.BEARER, _client_token),
    "user token": (Scheme.BEARER, _user_token),
}


def _placeholder_path(route: Route, w: World) -> str:
    """The route's path with ids of the world's resources (a 403 comes before any look-up)."""
    return (route.path.replace("{id}", w.ids["pool"]).replace("{group}", "main").replace("{name}", "main")
            .replace("{upload}", "u")
            .replace("{timestamp}", str(TS)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_scope_matrix(platform: Platform, world: World, kind: str) -> None:
    scheme, make = KINDS[kind]
    failures = []
    for scope in SCOPES:
        with make(platform, world, scope) as caller:
            me = caller.get("/v1/me").json()
            assert me["kind"] == {"key": "key", "client token": "client", "user token": "user"}[kind]
            for route in native_routes():
                if scheme not in route.schemes:
                    continue
                covered = str(route.scope) in COVERS[scope]
                if covered:
                    response = CALLS[(route.method, route.path)](world, caller)
                    ok = 200 <= response.status_code < 300
                else:
                    response = caller.request(route.method, _placeholder_path(route, world))
                    ok = response.status_code == 403
                if not ok:
                    failures.append(f"{scope} {route.method} {route.path}: {response.status_code} {response.text[:99]}")
    assert failures == []
