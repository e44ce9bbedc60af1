"""The iTwin entity service on the core model (moto): mapping, look-ups, uploads, isolation."""

from __future__ import annotations

import pytest

from watershed.errors import Conflict, NotFound, ValidationError
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.services import itwin
from watershed.store import intervals
from watershed.timefmt import format_time

ORG = Principal("org-1", frozenset({"admin"}))
OTHER = Principal("org-2", frozenset({"admin"}))


@pytest.fixture
def sensor(aws: None) -> str:
    itwin.create_node(ORG, "/node/1", {"NAME": "Node 1"}, "p1")
    itwin.create_device(ORG, "/device/1", "/node/1", {}, "p1")
    itwin.create_sensor(ORG, "/sensor/1", "/device/1", "GENERIC", {"UNKNOWN_METRICS": []}, "p1")
    return "/sensor/1"


def test_entities_keep_seed_ids_and_project(sensor: str) -> None:
    got = itwin.get_sensor(ORG, sensor, "p1")
    assert got == {"id": "/sensor/1", "type": "GENERIC",
                   "props": {"UNKNOWN_METRICS": [], "DEVICE_ID": "/device/1", "NAME": ":sensor:1",
                             "PROJECT_ID": "p1"}}
    pool = itwin.project(ORG, "p1", create=False)
    device = cat.find_station_by_key(ORG, pool["id"], "/device/1")
    assert device is not None and device["props"]["NODE_ID"] == "/node/1"


def test_duplicates_and_missing_parents_are_errors(sensor: str) -> None:
    with pytest.raises(Conflict):
        itwin.create_node(ORG, "/node/1", {}, "p1")
    with pytest.raises(Conflict):
        itwin.create_sensor(ORG, sensor, "/device/1", "GENERIC", {}, "p1")
    with pytest.raises(NotFound):
        itwin.create_device(ORG, "/device/2", "/node/9", {}, "p1")


def test_upload_writes_each_metric_and_summary_reads_interval_timestamp(sensor: str) -> None:
    stored = itwin.upload(ORG, [{"sensorId": sensor, "timestamp": "2024-01-01T00:00:00Z",
                                 "values": {"temp": 20.5, "hum": 40}}], "p1")
    assert stored == 2
    assert itwin.sensor_metrics(ORG, sensor, "p1") == ["hum", "temp"]
    stream = itwin.add_metric(ORG, sensor, "temp", project_id="p1")
    assert [p.value for p in intervals.query_range(stream["id"], 0, 2**62)] == [20.5]
    props = itwin.observation_props(stream, 0, 1_800_000_000_000)
    assert props == {"OBSERVATION_COUNT": 1, "LAST_OBSERVATION": format_time(1_704_067_200_000)}


def test_bad_uploads_name_the_path_and_store_nothing(sensor: str) -> None:
    with pytest.raises(ValidationError) as empty:
        itwin.upload(ORG, [], "p1")
    assert (empty.value.message, empty.value.field) == ("must not be empty", "observations")
    with pytest.raises(ValidationError) as bad:
        itwin.upload(ORG, [{"sensorId": sensor, "timestamp": "2024-01-01T00:00:00Z", "values": {"t": 1}},
                           {"sensorId": sensor, "timestamp": "nope", "values": {"t": 2}}], "p1")
    assert bad.value.field == "observations[1].timestamp"
    stream = itwin.add_metric(ORG, sensor, "t", project_id="p1")
    assert intervals.query_range(stream["id"], 0, 2**62) == []


def test_another_org_sees_no_sensor(sensor: str) -> None:
    with pytest.raises(NotFound):
        itwin.get_sensor(OTHER, sensor, "p1")
    with pytest.raises(NotFound):
        itwin.upload(OTHER, [{"sensorId": sensor, "timestamp": 0, "values": {"t": 1}}], "p1")
