"""Schemathesis against the live local runtime, driven by the document it serves at /v1/openapi.json.

Each /v1 operation gets a bounded, derandomised run in positive and negative mode: no answer may
be a 5xx, every status must be documented, and JSON answers must match their schema. Path ids are
real (resources this module creates through the API) half of the time, so operations get past the
404; DELETEs aim at victims of their own so the other operations keep their fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.integration.conftest import Platform
from watershed.api import openapi

MAX_EXAMPLES = 10
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.positive_data_acceptance,
]
SCHEMA_CHECKS = [check for check in CHECKS if check is not openapi_checks.positive_data_acceptance]
BEYOND_SCHEMA = {
    "timeZone": "a name of the right shape that the zone database does not know",
    "tz": "a name of the right shape that the zone database does not know",
    "expires": "a time in the past",
    "start": "a date of the right shape that the calendar has not (2023-02-30), or out of range",
    "end": "a date of the right shape that the calendar has not, or out of range",
    "timestamp": "a date of the right shape that the calendar has not, or out of range",
    "value": "a value that is not of its stream's type",
    "type": "a stream type other than the stream's own (it cannot change)",
    "period": "Nm or Nh of more than a day",
    "bucket": "a bucket other than the stream's own (it cannot change)",
    "redirectUris": "none given for the authorization_code or implicit grant",
    "upload": "an upload whose URL has not received the object yet",
    "grants": "client_credentials for a public client (it has no secret)",
    "content": "bytes that are not data of the compression named",
}
"""Fields (the last part of an error's `field`) whose rules a JSON Schema cannot state: a
schema-valid value may still be refused with a 400 naming the field; the documents say so in words."""
DOCUMENT = openapi.build()
OPERATIONS = [(route.method, route.path) for route in openapi.documented()]


def _has_input(method: str, path: str) -> bool:
    """Whether negative mode has anything to break: a query parameter or a body (path ids are any
    string, and no extra parameters are generated)."""
    operation = DOCUMENT["paths"][path][method.lower()]
    kinds = {p["in"] for p in operation["parameters"]} - {"path"}
    return bool(kinds) or "requestBody" in operation


CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_input(method, path)
]
OBJECT_TS = 1_700_000_000_000


@pytest.fixture(scope="module")
def api_schema(platform: Platform) -> Any:
    response = httpx.get(f"{platform.url}/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    # The tests send a real key on every request: generated or removed Authorization headers would
    # only be overridden; unknown query parameters are ignored, as HTTP APIs do, not refused.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


def _resources(api: httpx.Client) -> dict[str, str]:
    """One pool, station, stream... to read and change, and another of each to delete."""
    ids: dict[str, str] = {}
    for prefix in ("", "victim_"):
        pool = _created(api.post("/v1/pools", json={"name": f"{prefix}schemathesis"}))["id"]
        station = _created(api.post(f"/v1/pools/{pool}/stations", json={"name": "s", "labels": ["fuzz"]}))["id"]
        stream = _created(api.post(f"/v1/stations/{station}/streams",
                                   json={"name": "t", "type": "float", "alias": "t"}))["id"]
        api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": OBJECT_TS + i, "value": i} for i in range(5)])
        api.put(f"/v1/stations/{station}/configs/{prefix}g1", json={"configs": {"rate": 5}})
        ids.update({f"{prefix}pool": pool, f"{prefix}station": station, f"{prefix}stream": stream,
                    f"{prefix}group": f"{prefix}g1"})
        ids[f"{prefix}client"] = _created(api.post("/v1/clients", json={
            "name": "c", "grants": ["client_credentials"]}))["id"]
        ids[f"{prefix}user"] = _created(api.post("/v1/users", json={
            "username": f"{prefix}fuzz", "password": "fuzzing password", "scopes": ["read"]}))["id"]
        ids[f"{prefix}mqtt-app"] = _created(api.post("/v1/mqtt-apps", json={"name": f"{prefix}fuzz"}))["id"]
        ids[f"{prefix}issuer"] = _created(api.post("/v1/issuers", json={
            "issuer": f"https://{prefix}fuzz.example", "audience": "a"}))["id"]
    blob = _created(api.post(f"/v1/stations/{ids['station']}/streams", json={"name": "b", "type": "object"}))["id"]
    api.post(f"/v1/streams/{blob}/objects", params={"timestamp": str(OBJECT_TS)}, content=b"\x00blob",
             headers={"Content-Type": "application/octet-stream"})
    upload = _created(api.post(f"/v1/streams/{blob}/objects/uploads", json={}))["upload"]
    export = _created(api.post("/v1/exports", json={"streams": [ids["stream"]], "start": 0, "end": OBJECT_TS * 2}))
    key = _created(api.post("/v1/keys", json={"name": "victim", "scopes": ["read"]}))["id"]
    ids.update({"blob": blob, "upload": upload, "export": export["id"], "victim_key": key})
    return ids


@pytest.fixture(scope="module")
def real_ids(platform: Platform) -> Iterator[dict[str, str]]:
    with platform.client() as api:
        yield _resources(api)


def _path_parameters(method: str, path: str, ids: dict[str, str]) -> dict[str, str]:
    """Real values for the path's parameters; a DELETE gets the victims."""
    victim = "victim_" if method == "DELETE" else ""
    kind = path.split("/")[2]
    if kind == "streams" and "/objects" in path:
        found = {"id": ids["blob"], "upload": ids["upload"], "timestamp": str(OBJECT_TS)}
    elif kind == "keys":
        found = {"id": ids["victim_key"]}
    elif kind == "exports":
        found = {"id": ids["export"]}
    else:
        found = {"id": ids[f"{victim}{kind[:-1]}"], "group": ids[f"{victim}group"], "name": "default"}
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return {name: found[name] for name in names}


def _without_cursor(case: Any) -> Any:
    """A cursor is a signed opaque token only the API hands out: a schema-valid string is still a
    forged cursor, which the API rightly refuses, so positive cases do not invent one."""
    if case.query:
        case.query.pop("cursor", None)
    return case


def _error_field(response: httpx.Response) -> str | None:
    """The last part of a native error's `field` (`[0].value` -> `value`)."""
    try:
        field = response.json().get("field")
    except ValueError:
        return None
    return str(field).rsplit(".", 1)[-1] if field else None


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_and_never_fails(
    platform: Platform, api_schema: Any, real_ids: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    if "{" in path:
        pinned = operation.as_strategy(generation_mode=mode,
                                       path_parameters=_path_parameters(method, path, real_ids))
        strategy = st.one_of(strategy, pinned)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.map(_without_cursor)
    auth = {"Authorization": f"ApiKey {platform.key}"}

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=platform.url, headers=auth, timeout=30)
        refused_beyond_schema = response.status_code == 400 and _error_field(response) in BEYOND_SCHEMA
        case.validate_response(response, checks=SCHEMA_CHECKS if refused_beyond_schema else CHECKS)

    run()


def test_the_served_document_is_the_route_tables(platform: Platform) -> None:
    served = httpx.get(f"{platform.url}/v1/openapi.json", timeout=30).json()
    assert served == openapi.build()


def _integer_query_bounds() -> list[tuple[str, str, int, int]]:
    """(path, parameter, documented minimum and maximum) of every GET's bounded integer query parameter."""
    found = []
    for path, item in DOCUMENT["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            schema = parameter.get("schema", {})
            if parameter["in"] == "query" and schema.get("type") == "integer" and "maximum" in schema:
                found.append((path, parameter["name"], int(schema.get("minimum", 0)), int(schema["maximum"])))
    return found


def test_documented_integer_bounds_are_the_enforced_ones(platform: Platform, real_ids: dict[str, str]) -> None:
    bounds = _integer_query_bounds()
    assert {(path, name) for path, name, _, _ in bounds} >= {("/v1/pools", "limit"),
                                                          ("/v1/streams/{id}/intervals", "limit")}
    with platform.client() as api:
        for path, name, minimum, maximum in bounds:
            url = path.format(**_path_parameters("GET", path, real_ids))
            at_bound = api.get(url, params={name: maximum})
            assert at_bound.status_code == 200, (path, name, at_bound.text)
            past = api.get(url, params={name: maximum + 1})
            assert (past.status_code, past.json()["field"]) == (400, name), (path, name)
            below = api.get(url, params={name: minimum - 1})
            assert (below.status_code, below.json()["field"]) == (400, name), (path, name)
