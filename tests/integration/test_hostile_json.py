"""Issue 19: hostile JSON against every route that takes a body: never a 5xx, and a refused request
stores nothing (every table scanned before and after, through the local runtime's control endpoint)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Platform, start_platform
from watershed.api.routes import ROUTES

T0 = 1_772_445_600_000
TABLES = ("catalog", "intervals", "rollups")
BODY_ROUTES = sorted({(r.method, r.path) for r in ROUTES
                      if r.method in ("POST", "PUT", "PATCH") and r.dialect == "native"})
"""Native routes (their errors are `{code, message}`); the facades' dialects have their own conformance tests."""
MAX_EXAMPLES = 50


@pytest.fixture(scope="module")
def hostile() -> Iterator[dict[str, Any]]:
    """A runtime of its own, so a table scan stays small and no other test writes meanwhile."""
    with start_platform() as platform:
        api = platform.client()
        pool = api.post("/v1/pools", json={"name": "p", "autoCreateStreams": True}).json()["id"]
        station = api.post(f"/v1/pools/{pool}/stations", json={"name": "s"}).json()["id"]
        streams = {kind: api.post(f"/v1/stations/{station}/streams", json={"name": kind, "type": kind}).json()["id"]
                   for kind in ("float", "json", "object")}
        ids = {"platform": platform, "api": api, "pool": pool, "station": station, **streams}
        yield {**ids, "tables": everything(platform)}
        api.close()


def concrete(path: str, ids: dict[str, Any], kind: str) -> str:
    """A route's path with real ids, so a request gets past its 404 to its body."""
    entity = path.split("/")[2]
    own = {"pools": ids["pool"], "stations": ids["station"],
           "streams": ids["object" if "/objects" in path else kind]}.get(entity, "")
    return path.replace("{id}", own).replace("{group}", "g").replace("{upload}", "u")


def everything(platform: Platform) -> dict[str, list[str]]:
    platform.drain()
    return {table: sorted(json.dumps(item, sort_keys=True) for item in platform.scan(table)) for table in TABLES}


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


ODD_TEXT = st.sampled_from([
    '"\\ud800"', '"\\udc00x"', '"a\\u0000b"', '"\U0001f600"', '"e\u0301"', '"\u202e"', '"\ufeff"',
    '"' + "\U0001f600" * 70_000 + '"', '"' + "é" * 200_000 + '"', '"' + "x" * 400_000 + '"',
])
HUGE_NUMBER = st.sampled_from(["9" * 400, "-" + "9" * 400, "1" * 5000, "1e400", "-1e400", "NaN", "Infinity",
                               "1" + "0" * 308, "0." + "0" * 400 + "1", "1E-400"])
WEIRD = st.sampled_from(['"' + "1" * 5000 + '"', '"Europe"', '"America/"', '"x/../y"', '"\u0661h"',
                         '"2026-03-02T10:00:00Z\\u0000"', '"..", "/"', "true", "null", "{}", "[]"])
SCALAR = st.one_of(ODD_TEXT, HUGE_NUMBER, WEIRD, st.integers().map(str), st.text(max_size=20).map(json.dumps))
FIELDS = st.sampled_from(["name", "value", "timestamp", "stream", "scopes", "pools", "timeZone", "period",
                          "start", "end", "limit", "retentionDays", "location", "lat", "configs", "streams",
                          "aggregation", "tz", "fn", "bucket", "alias", "content", "parts", "async"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    """JSON text (or nearly): deep nesting, huge numbers, long or broken strings, duplicate keys, shapes
    that look like real requests with one hostile value inside."""
    leaf = draw(SCALAR)
    shape = draw(st.sampled_from(["deep", "object", "dup", "interval", "intervals", "raw"]))
    if shape == "deep":
        return nested(draw(st.integers(30, 20_000)), leaf)
    if shape == "object":
        keys = draw(st.lists(FIELDS, min_size=1, max_size=4, unique=True))
        return "{" + ",".join(f'"{k}": {draw(SCALAR)}' for k in keys) + "}"
    if shape == "dup":
        key = draw(FIELDS)
        return f'{{"{key}": {leaf}, "{key}": {draw(SCALAR)}}}'
    if shape == "interval":
        name = draw(st.sampled_from(["value", "timestamp", "lat"]))
        value = f'{{"lat": {leaf}, "lon": 1}}' if name == "lat" else leaf
        item = {"timestamp": str(T0), "value": "1.5", "name" if name == "lat" else name: value}
        if name == "lat":
            item = {"timestamp": str(T0), "value": value}
        return "[" + "{" + ",".join(f'"{k}": {v}' for k, v in item.items()) + "}" + "]"
    if shape == "intervals":
        good = [f'{{"timestamp": {T0 + i}, "value": {i}.5}}' for i in range(draw(st.integers(1, 50)))]
        return "[" + ",".join([*good, f'{{"timestamp": {T0 + 999}, "value": {leaf}}}']) + "]"
    return leaf


@given(route=st.sampled_from(BODY_ROUTES), body=documents(), kind=st.sampled_from(["float", "json"]),
       encoding=st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "utf-32"]))
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
def test_hostile_json_is_never_a_5xx_and_a_refusal_stores_nothing(
    hostile: dict[str, Any], route: tuple[str, str], body: str, kind: str, encoding: str
) -> None:
    platform, api = hostile["platform"], hostile["api"]
    method, template = route
    before = hostile["tables"]
    raw = body.encode(encoding, errors="surrogatepass")
    response = api.request(method, concrete(template, hostile, kind), content=raw,
                           headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (method, template, response.status_code, response.text[:300])
    after = hostile["tables"] = everything(platform)
    if response.status_code >= 400:
        assert after == before, (method, template, response.text[:300])
        assert "code" in response.json() and "message" in response.json()
