"""Regressions for the 5xx answers schemathesis found: each is now a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform

T0 = 1_750_000_000_000
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


@pytest.fixture(scope="module")
def station(api: httpx.Client) -> dict[str, Any]:
    pool = api.post("/v1/pools", json={"name": "edges"}).json()
    return dict(api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "edge"}).json())


def _stream(api: httpx.Client, station: dict[str, Any], type_: str) -> str:
    created = api.post(f"/v1/stations/{station['id']}/streams", json={"name": type_, "type": type_})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture(scope="module")
def stream(api: httpx.Client, station: dict[str, Any]) -> str:
    stream_id = _stream(api, station, "float")
    assert api.post(f"/v1/streams/{stream_id}/intervals", json=[{"timestamp": T0, "value": 1.5}]).status_code == 200
    return stream_id


def _is_400(response: httpx.Response, field: str | None) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json().get("field") == field


@pytest.mark.parametrize("limit", ["\u00b2", "--5", "-\u00b2"])
def test_a_limit_of_non_ascii_digits_or_doubled_signs_is_a_400(api: httpx.Client, limit: str) -> None:
    _is_400(api.get("/v1/pools", params={"limit": limit}), "limit")


@pytest.mark.parametrize("when", ["\u00b2", "--1700000000000", "\u0661\u0667" + "\u0660" * 11])
def test_a_timestamp_of_unicode_digits_is_a_400(api: httpx.Client, stream: str, when: str) -> None:
    _is_400(api.post(f"/v1/streams/{stream}/intervals", json=[{"timestamp": when, "value": 1}]), "[0].timestamp")
    _is_400(api.get(f"/v1/streams/{stream}/intervals", params={"start": when}), "start")
    assert api.get(f"/v1/streams/{stream}/intervals").json()["data"] == [
        {"timestamp": "2025-06-15T15:06:40.000Z", "value": 1.5}]


def test_an_object_timestamp_in_the_path_of_unicode_digits_is_a_400(
    api: httpx.Client, station: dict[str, Any]
) -> None:
    blob = _stream(api, station, "object")
    _is_400(api.get(f"/v1/streams/{blob}/objects/\u00b2"), "timestamp")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_body_are_a_400_and_store_nothing(
    api: httpx.Client, station: dict[str, Any], constant: str
) -> None:
    json_stream = _stream(api, station, "json")
    for body in (f'[{{"timestamp": {constant}, "value": 1}}]', f'[{{"timestamp": {T0}, "value": {constant}}}]'):
        _is_400(api.post(f"/v1/streams/{json_stream}/intervals", content=body, headers=JSON), None)
    assert api.get(f"/v1/streams/{json_stream}/intervals").json()["data"] == []


def test_a_config_value_of_nan_is_refused_rather_than_echoed_as_invalid_json(
    api: httpx.Client, station: dict[str, Any]
) -> None:
    put = api.put(f"/v1/stations/{station['id']}/configs/nan", content='{"configs": {"a": NaN}}', headers=JSON)
    _is_400(put, None)
    assert api.get(f"/v1/stations/{station['id']}/configs/nan").status_code == 404


@pytest.mark.parametrize("end", ["99999999999999999", "99999999999999999999", "9999-12-31T23:59:59Z"])
def test_an_end_beyond_the_year_9000_is_a_400_for_reads_aggregates_and_exports(
    api: httpx.Client, stream: str, end: str
) -> None:
    field = "end"
    _is_400(api.get(f"/v1/streams/{stream}/intervals", params={"end": end}), field)
    _is_400(api.get(f"/v1/streams/{stream}/intervals", params={"period": "1h", "end": end}), field)
    _is_400(api.post("/v1/query", json={"streams": [stream], "period": "1h", "end": end}), field)
    _is_400(api.post("/v1/exports", json={"streams": [stream], "start": 0, "end": end}), field)


def test_a_far_but_representable_end_still_reads(api: httpx.Client, stream: str) -> None:
    far = "8999-12-31T00:00:00Z"
    assert api.get(f"/v1/streams/{stream}/intervals", params={"end": far}).json()["data"][0]["value"] == 1.5
    export = api.post("/v1/exports", json={"streams": [stream], "start": 0, "end": far})
    assert export.status_code == 201, export.text
    assert export.json()["end"] == "8999-12-31T00:00:00.000Z"


def test_a_json_value_too_large_for_one_item_is_a_400(api: httpx.Client, station: dict[str, Any]) -> None:
    json_stream = _stream(api, station, "json")
    big = {"blob": "x" * 500_000}
    _is_400(api.post(f"/v1/streams/{json_stream}/intervals", json=[{"timestamp": T0, "value": big}]), "[0].value")
    assert api.get(f"/v1/streams/{json_stream}/intervals").json()["data"] == []


def test_a_config_group_too_large_for_one_item_is_a_400(api: httpx.Client, station: dict[str, Any]) -> None:
    put = api.put(f"/v1/stations/{station['id']}/configs/big", json={"configs": {"a": "x" * 500_000}})
    _is_400(put, "configs")
    assert api.get(f"/v1/stations/{station['id']}/configs/big").status_code == 404


def test_key_pools_must_be_strings(platform: Platform) -> None:
    response = platform.client().post("/v1/keys", json={"name": "k", "scopes": ["read"], "pools": [{"a": 1}]})
    assert response.status_code == 400 and response.json()["field"] == "pools[0]"


def test_ids_longer_than_any_key_are_404_not_a_database_error(platform: Platform) -> None:
    assert platform.client().get(f"/v1/streams/{'x' * 3000}").status_code == 404
