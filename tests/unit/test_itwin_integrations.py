"""iTwin integrations on the core model (moto): metric declarations, all-or-nothing changes,
template metrics, uploads found by sensor id alone, listings per project."""

from __future__ import annotations

from typing import Any

import pytest

from watershed.errors import NotFound, ValidationError
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.services import itwin

ORG = Principal("org-1", frozenset({"admin"}))
OTHER = Principal("org-2", frozenset({"admin"}))


def _device(*sensors: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"changeState": "new", "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE", **props}, "sensors": list(sensors)}


def _sensor(integration_id: str = "GENERIC_SENSOR_SDE", **props: Any) -> dict[str, Any]:
    return {"changeState": "new", "props": {"INTEGRATION_ID": integration_id, **props}}


def test_declared_metrics_pair_units_by_index_and_default_known_units() -> None:
    props = {"UNKNOWN_METRICS": {"1": "right", "0": "left", "10": "tenth"}, "UNKNOWN_UNITS": {"0": "mm", "1": "cm"},
             "KNOWN_METRICS": {"2": "T"}}
    assert itwin.declared_metrics(props, "p") == [("left", "mm"), ("right", "cm"), ("T", "C"), ("tenth", None)]
    with pytest.raises(ValidationError) as bad:
        itwin.declared_metrics({"UNKNOWN_METRICS": ["a"]}, "p")
    assert bad.value.field == "p.UNKNOWN_METRICS"


def test_a_refused_integration_makes_nothing(aws: None) -> None:
    body = {"integration": {"changeState": "new", "devices": [_device(_sensor()), _device(_sensor("NOPE"))]}}
    with pytest.raises(ValidationError) as refused:
        itwin.integrate(ORG, body, "p1")
    assert refused.value.field == "integration.devices[1].sensors[0].props.INTEGRATION_ID"
    pool = itwin.project(ORG, "p1", create=False)
    assert list(cat.list_stations(ORG, pool["id"], None)) == []


def test_template_sensor_gets_its_metrics_and_uploads_find_it_by_id(aws: None) -> None:
    tree = itwin.integrate(ORG, {"integration": {"changeState": "new", "devices": [
        _device(_sensor("TEMPERATURE_SDE", NAME="t"))]}}, "p1")
    sensor_id = tree["devices"][0]["sensors"][0]["id"]
    assert itwin.sensor_metrics(ORG, sensor_id, "p1") == ["T"]
    assert itwin.upload(ORG, [{"sensorId": sensor_id, "timestamp": 0, "values": {"T": 21.5}}]) == 1
    with pytest.raises(NotFound):
        itwin.upload(ORG, [{"sensorId": sensor_id, "timestamp": 0, "values": {"T": 1}}], "p2-absent")
    with pytest.raises(NotFound):
        itwin.upload(OTHER, [{"sensorId": sensor_id, "timestamp": 0, "values": {"T": 1}}])
    [listed] = itwin.list_entities(ORG, "sensor", "p1", 10)
    assert (listed["props"]["OBSERVATION_COUNT"], listed["props"]["NAME"]) == (1, "t")
    assert "ITWIN_REF" not in listed["props"] and listed["props"]["DEVICE_ID"] == tree["devices"][0]["device"]["id"]
    assert itwin.list_entities(ORG, "sensor", None, 10) == []
    assert itwin.list_entities(OTHER, "node", None, 10) == []


def test_client_props_cannot_set_the_services_own(aws: None) -> None:
    tree = itwin.integrate(ORG, {"integration": {"changeState": "new", "devices": [
        _device(_sensor(ITWIN_KIND="node", DEVICE_ID="/x", NAME="s"), NODE_ID="/elsewhere")]}}, "p1")
    device = tree["devices"][0]["device"]
    assert device["props"]["NODE_ID"] == tree["node"]["id"]
    sensor = tree["devices"][0]["sensors"][0]
    assert sensor["props"]["DEVICE_ID"] == device["id"]
    assert itwin.get_sensor(ORG, sensor["id"], "p1")["props"]["NAME"] == "s"


def test_metric_ids_are_checked_before_anything_is_made(aws: None) -> None:
    bad = _sensor(UNKNOWN_METRICS={"0": "ok", "1": "not ok"}, UNKNOWN_UNITS={"1": "mm"})
    with pytest.raises(ValidationError) as refused:
        itwin.integrate(ORG, {"integration": {"changeState": "new", "devices": [_device(bad)]}}, "p1")
    assert refused.value.field == "integration.devices[0].sensors[0].props.UNKNOWN_METRICS.1"
    assert itwin.list_entities(ORG, "node", "p1", 10) == []
    sensor_id = itwin.integrate(ORG, {"integration": {"changeState": "new", "devices": [_device(_sensor())]}},
                                "p1")["devices"][0]["sensors"][0]["id"]
    with pytest.raises(ValidationError) as upload:
        itwin.upload(ORG, [{"sensorId": sensor_id, "timestamp": 0, "values": {"a b": 1}}])
    assert upload.value.field == "observations[0].values.a b"
    assert itwin.sensor_metrics(ORG, sensor_id, "p1") == []
