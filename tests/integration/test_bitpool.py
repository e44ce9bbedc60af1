"""Bitpool API v2 under /bitpool over real HTTP: the seed's five steps with the wire notes' bodies
(../shared/wire/bitpool.md), the V1 searches the edge uploader calls, `{"Message", "Errors"}`
errors, and the same data through the native API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Platform

STREAM_ENTITY = {"StreamKey", "LocalIndex", "Name", "Description", "RegistrationDate", "FirstTimestamp",
                 "LastTimestamp", "FirstValue", "LastValue", "PoolKey", "Public", "Virtual", "VirtualType",
                 "Recalculate", "Weather", "Owner", "StreamLogsCount", "PostProcessingType", "DataType"}
VALUE_ENTITY = {"StreamKey", "Timestamp", "Value", "ValueString", "Calculated", "FirstValue", "LastValue"}


@pytest.fixture
def bp(platform: Platform) -> httpx.Client:
    """A Bitpool client: base URL changed, `Authorization: Bitpool2 <key>`."""
    return httpx.Client(base_url=f"{platform.url}/bitpool", headers={"Authorization": f"Bitpool2 {platform.key}"},
                        timeout=30)


def _setup(bp: httpx.Client, data_type: str | None = None) -> tuple[str, int, dict[str, Any]]:
    name = f"Site {uuid.uuid4().hex[:6]}"
    pool = bp.post("/public/v2/pools", json={"Poolname": name, "Public": False, "Virtual": False})
    assert pool.status_code == 200, pool.text
    pool_key = pool.json()["PoolKey"]
    assert pool.json()["Id"] == pool_key and pool.json()["Name"] == name
    station = bp.post(f"/public/v2/pools/{pool_key}/stations", json="Gateway 1")
    assert station.status_code == 200 and station.json() == {"StationID": 1}
    body: dict[str, Any] = {"LocalIndex": "ahu1.temp", "StreamName": "AHU1 Temp", "Description": "supply air",
                            "Public": False}
    if data_type:
        body["DataType"] = data_type
    stream = bp.post(f"/public/v2/pools/{pool_key}/stations/1/streams", json=body)
    assert stream.status_code == 200, stream.text
    return pool_key, 1, stream.json()


def test_the_seed_flow_pool_station_stream_push_pull(bp: httpx.Client) -> None:
    pool_key, station_id, stream = _setup(bp)
    assert set(stream) >= STREAM_ENTITY and stream["Id"] == stream["StreamKey"]
    assert (stream["LocalIndex"], stream["Name"], stream["Description"], stream["PoolKey"], stream["StreamLogsCount"],
            stream["FirstTimestamp"], stream["DataType"]) == ("ahu1.temp", "AHU1 Temp", "supply air", pool_key, 0,
                                                              None, "Double")
    key = stream["StreamKey"]
    pushed = bp.post(f"/public/v2/streams/{key}/logs", json=[
        {"Ts": "2026-11-24T13:00:00.000Z", "Val": 21.5, "ValStr": None, "Calculated": False},
        {"Ts": "2026-11-24T13:15:00.000Z", "Val": 22, "ValStr": None, "Calculated": False},
    ])
    assert pushed.status_code == 200, pushed.text
    seed_names = bp.post(f"/public/v2/streams/{key}/logs", json=[{"Timestamp": "2026-11-24T23:30:00+10:00",
                                                                  "Value": 23.0}])
    assert seed_names.status_code == 200
    pulled = bp.get(f"/public/v2/streams/{key}/logs", params={"from": "2026-11-24T00:00:00Z",
                                                             "to": "2026-11-25T00:00:00Z"})
    assert pulled.status_code == 200
    body = pulled.json()
    assert set(body) == {"Data", "Total"} and body["Total"] == 3
    assert all(set(row) == VALUE_ENTITY for row in body["Data"])
    assert [(r["Timestamp"], r["Value"]) for r in body["Data"]] == [
        ("2026-11-24T13:00:00.000Z", 21.5), ("2026-11-24T13:15:00.000Z", 22.0), ("2026-11-24T13:30:00.000Z", 23.0)]
    assert body["Data"][0]["StreamKey"] == key and body["Data"][0]["Calculated"] is False
    one = bp.get(f"/public/v2/streams/{key}").json()
    assert (one["StreamLogsCount"], one["FirstTimestamp"], one["LastTimestamp"], one["FirstValue"],
            one["LastValue"]) == (3, "2026-11-24T13:00:00.000Z", "2026-11-24T13:30:00.000Z", 21.5, 23.0)
    listed = bp.get(f"/public/v2/pools/{pool_key}/stations/{station_id}/streams").json()
    assert [s["StreamKey"] for s in listed] == [key] and listed[0]["StreamLogsCount"] == 3
    assert bp.get(f"/public/v2/pools/{pool_key}/stations").json() == [{"StationName": "Gateway 1", "StationID": 1}]
    assert pool_key in [p["PoolKey"] for p in bp.get("/public/v2/pools").json()]


def test_station_ids_count_up_within_a_pool(bp: httpx.Client) -> None:
    pool_key, _, _ = _setup(bp)
    assert bp.post(f"/public/v2/pools/{pool_key}/stations", json="Gateway 2").json() == {"StationID": 2}
    assert bp.post(f"/public/v2/pools/{pool_key}/stations", json={"StationName": "Gateway 3"}).json() == {
        "StationID": 3}
    assert [s["StationID"] for s in bp.get(f"/public/v2/pools/{pool_key}/stations").json()] == [1, 2, 3]


def test_bulk_push_and_raw_paging_with_value_filters(bp: httpx.Client) -> None:
    pool_key, _, first = _setup(bp)
    second = bp.post(f"/public/v2/pools/{pool_key}/stations/1/streams",
                     json={"LocalIndex": "ahu1.hum", "StreamName": "AHU1 Hum"}).json()
    values = [{"Ts": f"2026-11-20T00:{m:02d}:00Z", "Val": m, "ValStr": None, "Calculated": False} for m in range(10)]
    bulk = bp.post("/public/v2/streams/logs", json=[{"StreamKey": first["StreamKey"], "Values": values},
                                                    {"StreamKey": second["StreamKey"], "Values": values[:2]}])
    assert bulk.status_code == 200, bulk.text
    key = first["StreamKey"]
    page = bp.get(f"/public/v2/streams/{key}/logs", params={"take": 3, "skip": 2}).json()
    assert page["Total"] == 10 and [r["Value"] for r in page["Data"]] == [2, 3, 4]
    filtered = bp.get(f"/public/v2/streams/{key}/logs", params={"minValue": 3, "maxValue": 7, "take": 2, "skip": 1})
    assert filtered.json()["Total"] == 5 and [r["Value"] for r in filtered.json()["Data"]] == [4, 5]
    assert bp.get(f"/public/v2/streams/{second['StreamKey']}/logs").json()["Total"] == 2
    everything = bp.get(f"/public/v2/streams/{key}/logs", params={"take": 0}).json()
    assert len(everything["Data"]) == 10


def test_aggregated_pull_is_exact_before_the_rollup_job(bp: httpx.Client) -> None:
    _, _, stream = _setup(bp)
    key = stream["StreamKey"]
    meter = [(f"2026-11-20T0{h}:{m:02d}:00Z", 100 + h * 10 + m / 10) for h in range(3) for m in (0, 20, 40)]
    assert bp.post(f"/public/v2/streams/{key}/logs", json=[{"Ts": t, "Val": v} for t, v in meter]).status_code == 200
    params = {"data.from": "2026-11-20T00:00:00Z", "data.to": "2026-11-20T04:00:00Z", "data.aggregationPeriod": "1h"}

    def agg(kind: str, **extra: str) -> list[Any]:
        answer = bp.get(f"/public/v2/streams/{key}/logs/aggregated", params={**params, "data.aggregationType": kind,
                                                                           **extra})
        assert answer.status_code == 200, answer.text
        assert all(set(row) == {"StreamKey", "Timestamp", "Value"} and row["StreamKey"] == key for row in answer.json())
        return [(row["Timestamp"][11:16], row["Value"]) for row in answer.json()]

    assert agg("avg") == [("00:00", pytest.approx(102.0)), ("01:00", pytest.approx(112.0)),
                          ("02:00", pytest.approx(122.0))]
    assert agg("count") == [("00:00", 3), ("01:00", 3), ("02:00", 3)]
    assert agg("max") == [("00:00", 104.0), ("01:00", 114.0), ("02:00", 124.0)]
    assert agg("first") == [("00:00", 100.0), ("01:00", 110.0), ("02:00", 120.0)]
    assert agg("delta") == [("00:00", pytest.approx(4.0)), ("01:00", pytest.approx(10.0)),
                            ("02:00", pytest.approx(10.0))]
    assert agg("sum", **{"data.multiplier": "2"}) == [("00:00", pytest.approx(612.0)), ("01:00", pytest.approx(672.0)),
                                                      ("02:00", pytest.approx(732.0))]
    assert agg("count", **{"data.nullWhenNoData": "true"})[-1] == ("03:00", 0)
    assert agg("avg", **{"data.nullWhenNoData": "true"})[-1] == ("03:00", None)
    assert agg("last", **{"data.aggregationPeriod": "day"}) == [("00:00", 124.0)]
    sydney = agg("count", **{"data.aggregationPeriod": "1d", "data.timeZone": "Australia/Sydney"})
    assert sydney == [("13:00", 9)]


def test_v1_web_searches_find_pools_and_streams(bp: httpx.Client) -> None:
    pool_key, _, stream = _setup(bp)
    name = bp.get(f"/public/v2/pools/{pool_key}").json()["Name"]
    found = bp.get("/rest/BitPool_V1/pools/web-search", params={"search": name}).json()
    assert [p["PoolKey"] for p in found["Pools"]] == [pool_key] and found["Pools"][0]["Name"] == name
    streams = bp.get(f"/rest/BitPool_V1/pool/{pool_key}/streams/web-search").json()
    assert [s["StreamKey"] for s in streams["Streams"]] == [stream["StreamKey"]]
    assert streams["Streams"][0]["LocalIndex"] == "ahu1.temp"
    assert bp.get("/rest/BitPool_V1/pools/web-search", params={"search": "no such pool zz"}).json() == {"Pools": []}


def test_errors_are_message_and_errors(bp: httpx.Client) -> None:
    _, _, stream = _setup(bp)
    key = stream["StreamKey"]
    bad = bp.post(f"/public/v2/streams/{key}/logs", json=[{"Ts": "2026-11-20T00:00:00Z", "Val": 1},
                                                         {"Ts": "2026-11-20T00:01:00Z", "Val": "warm"}])
    assert bad.status_code == 400
    assert set(bad.json()) == {"Message", "Errors"} and list(bad.json()["Errors"]) == ["[1].Val"]
    missing_ts = bp.post(f"/public/v2/streams/{key}/logs", json=[{"Val": 1}])
    assert missing_ts.status_code == 400 and "[0].Ts" in missing_ts.json()["Errors"]
    assert bp.get(f"/public/v2/streams/{key}/logs").json()["Total"] == 0
    no_name = bp.post("/public/v2/pools", json={"Public": False})
    assert no_name.status_code == 400 and no_name.json()["Errors"] == {"Poolname": ["The Poolname field is required."]}
    unknown = bp.get(f"/public/v2/streams/{uuid.uuid4()}")
    assert unknown.status_code == 404 and set(unknown.json()) == {"Message", "Errors"}
    assert bp.get(f"/public/v2/pools/{uuid.uuid4()}/stations").status_code == 404
    bad_agg = bp.get(f"/public/v2/streams/{key}/logs/aggregated", params={"data.aggregationType": "median"})
    assert bad_agg.status_code == 400 and "data.aggregationType" in bad_agg.json()["Errors"]
    bad_period = bp.get(f"/public/v2/streams/{key}/logs/aggregated", params={"data.aggregationPeriod": "fortnight"})
    assert bad_period.status_code == 400 and "data.aggregationPeriod" in bad_period.json()["Errors"]
    bad_take = bp.get(f"/public/v2/streams/{key}/logs", params={"take": "many"})
    assert bad_take.status_code == 400 and "take" in bad_take.json()["Errors"]


def test_auth_is_bitpool2_only_and_foreign_keys_see_404(platform: Platform, bp: httpx.Client) -> None:
    pool_key, _, stream = _setup(bp)
    key = stream["StreamKey"]
    with httpx.Client(base_url=f"{platform.url}/bitpool", timeout=30) as raw:
        missing = raw.get("/public/v2/pools")
        assert missing.status_code == 401 and set(missing.json()) == {"Message", "Errors"}
        for header in (f"ApiKey {platform.key}", f"Bearer {platform.key}", "Bitpool2 wsk_unknown"):
            assert raw.get("/public/v2/pools", headers={"Authorization": header}).status_code == 401
        _, foreign = platform.create_org(f"bp-foreign-{uuid.uuid4().hex[:6]}")
        other = {"Authorization": f"Bitpool2 {foreign}"}
        assert raw.get(f"/public/v2/streams/{key}", headers=other).status_code == 404
        assert raw.get(f"/public/v2/streams/{key}/logs", headers=other).status_code == 404
        assert raw.post(f"/public/v2/streams/{key}/logs", headers=other,
                        json=[{"Ts": "2026-11-20T00:00:00Z", "Val": 1}]).status_code == 404
        assert raw.get(f"/public/v2/pools/{pool_key}/stations", headers=other).status_code == 404
        assert pool_key not in str(raw.get("/public/v2/pools", headers=other).json())
    with platform.client() as api:
        reader = api.post("/v1/keys", json={"name": "bp reader", "scopes": ["read"]}).json()["key"]
    with httpx.Client(base_url=f"{platform.url}/bitpool", headers={"Authorization": f"Bitpool2 {reader}"},
                      timeout=30) as read_only:
        assert read_only.get(f"/public/v2/streams/{key}").status_code == 200
        refused = read_only.post(f"/public/v2/streams/{key}/logs", json=[{"Ts": "2026-11-20T00:00:00Z", "Val": 1}])
        assert refused.status_code == 403 and set(refused.json()) == {"Message", "Errors"}


def test_bitpool_data_is_native_data_and_back(platform: Platform, bp: httpx.Client) -> None:
    pool_key, _, stream = _setup(bp)
    key = stream["StreamKey"]
    logs = [{"Ts": "2026-11-21T10:00:00Z", "Val": 5.5}, {"Ts": "2026-11-21T10:30:00Z", "Val": 6.5}]
    assert bp.post(f"/public/v2/streams/{key}/logs", json=logs).status_code == 200
    with platform.client() as api:
        native = api.get(f"/v1/streams/{key}/intervals").json()["data"]
        assert native == [{"timestamp": "2026-11-21T10:00:00.000Z", "value": 5.5},
                          {"timestamp": "2026-11-21T10:30:00.000Z", "value": 6.5}]
        hourly = api.get(f"/v1/streams/{key}/intervals", params={"period": "1h", "fn": "avg,count",
                                                                 "start": "2026-11-21T10:00:00Z"}).json()["data"]
        assert hourly[0]["avg"] == pytest.approx(6.0) and hourly[0]["count"] == 2
        station = api.get(f"/v1/pools/{pool_key}/stations", params={"key": "1"}).json()["data"][0]
        assert station["name"] == "Gateway 1"
        made = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "native", "type": "float",
                                                                       "alias": "native.one"}).json()
        api.post(f"/v1/streams/{made['id']}/intervals", json=[{"timestamp": "2026-11-21T11:00:00Z", "value": 1}])
    seen = bp.get(f"/public/v2/streams/{made['id']}").json()
    assert (seen["LocalIndex"], seen["StreamLogsCount"], seen["LastValue"]) == ("native.one", 1, 1.0)
    assert bp.get(f"/public/v2/streams/{made['id']}/logs").json()["Data"][0]["Value"] == 1.0


def test_string_streams_take_valstr(bp: httpx.Client) -> None:
    _, _, stream = _setup(bp, data_type="String")
    key = stream["StreamKey"]
    assert stream["DataType"] == "String"
    assert bp.post(f"/public/v2/streams/{key}/logs", json=[{"Ts": "2026-11-21T10:00:00Z", "Val": None,
                                                           "ValStr": "open"}]).status_code == 200
    row = bp.get(f"/public/v2/streams/{key}/logs").json()["Data"][0]
    assert (row["Value"], row["ValueString"]) == (None, "open")


def test_unknown_paths_and_methods_under_the_facade_answer_in_its_dialect(bp: httpx.Client) -> None:
    """One greedy proxy serves the facade in the cloud and locally: the facade answers its 404s."""
    for response in (bp.get("/public/v2/no-such-resource"), bp.delete("/public/v2/pools")):
        assert response.status_code == 404
        assert set(response.json()) == {"Message", "Errors"}
