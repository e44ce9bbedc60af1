"""Issue 19, defects 4-9, 13, 15, 16, 18: hostile input over real HTTP gets a 4xx naming what is wrong,
stores nothing, and what is stored is counted and aggregated without overflow."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform

T0 = 1_772_445_600_000  # 2026-03-02T10:00:00Z
HOUR = "2026-03-02T10:00:00Z"
NEXT_HOUR = "2026-03-02T11:00:00Z"
HUGE = "9" * 400
DIGITS = "1" * 5000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def site(platform: Platform) -> dict[str, Any]:
    _, key = platform.create_org("hostile input")
    api = platform.client(key)
    pool = api.post("/v1/pools", json={"name": "p"}).json()["id"]
    station = api.post(f"/v1/pools/{pool}/stations", json={"name": "s"}).json()["id"]
    streams = {}
    for kind in ("float", "integer", "coordinate", "json", "string", "object"):
        created = api.post(f"/v1/stations/{station}/streams", json={"name": kind, "type": kind, "timeZone": "UTC"})
        assert created.status_code == 201, created.text
        streams[kind] = created.json()["id"]
    return {"api": api, "key": key, "pool": pool, "station": station, **streams}


def stored(platform: Platform, stream_id: str) -> int:
    return sum(1 for item in platform.scan("intervals") if item["pk"]["S"] == stream_id)


def refused(response: httpx.Response, field: str | None = None, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = dict(response.json())
    if field is not None:
        assert body.get("field") == field, body
    return body


def test_4_a_push_whose_one_value_cannot_be_stored_stores_nothing(platform: Platform, site: dict[str, Any]) -> None:
    api, stream = site["api"], site["json"]
    valid = [{"timestamp": T0 + i, "value": {"i": i}} for i in range(100)]
    too_big = {"timestamp": T0 + 500, "value": {"t": "é" * 200_000}}  # 400 KB once stored as UTF-8
    refused(api.post(f"/v1/streams/{stream}/intervals", json=[*valid, too_big]), "[100].value")
    refused(api.post("/v1/intervals", json=[*({"stream": stream, **v} for v in valid), {"stream": stream, **too_big}]),
            "[100].value")
    assert stored(platform, stream) == 0

    emoji = "\U0001f600" * 65_536  # 786 KB escaped, 262 KB as UTF-8: within the documented 65,536 characters
    text = site["string"]
    pushed = api.post(f"/v1/streams/{text}/intervals",
                      json=[*({"timestamp": T0 + i, "value": "ok"} for i in range(100)), {"timestamp": T0 + 100,
                                                                                        "value": emoji}])
    assert pushed.status_code == 200 and pushed.json() == {"accepted": 101}
    latest = api.get(f"/v1/streams/{text}/latest").json()
    assert latest["value"] == emoji


BODY_ROUTES = [
    ("POST", "/v1/pools"), ("PATCH", "/v1/pools/{pool}"), ("POST", "/v1/pools/{pool}/stations"),
    ("PATCH", "/v1/stations/{station}"), ("POST", "/v1/stations/{station}/streams"),
    ("PATCH", "/v1/streams/{float}"), ("POST", "/v1/keys"), ("POST", "/v1/streams/{float}/intervals"),
    ("POST", "/v1/intervals"), ("POST", "/v1/query"), ("PUT", "/v1/stations/{station}/configs/g"),
    ("POST", "/v1/streams/{object}/objects"), ("POST", "/v1/streams/{object}/objects/uploads"),
    ("POST", "/v1/streams/{object}/objects/uploads/u1"), ("POST", "/v1/exports"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_5_json_nested_10000_deep_is_a_400(site: dict[str, Any], method: str, path: str) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    body = refused(site["api"].request(method, path.format(**site), content=deep, headers=JSON))
    if not path.endswith("/u1"):  # an unknown upload id is refused before its body is read
        assert "deeper" in body["message"]


def test_6_integers_of_400_digits_are_a_400(platform: Platform, site: dict[str, Any]) -> None:
    api = site["api"]
    for kind, value in (("float", HUGE), ("integer", HUGE), ("coordinate", f'{{"lat": {HUGE}, "lon": 1}}')):
        raw = f'[{{"timestamp": {T0}, "value": {value}}}]'
        refused(api.post(f"/v1/streams/{site[kind]}/intervals", content=raw, headers=JSON))
        assert stored(platform, site[kind]) == 0
    raw = f'{{"name": "x", "location": {{"lat": {HUGE}, "lon": 1}}}}'
    refused(api.patch(f"/v1/stations/{site['station']}", content=raw, headers=JSON))
    refused(api.post(f"/v1/streams/{site['float']}/intervals", json=[{"timestamp": T0, "value": 10**309}]))


def test_7_numbers_of_5000_digits_in_strings_are_a_400(site: dict[str, Any]) -> None:
    api, stream = site["api"], site["float"]
    refused(api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": DIGITS, "value": 1}]), "[0].timestamp")
    refused(api.get(f"/v1/streams/{stream}/intervals", params={"start": DIGITS}), "start")
    refused(api.get(f"/v1/streams/{stream}/intervals", params={"end": DIGITS}), "end")
    refused(api.get(f"/v1/streams/{stream}/intervals", params={"limit": DIGITS}), "limit")
    refused(api.patch(f"/v1/streams/{stream}", json={"retentionDays": DIGITS}), "retentionDays")
    refused(api.get(f"/v1/streams/{site['object']}/objects/{DIGITS}"), "timestamp")


def test_8_time_zones_that_are_directories_or_too_long_are_a_400(site: dict[str, Any]) -> None:
    api, stream = site["api"], site["float"]
    for zone in ("Europe", "America/", "x" * 300, "../etc/passwd"):
        refused(api.get(f"/v1/streams/{stream}/intervals", params={"period": "1h", "tz": zone}), "tz")
        refused(api.post("/v1/query", json={"streams": [stream], "period": "1h", "tz": zone}), "tz")
        refused(api.post("/v1/exports", json={"streams": [stream], "start": HOUR, "end": NEXT_HOUR,
                                              "aggregation": {"period": "1h", "tz": zone}}), "aggregation.tz")
        refused(api.patch(f"/v1/streams/{stream}", json={"timeZone": zone}), "timeZone")
        refused(api.post(f"/v1/stations/{site['station']}/streams", json={"name": "z", "type": "float",
                                                                          "timeZone": zone}), "timeZone")


def test_9_sums_that_overflow_are_null_and_averages_exact(platform: Platform, site: dict[str, Any]) -> None:
    api = site["api"]
    station = site["station"]
    stream = api.post(f"/v1/stations/{station}/streams", json={"name": "big", "type": "float"}).json()["id"]
    assert api.post(f"/v1/streams/{stream}/intervals",
                    json=[{"timestamp": T0, "value": 1.7e308}, {"timestamp": T0 + 1, "value": 1.7e308}]).is_success
    platform.drain()
    params = {"period": "1h", "fn": "sum,avg,count", "start": HOUR, "end": NEXT_HOUR}

    def answers() -> list[Any]:
        one = api.get(f"/v1/streams/{stream}/intervals", params=params)
        many = api.post("/v1/query", json={"streams": [stream], **params})
        export = api.post("/v1/exports", json={"streams": [stream], "start": HOUR, "end": NEXT_HOUR,
                                               "format": "ndjson", "aggregation": {"period": "1h",
                                                                                   "fn": "sum,avg,count"}})
        for response in (one, many, export):
            assert response.status_code in (200, 201), response.text
            assert "Infinity" not in response.text
        exported = httpx.get(export.json()["url"], timeout=30).text
        assert "Infinity" not in exported
        rows = [one.json()["data"][0], many.json()["data"][0]["data"][0], json.loads(exported.splitlines()[0])]
        return [(row["sum"], row["avg"], row["count"]) for row in rows]

    assert answers() == [(None, 1.7e308, 2)] * 3
    for _ in range(50):
        if platform.fire("rollup")["buckets"] == 0:
            break
    assert answers() == [(None, 1.7e308, 2)] * 3


def test_13_an_async_export_with_a_bad_aggregation_is_refused_up_front(site: dict[str, Any]) -> None:
    response = site["api"].post("/v1/exports", json={"streams": [site["float"]], "start": HOUR, "end": NEXT_HOUR,
                                                     "aggregation": {"period": "fortnight"}, "async": True})
    refused(response, "aggregation.period")
    response = site["api"].post("/v1/exports", json={"streams": [site["float"]], "start": HOUR, "end": NEXT_HOUR,
                                                     "aggregation": {"period": "1h", "fn": "median"}, "async": True})
    refused(response, "aggregation.fn")


def test_15_odd_input_is_refused_or_normalised_by_the_documented_rule(platform: Platform, site: dict[str, Any]) -> None:
    api, stream = site["api"], site["float"]
    refused(api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": "2026-03-02T10:00:00Z\u0000",
                                                              "value": 1}]), "[0].timestamp")
    lone = f'[{{"timestamp": {T0}, "value": "\\ud800"}}]'
    refused(api.post(f"/v1/streams/{site['string']}/intervals", content=lone, headers=JSON))
    refused(api.get(f"/v1/streams/{stream}/intervals", params={"period": "\u0661h"}), "period")
    refused(api.put(f"/v1/stations/{site['station']}/configs/%2E%2E", json={"configs": {"a": 1}}), "group")
    refused(api.post(f"/v1/stations/{site['station']}/streams", json={"name": "b", "type": "float",
                                                                      "bucket": "a/b"}), "bucket")
    utf16 = json.dumps([{"timestamp": T0, "value": 1}]).encode("utf-16")
    refused(api.post(f"/v1/streams/{stream}/intervals", content=utf16, headers=JSON))
    plain = json.dumps([{"timestamp": T0, "value": 1}])
    refused(api.post(f"/v1/streams/{stream}/intervals", content=plain, headers={"Content-Type": "text/plain"}),
            status=415)
    dup = f'[{{"timestamp": {T0}, "value": 1, "value": 2}}]'
    assert "duplicate" in refused(api.post(f"/v1/streams/{stream}/intervals", content=dup, headers=JSON))["message"]
    assert stored(platform, stream) == 0

    # a fraction of a millisecond is dropped alike from epoch floats and ISO fractions
    assert api.post(f"/v1/streams/{stream}/intervals", json=[
        {"timestamp": T0 + 0.9, "value": 1.0}, {"timestamp": "2026-03-02T10:00:00.0019Z", "value": 2.0},
    ]).json() == {"accepted": 2}
    got = api.get(f"/v1/streams/{stream}/intervals", params={"start": HOUR, "end": NEXT_HOUR}).json()["data"]
    assert [row["timestamp"] for row in got] == ["2026-03-02T10:00:00.000Z", "2026-03-02T10:00:00.001Z"]
    api.delete(f"/v1/streams/{stream}/intervals", params={"start": HOUR, "end": NEXT_HOUR}).raise_for_status()


def test_16_unicode_in_path_parameters_is_a_400_naming_them(site: dict[str, Any]) -> None:
    api = site["api"]
    refused(api.put(f"/v1/stations/{site['station']}/configs/\U0001f600", json={"configs": {"a": 1}}), "group")
    refused(api.get(f"/v1/stations/{site['station']}/configs/e\u0301"), "group")
    refused(api.get(f"/v1/streams/{site['object']}/objects/\u2603"), "timestamp")


def test_18_accepted_counts_what_was_stored(platform: Platform, site: dict[str, Any]) -> None:
    api = site["api"]
    stream = api.post(f"/v1/stations/{site['station']}/streams", json={"name": "dups", "type": "float"}).json()["id"]
    twice = [{"timestamp": T0, "value": 1.0}, {"timestamp": T0, "value": 2.0}, {"timestamp": T0 + 1, "value": 3.0}]
    assert api.post(f"/v1/streams/{stream}/intervals", json=twice).json() == {"accepted": 2}
    assert api.post("/v1/intervals", json=[{"stream": stream, **p} for p in twice]).json() == {"accepted": 2}
    assert stored(platform, stream) == 2
    assert api.get(f"/v1/streams/{stream}/latest").json()["value"] == 3.0
