"""iTwin IoT Sensor Data Service REST under /itwin/api over real HTTP (issue 24): the seed's examples
(integrate, upload 202 and 400, templates, metrics, listings, projects), its error shapes, ApiKey and
Bearer credentials, the uploaded observations through the native API, and another organisation
seeing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.integration.conftest import Platform

MISSING_INTEGRATION_ID = ("Minimum request parameters not provided, new Devices and Sensors must have a valid "
                          "`props.INTEGRATION_ID` set.")
INVALID_NODE = "Cannot process integration ensure the provided nodeId is valid."


def _generic(name: str, **extra: Any) -> dict[str, Any]:
    """A sensor of the seed's simple approach: two unknown metrics in millimeter."""
    return {"changeState": "new", **extra,
            "props": {"INTEGRATION_ID": "GENERIC_SENSOR_SDE", "NAME": name,
                      "UNKNOWN_UNITS": {"0": "millimeter", "1": "millimeter"},
                      "UNKNOWN_METRICS": {"0": "Alignment_Left_SD", "1": "Alignment_Right_SD"}}}


SIMPLE = {"integration": {"changeState": "new", "devices": [
    {"changeState": "new", "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE", "NAME": "Device-1"},
     "sensors": [_generic("Sensor-1"), _generic("Sensor-2")]}]}}


