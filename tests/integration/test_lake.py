"""The lake through the local runtime: pushes in, drain, then every accepted interval in S3 exactly once."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.integration.conftest import Platform
from watershed import config

BEFORE_MIDNIGHT = "2025-11-23T23:59:59.250Z"
AFTER_MIDNIGHT = "2025-11-24T00:00:00.750Z"


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _station_with_streams(api: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    pool = api.post("/v1/pools", json={"name": "lake site"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "lake station"}).json()
    temp = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "temp", "type": "float"}).json()
    note = api.post(f"/v1/stations/{station['id']}/streams", json={"name": "note", "type": "string"}).json()
    return station, temp, note


def lake_rows(platform: Platform, org: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (object key, row) of the organisation's lake, read through the runtime's S3 door."""
    base = f"{platform.url}/_local/s3/{config.LAKE_BUCKET}"
    listing = httpx.get(base, params={"prefix": f"org={org}/"}, timeout=30)
    assert listing.status_code == 200, listing.text
    found = []
    for item in listing.json()["keys"]:
        body = httpx.get(f"{base}/{item['key']}", timeout=30)
        assert body.status_code == 200, body.text
        found.extend((item["key"], json.loads(line)) for line in gzip.decompress(body.content).splitlines())
    return found


def test_every_accepted_interval_reaches_the_lake_once_in_its_partition(
    platform: Platform, api: httpx.Client
) -> None:
    station, temp, note = _station_with_streams(api)
    pushed = api.post(f"/v1/streams/{temp['id']}/intervals", json=[
        {"timestamp": BEFORE_MIDNIGHT, "value": 21.5},
        {"timestamp": AFTER_MIDNIGHT, "value": 22},
        {"timestamp": "2025-11-24T06:00:00Z", "value": -3.25},
    ])
    assert pushed.status_code == 200, pushed.text
    many = api.post("/v1/intervals", json=[
        {"stream": note["id"], "timestamp": AFTER_MIDNIGHT, "value": "door open"},
        {"stream": temp["id"], "timestamp": "2025-11-24T07:00:00Z", "value": 23.0},
    ])
    assert many.status_code == 200, many.text
    resent = api.post(f"/v1/streams/{temp['id']}/intervals", json=[{"timestamp": BEFORE_MIDNIGHT, "value": 21.5}])
    assert resent.status_code == 200
    rejected = api.post(f"/v1/streams/{temp['id']}/intervals", json=[
        {"timestamp": "2025-11-20T10:00:00Z", "value": 1.0},
        {"timestamp": "2025-11-20T11:00:00Z", "value": "not a number"},
    ])
    assert rejected.status_code == 400
    platform.drain()

    mine = [(key, row) for key, row in lake_rows(platform, platform.org) if row["station"] == station["id"]]
    seen = Counter((row["stream"], row["ts"], row["op"]) for _, row in mine)
    expected = {
        (temp["id"], _ms(BEFORE_MIDNIGHT), "put"), (temp["id"], _ms(AFTER_MIDNIGHT), "put"),
        (temp["id"], _ms("2025-11-24T06:00:00Z"), "put"), (temp["id"], _ms("2025-11-24T07:00:00Z"), "put"),
        (note["id"], _ms(AFTER_MIDNIGHT), "put"),
    }
    assert set(seen) == expected
    assert all(count == 1 for count in seen.values()), seen
    for key, row in mine:
        day = datetime.fromtimestamp(row["ts"] / 1000, tz=UTC).strftime("%Y-%m-%d")
        assert key.startswith(f"org={platform.org}/date={day}/"), key
        assert row["org"] == platform.org and row["pool"] == station["pool"]
        assert isinstance(row["at"], int)
    values = {(row["stream"], row["ts"]): row["value"] for _, row in mine}
    assert values[(temp["id"], _ms(BEFORE_MIDNIGHT))] == 21.5
    assert values[(note["id"], _ms(AFTER_MIDNIGHT))] == "door open"
    assert not any(row["ts"] >= _ms("2025-11-20T00:00:00Z") and row["ts"] < _ms("2025-11-21T00:00:00Z")
                   for _, row in mine)


def test_deleting_a_range_is_recorded_as_delete_rows(platform: Platform, api: httpx.Client) -> None:
    _, temp, _ = _station_with_streams(api)
    api.post(f"/v1/streams/{temp['id']}/intervals", json=[
        {"timestamp": "2025-10-01T00:00:00Z", "value": 1.0}, {"timestamp": "2025-10-01T00:01:00Z", "value": 2.0},
    ]).raise_for_status()
    platform.drain()
    deleted = api.delete(f"/v1/streams/{temp['id']}/intervals",
                         params={"start": "2025-10-01T00:00:00Z", "end": "2025-10-01T00:00:30Z"})
    assert deleted.json() == {"deleted": 1}
    platform.drain()
    ops = sorted((row["ts"], row["op"]) for _, row in lake_rows(platform, platform.org)
                 if row["stream"] == temp["id"])
    assert ops == [(_ms("2025-10-01T00:00:00Z"), "delete"), (_ms("2025-10-01T00:00:00Z"), "put"),
                   (_ms("2025-10-01T00:01:00Z"), "put")]


def test_mqtt_intervals_reach_the_lake_and_refused_items_do_not(platform: Platform, api: httpx.Client) -> None:
    from tests.e2e.test_mqtt import Device, count_at_least, eventually

    pool = api.post("/v1/pools", json={"name": "lake mqtt"}).json()
    station = api.post(f"/v1/pools/{pool['id']}/stations", json={"name": "gateway"}).json()
    password = api.post(f"/v1/stations/{station['id']}/secret").json()["password"]
    stream = api.post(f"/v1/stations/{station['id']}/streams",
                      json={"name": "temperature", "type": "float", "alias": "temp", "bucket": "sensors"}).json()
    device = Device(platform, f"thing:{station['id']}", station["id"], password)
    assert device.connect() == 0
    try:
        device.publish(f"things/{station['id']}/data/sensors", [
            {"id": "temp", "value": "warm", "timestamp": _ms(BEFORE_MIDNIGHT)},
            {"id": "temp", "value": 7.0, "timestamp": _ms(AFTER_MIDNIGHT)},
        ])
        assert eventually(count_at_least(api, stream["id"], 1))
    finally:
        device.close()
    platform.drain()
    mine = [(key, row) for key, row in lake_rows(platform, platform.org) if row["stream"] == stream["id"]]
    assert [(row["ts"], row["value"], row["op"]) for _, row in mine] == [(_ms(AFTER_MIDNIGHT), 7.0, "put")]
    assert mine[0][0].startswith(f"org={platform.org}/date=2025-11-24/")