@pytest.fixture
def org(platform: Platform) -> tuple[str, str]:
    """A fresh organisation (org id, admin key): its default project starts empty."""
    return platform.create_org(f"itwin-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def it(platform: Platform, org: tuple[str, str]) -> Iterator[httpx.Client]:
    """An iTwin client: base URL changed, `Authorization: ApiKey <key>`."""
    with httpx.Client(base_url=f"{platform.url}/itwin/api", headers={"Authorization": f"ApiKey {org[1]}"},
                      timeout=30) as client:
        yield client


def _integrate(it: httpx.Client, body: dict[str, Any], project: str | None) -> dict[str, Any]:
    params = {"projectIds": project} if project else {}
    response = it.post("/integrations/integrate", params=params, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json()["integration"])


def test_simple_integration_makes_a_node_with_its_device_and_sensors(it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    got = _integrate(it, SIMPLE, project)
    node = got["node"]
    serial = node["props"]["SERIAL_NO"]
    assert node["id"] == f"/api/{serial}/node" and node["type"] == "DYNAMIC"
    assert set(node["props"]) == {"SERIAL_NO", "CREATION_DATE", "INTEGRATION_ID", "PROJECT_ID", "NAME"}
    assert (node["props"]["INTEGRATION_ID"], node["props"]["PROJECT_ID"], node["props"]["NAME"]) == (
        "NODE_API_SDE", project, f"Data Source API Import {serial}")
    [entry] = got["devices"]
    device = entry["device"]
    assert device["id"].startswith(f"{node['id']}/dynamic/") and device["id"].endswith("/device")
    assert set(device["props"]) == {"SIZE", "CREATION_DATE", "NODE_ID", "INTEGRATION_ID", "PROJECT_ID", "NAME"}
    assert (device["props"]["SIZE"], device["props"]["NODE_ID"], device["props"]["NAME"],
            device["props"]["INTEGRATION_ID"], device["type"]) == (2, node["id"], "Device-1", "IMPORT_DEVICE_SDE",
                                                                   "DYNAMIC")
    assert [s["props"]["NAME"] for s in entry["sensors"]] == ["Sensor-1", "Sensor-2"]
    for sensor in entry["sensors"]:
        assert sensor["id"].startswith(f"{device['id']}/") and sensor["id"].endswith("/sensor")
        assert (sensor["device"], sensor["type"], sensor["observationType"]) == (device["id"], "DYNAMIC", "DYNAMIC")
        props = sensor["props"]
        assert {"UNKNOWN_UNITS", "CREATION_DATE", "UNKNOWN_METRICS", "NODE_ID", "INTEGRATION_ID", "PROJECT_ID",
                "NAME"} <= set(props)
        assert props["UNKNOWN_METRICS"] == {"0": "Alignment_Left_SD", "1": "Alignment_Right_SD"}
        assert (props["NODE_ID"], props["PROJECT_ID"]) == (node["id"], project)
        assert "OBSERVATION_COUNT" not in props  # the seed's answer has none; the node's integration has
    assert node["props"]["CREATION_DATE"].endswith("Z")


def test_advanced_integration_adds_under_a_node_and_changes_by_ref_id(it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    node_id = _integrate(it, {"integration": {"changeState": "new"}}, project)["node"]["id"]
    location = {"type": "Point", "coordinates": [174.7805678, -41.27834066, 20]}
    body = {"integration": {"nodeId": node_id, "devices": [
        {"changeState": "new", "refId": "/api/13DC2F/node-test-device",
         "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE", "NAME": "Test Device", "LOCATION": location,
                   "NOTES": "Demo device"},
         "sensors": [_generic("Test Sensor", refId="/api/13DC2F/node-test-sensor")]}]}}
    body["integration"]["devices"][0]["sensors"][0]["props"].update({"SERIAL_NO": "1234", "NOTES": "Generic sensor"})
    got = _integrate(it, body, project)
    assert got["node"]["id"] == node_id
    [entry] = got["devices"]
    assert (entry["device"]["props"]["SERIAL_NO"], entry["device"]["props"]["LOCATION"],
            entry["device"]["props"]["NOTES"]) == ("/api/13DC2F/node-test-device", location, "Demo device")
    sensor = entry["sensors"][0]
    assert (sensor["props"]["SERIAL_NO"], sensor["props"]["NOTES"]) == ("/api/13DC2F/node-test-sensor",
                                                                        "Generic sensor")
    renamed = _integrate(it, {"integration": {"nodeId": node_id, "devices": [
        {"changeState": "update", "refId": "/api/13DC2F/node-test-device", "props": {"NAME": "Renamed"},
         "sensors": [{"changeState": "update", "refId": "/api/13DC2F/node-test-sensor",
                      "props": {"NOTES": "moved"}}]}]}}, project)
    assert renamed["devices"][0]["device"]["props"]["NAME"] == "Renamed"
    assert renamed["devices"][0]["device"]["props"]["LOCATION"] == location
    assert renamed["devices"][0]["sensors"][0]["props"]["NOTES"] == "moved"
    removed = _integrate(it, {"integration": {"nodeId": node_id, "devices": [
        {"changeState": "update", "id": entry["device"]["id"],
         "sensors": [{"changeState": "remove", "id": sensor["id"]}]}]}}, project)
    assert removed["devices"][0]["sensors"] == []
    gone = _integrate(it, {"integration": {"nodeId": node_id, "devices": [
        {"changeState": "remove", "refId": "/api/13DC2F/node-test-device"}]}}, project)
    assert gone["devices"] == []
    assert it.get("/devices/all", params={"projectIds": project}).json() == {"devices": []}


def test_integration_errors_are_the_seeds(it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    no_type = {"integration": {"changeState": "new", "devices": [{"changeState": "new", "props": {"NAME": "D"}}]}}
    bad = it.post("/integrations/integrate", params={"projectIds": project}, json=no_type)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidProcessIntegrationRequest"
    assert bad.json()["error"]["message"] == MISSING_INTEGRATION_ID
    unknown = it.post("/integrations/integrate", params={"projectIds": project},
                      json={"integration": {"nodeId": "/api/FFFFFF/node", "devices": []}})
    assert unknown.status_code == 422 and unknown.json()["error"] == {
        "code": "InvalidProcessIntegrationRequest", "message": INVALID_NODE, "target": "integration.nodeId"}
    no_state = it.post("/integrations/integrate", params={"projectIds": project}, json={"integration": {}})
    assert no_state.status_code == 422
    sensor_no_type = {"integration": {"changeState": "new", "devices": [
        {"changeState": "new", "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE"},
         "sensors": [{"changeState": "new", "props": {"NAME": "S"}}]}]}}
    refused = it.post("/integrations/integrate", params={"projectIds": project}, json=sensor_no_type)
    assert refused.status_code == 400 and refused.json()["error"]["message"] == MISSING_INTEGRATION_ID
    assert it.get("/nodes/all", params={"projectIds": project}).json() == {"nodes": []}  # nothing was made
    assert it.post("/integrations/integrate", content=b"{nope", headers={"Content-Type": "application/json"}
                   ).status_code == 400


def test_refused_integrations_change_nothing_and_ref_ids_stay_unique(it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    params = {"projectIds": project}
    node_id = _integrate(it, {"integration": {"changeState": "new"}}, project)["node"]["id"]

    def device(ref: str | None, **props: Any) -> dict[str, Any]:
        return {"changeState": "new", **({"refId": ref} if ref else {}),
                "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE", **props}}

    first = _integrate(it, {"integration": {"nodeId": node_id, "devices": [device("r1")]}}, project)
    half = it.post("/integrations/integrate", params=params, json={"integration": {"nodeId": node_id, "devices": [
        device("r2"), {"changeState": "new", "props": {"NAME": "no type"}}]}})
    assert half.status_code == 400 and half.json()["error"]["target"] == "integration.devices[1].props.INTEGRATION_ID"
    listed = it.get("/devices/all", params=params).json()["devices"]
    assert [d["id"] for d in listed] == [first["devices"][0]["device"]["id"]]
    for taken in ([device("r1")], [device("r3"), device("r3")]):
        dup = it.post("/integrations/integrate", params=params, json={"integration": {"nodeId": node_id,
                                                                                      "devices": taken}})
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "InvalidProcessIntegrationRequest"
    elsewhere = _integrate(it, {"integration": {"changeState": "new"}}, project)["node"]["id"]
    moved = it.post("/integrations/integrate", params=params, json={"integration": {"nodeId": elsewhere, "devices": [
        {"changeState": "update", "refId": "r1", "props": {"NAME": "stolen"}}]}})
    assert moved.status_code == 422
    _integrate(it, {"integration": {"nodeId": node_id, "devices": [{"changeState": "remove", "refId": "r1"}]}},
               project)
    again = _integrate(it, {"integration": {"nodeId": node_id, "devices": [device("r1", NAME="again")]}}, project)
    assert again["devices"][0]["device"]["props"]["NAME"] == "again"
    gone = _integrate(it, {"integration": {"nodeId": node_id, "changeState": "remove"}}, project)
    assert gone["node"]["id"] == node_id and gone["devices"] == []
    assert [n["id"] for n in it.get("/nodes/all", params=params).json()["nodes"]] == [elsewhere]
    assert it.get("/devices/all", params=params).json() == {"devices": []}


def test_upload_is_accepted_and_read_back_through_the_integration_and_native_api(
        platform: Platform, org: tuple[str, str], it: httpx.Client) -> None:
    got = _integrate(it, SIMPLE, None)
    node_id = got["node"]["id"]
    sensor_id = got["devices"][0]["sensors"][0]["id"]
    observations = [{"sensorId": sensor_id, "timestamp": "2024-02-20T04:35:23.653Z",
                     "values": {"Alignment_Left_SD": 0.23, "Alignment_Right_SD": 0.84}},
                    {"sensorId": sensor_id, "timestamp": "2024-02-20T04:36:23.653Z",
                     "values": {"Alignment_Left_SD": 0.25, "Alignment_Right_SD": 0.8}}]
    uploaded = it.post("/data/upload", json={"observations": observations})
    assert uploaded.status_code == 202 and uploaded.json() == {"status": "ACCEPTED"}
    literal = it.post(f"/integrations/{node_id}", content=b"")
    assert literal.status_code == 200, literal.text
    encoded = it.post(f"/integrations/{quote(node_id, safe='')}")
    assert encoded.status_code == 200 and encoded.json() == literal.json()
    sensor = literal.json()["integration"]["devices"][0]["sensors"][0]
    assert (sensor["id"], sensor["props"]["OBSERVATION_COUNT"], sensor["props"]["LAST_OBSERVATION"]) == (
        sensor_id, 2, "2024-02-20T04:36:23.653Z")
    with platform.client(org[1]) as api:
        pool = next(p for p in api.get("/v1/pools").json()["data"] if p.get("key") == "default")
        device = api.get(f"/v1/pools/{pool['id']}/stations", params={"key": got["devices"][0]["device"]["id"]})
        station = device.json()["data"][0]
        streams = {s["alias"]: s for s in api.get(f"/v1/stations/{station['id']}/streams").json()["data"]
                   if s["bucket"] == sensor_id.replace("/", ":")}
        assert set(streams) == {"Alignment_Left_SD", "Alignment_Right_SD"}
        assert streams["Alignment_Left_SD"]["unit"] == "millimeter"
        raw = api.get(f"/v1/streams/{streams['Alignment_Left_SD']['id']}/intervals").json()["data"]
        assert raw == [{"timestamp": "2024-02-20T04:35:23.653Z", "value": 0.23},
                       {"timestamp": "2024-02-20T04:36:23.653Z", "value": 0.25}]


def test_bad_uploads_are_400_errors_and_store_nothing(it: httpx.Client) -> None:
    sensor_id = _integrate(it, SIMPLE, None)["devices"][0]["sensors"][0]["id"]
    empty = it.post("/data/upload", json={"observations": []})
    assert empty.status_code == 400
    assert empty.json() == {"errors": [{"message": "must not be empty", "path": "observations"}]}
    assert it.post("/data/upload", json={}).json() == {"errors": [{"message": "must not be empty",
                                                                   "path": "observations"}]}
    bad = it.post("/data/upload", json={"observations": [
        {"sensorId": sensor_id, "timestamp": "2024-02-20T04:35:23.653Z", "values": {"Alignment_Left_SD": 1}},
        {"sensorId": sensor_id, "timestamp": "yesterday", "values": {"Alignment_Left_SD": 2}}]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "observations[1].timestamp"
    new_metric = it.post("/data/upload", json={"observations": [
        {"sensorId": sensor_id, "timestamp": 0, "values": {"Brand_New": 1.5}},
        {"sensorId": sensor_id, "timestamp": 1, "values": {"Brand_New": "not a number"}}]})
    assert new_metric.status_code == 400
    assert new_metric.json()["errors"][0]["path"] == "observations[1].values.Brand_New"
    unknown = it.post("/data/upload", json={"observations": [
        {"sensorId": "/api/000000/node/dynamic/000000/device/000000/sensor", "timestamp": 0, "values": {"a": 1}}]})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["path"] == "observations[0].sensorId"
    many = [{"sensorId": sensor_id, "timestamp": i, "values": {"Alignment_Left_SD": 1, "Alignment_Right_SD": 2}}
            for i in range(5001)]
    too_many = it.post("/data/upload", json={"observations": many})
    assert too_many.status_code == 413 and too_many.json()["errors"][0]["path"] == "observations[5000].values"
    no_values = it.post("/data/upload", json={"observations": [{"sensorId": sensor_id, "timestamp": 0}]})
    assert no_values.status_code == 400 and no_values.json()["errors"][0]["path"] == "observations[0].values"
    metrics = it.post("/sensors/metrics", json={"ids": [sensor_id]}).json()["metricsBySensor"][sensor_id]
    assert {m["id"] for m in metrics} == {"Alignment_Left_SD", "Alignment_Right_SD"}
    assert it.post(f"/integrations/{quote(_node_of(sensor_id), safe='')}").json()["integration"]["devices"][0][
        "sensors"][0]["props"]["OBSERVATION_COUNT"] == 0


def _node_of(sensor_id: str) -> str:
    return sensor_id.split("/dynamic/")[0]


def test_templates_and_metrics(it: httpx.Client) -> None:
    devices = it.get("/devices/types", params={"excludeLegacy": "true"})
    assert devices.status_code == 200
    assert {"id": "IMPORT_DEVICE_SDE", "name": "Import Device", "icon": "smicon-device-import", "iconUnicode": "",
            "manufacturer": "sensemetrics", "minThreadVersion": "1.0", "editOnly": False,
            "isDynamic": True} in devices.json()["deviceTypes"]
    sensors = it.get("/sensors/types", params={"excludeLegacy": "true"}).json()["sensorTypes"]
    generic = next(s for s in sensors if s["id"] == "GENERIC_SENSOR_SDE")
    assert generic["metricsAndUnits"] == [{"metric": "GENERIC", "id": "GENERIC", "displayName": "generic",
                                           "defaultUnit": "GENERIC", "units": [{"unit": "GENERIC", "id": "GENERIC"}]}]
    metrics = it.get("/metrics/types", params={"excludeLegacy": "true"}).json()
    assert metrics["standard"] is True
    temperature = next(m for m in metrics["metrics"] if m["id"] == "T")
    assert (temperature["displayName"], temperature["defaultUnit"]) == ("Temperature", "C")
    assert [(u["id"], u["displayName"], u["notation"]) for u in temperature["units"]] == [
        ("C", "celsius", "°C"), ("K", "kelvin", "°K"), ("F", "fahrenheit", "°F")]
    project = str(uuid.uuid4())
    known = {"integration": {"changeState": "new", "devices": [
        {"changeState": "new", "props": {"INTEGRATION_ID": "IMPORT_DEVICE_SDE"},
         "sensors": [{"changeState": "new", "props": {"NAME": "Known", "INTEGRATION_ID": "GENERIC_SENSOR_SDE",
                                                      "KNOWN_UNITS": {"0": "Hz", "1": "mm"},
                                                      "KNOWN_METRICS": {"0": "f", "1": "cum_distance"}}}]}]}}
    sensor_id = _integrate(it, known, project)["devices"][0]["sensors"][0]["id"]
    answer = it.post("/sensors/metrics", params={"projectIds": project}, json={"ids": [sensor_id]})
    assert answer.status_code == 200
    by_id = {m["id"]: m for m in answer.json()["metricsBySensor"][sensor_id]}
    assert (by_id["f"]["defaultUnit"], by_id["cum_distance"]["defaultUnit"]) == ("Hz", "mm")
    assert {"defaultUnit", "hidden", "displayName", "notation", "name", "id", "units"} == set(by_id["f"])
    generic_id = _integrate(it, SIMPLE, project)["devices"][0]["sensors"][0]["id"]
    left = it.post("/sensors/metrics", params={"projectIds": project}, json={"ids": [generic_id]}).json()
    assert left["metricsBySensor"][generic_id][0] == {
        "defaultUnit": "millimeter", "hidden": False, "displayName": "Alignment_Left_SD",
        "notation": "Alignment_Left_SD", "name": "Alignment_Left_SD", "id": "Alignment_Left_SD",
        "units": [{"notation": "millimeter", "name": "millimeter", "id": "millimeter"}]}
    missing = it.post("/sensors/metrics", json={"ids": []})
    assert missing.status_code == 400 and missing.json()["errors"][0]["path"] == "ids"


def test_listings_and_projects(it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    first = _integrate(it, SIMPLE, project)
    second = _integrate(it, SIMPLE, project)
    nodes = it.get("/nodes/all", params={"projectIds": project}).json()["nodes"]
    assert [n["id"] for n in nodes] == [first["node"]["id"], second["node"]["id"]]
    assert all(n["props"]["PROJECT_ID"] == project and n["type"] == "DYNAMIC" for n in nodes)
    devices = it.get("/devices/all", params={"projectIds": project}).json()["devices"]
    assert [d["props"]["NODE_ID"] for d in devices] == [first["node"]["id"], second["node"]["id"]]
    sensors = it.get("/sensors/all", params={"projectIds": project, "pageSize": 100}).json()["sensors"]
    assert len(sensors) == 4 and all(s["device"] in {d["id"] for d in devices} for s in sensors)
    page = it.get("/sensors/all", params={"projectIds": project, "pageSize": 3}).json()["sensors"]
    assert [s["id"] for s in page] == [s["id"] for s in sensors[:3]]
    bad_size = it.get("/sensors/all", params={"pageSize": "lots"})
    assert bad_size.status_code == 400 and bad_size.json()["errors"][0]["path"] == "pageSize"
    two = it.get("/nodes/all", params={"projectIds": f"{project},other"})
    assert two.status_code == 400 and two.json()["errors"][0]["path"] == "projectIds"
    assert it.get("/nodes/all").json() == {"nodes": []}  # the default project is another one
    got = it.get(f"/projects/{project}")
    assert got.status_code == 200 and got.json()["id"] == project
    assert it.delete(f"/projects/{project}").status_code == 204
    assert it.get(f"/projects/{project}").status_code == 404
    unknown = it.get("/nodes/all", params={"projectIds": project})
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["path"] == "projectIds"


def test_credentials_apikey_and_bearer_others_are_401(platform: Platform, org: tuple[str, str]) -> None:
    url = f"{platform.url}/itwin/api"
    missing = httpx.get(f"{url}/nodes/all", timeout=30)
    assert missing.status_code == 401
    assert [e["path"] for e in missing.json()["errors"]] == ["Authorization"]
    for header in (f"Bitpool2 {org[1]}", "ApiKey wsk_unknown", "Bearer not.a.jwt"):
        refused = httpx.get(f"{url}/nodes/all", headers={"Authorization": header}, timeout=30)
        assert refused.status_code == 401 and refused.json()["errors"][0]["path"] == "Authorization"
    with platform.client(org[1]) as api:
        app = api.post("/v1/clients", json={"name": "itwin app", "grants": ["client_credentials"],
                                            "scopes": ["admin"]}).json()
    token = httpx.post(f"{platform.url}/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": app["clientId"], "client_secret": app["clientSecret"]},
        timeout=30).json()["access_token"]
    with platform.client(org[1]) as api:
        reader = api.post("/v1/keys", json={"name": "itwin reader", "scopes": ["read"]}).json()["key"]
    with httpx.Client(base_url=url, headers={"Authorization": f"ApiKey {reader}"}, timeout=30) as read_only:
        assert read_only.get("/sensors/all").status_code == 200
        for refused in (read_only.post("/data/upload", json={"observations": []}),
                        read_only.post("/integrations/integrate", json=SIMPLE)):
            assert refused.status_code == 403 and set(refused.json()) == {"errors"}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as bearer:
        made = bearer.post("/integrations/integrate", json=SIMPLE)
        assert made.status_code == 200, made.text
        assert [n["id"] for n in bearer.get("/nodes/all").json()["nodes"]] == [made.json()["integration"]["node"]["id"]]


def test_another_organisation_sees_none_of_it(platform: Platform, it: httpx.Client) -> None:
    project = str(uuid.uuid4())
    got = _integrate(it, SIMPLE, project)
    node_id, sensor_id = got["node"]["id"], got["devices"][0]["sensors"][0]["id"]
    assert it.post("/data/upload", json={"observations": [
        {"sensorId": sensor_id, "timestamp": "2024-02-20T04:35:23.653Z", "values": {"Alignment_Left_SD": 1}}]}
                   ).status_code == 202
    _, foreign = platform.create_org(f"itwin-foreign-{uuid.uuid4().hex[:6]}")
    with httpx.Client(base_url=f"{platform.url}/itwin/api", headers={"Authorization": f"ApiKey {foreign}"},
                      timeout=30) as other:
        for path in ("/nodes/all", "/devices/all", "/sensors/all"):
            assert other.get(path, params={"projectIds": project}).status_code == 404
            assert sensor_id not in other.get(path).text
        assert other.get(f"/projects/{project}").status_code == 404
        assert other.delete(f"/projects/{project}").status_code == 404
        assert other.post(f"/integrations/{quote(node_id, safe='')}", params={"projectIds": project}
                          ).status_code == 404
        assert other.post(f"/integrations/{quote(node_id, safe='')}").status_code == 422
        assert other.post("/sensors/metrics", json={"ids": [sensor_id]}).status_code == 404
        upload = other.post("/data/upload", json={"observations": [
            {"sensorId": sensor_id, "timestamp": "2024-02-20T05:00:00Z", "values": {"Alignment_Left_SD": 9}}]})
        assert upload.status_code == 404
        devices = other.post("/integrations/integrate", json={"integration": {"nodeId": node_id, "devices": []}})
        assert devices.status_code == 422
    tree = it.post(f"/integrations/{quote(node_id, safe='')}", params={"projectIds": project}).json()
    assert tree["integration"]["devices"][0]["sensors"][0]["props"]["OBSERVATION_COUNT"] == 1


def test_unknown_paths_under_the_facade_answer_in_its_dialect(it: httpx.Client) -> None:
    for response in (it.get("/no-such-resource"), it.put("/data/upload", json={})):
        assert response.status_code == 404
        assert set(response.json()) == {"errors"}
