"""iTwin IoT (sensemetrics) entities on the core model, shared by the REST and JSON-RPC faces.

Mapping: project = pool (key = project id, `DEFAULT_PROJECT` when a call names none); node and
device = stations keyed by the seed's ids (`/node/1`, `/device/1`), a device's node in its
props as `NODE_ID`; sensor = bucket at its device (bucket name = sensor id with `/` as `:`, since
bucket names hold no slash), its `type` and props in the bucket's props; metric = stream in that
bucket (alias = metric id); an observation = intervals of several metrics at one timestamp.
A sensor id is found by one GetItem on a lookup item, so an upload naming only `sensorId`
never lists devices. Entities leave this module only through `entity_from_doc`.
"""

from __future__ import annotations

from typing import Any

from watershed.errors import Conflict, NotFound, ValidationError
from watershed.model import Interval, Principal, StreamType
from watershed.services import catalog as cat
from watershed.services import counts, ingest, natural
from watershed.store import catalog as store
from watershed.timefmt import format_time, parse_time

DEFAULT_PROJECT = "default"
KINDS = ("node", "device", "sensor")


def bucket_name(sensor_id: str) -> str:
    """The bucket holding a sensor (reversible: seed ids hold no `:`)."""
    return sensor_id.replace("/", ":")


def _sensor_lookup(pool_id: str, sensor_id: str) -> str:
    return f"itwin-sensor#{pool_id}#{sensor_id}"


def project(principal: Principal, project_id: str | None, create: bool = True) -> dict[str, Any]:
    """The pool of a project (the default project when `project_id` is None)."""
    return natural.pool(principal, project_id or DEFAULT_PROJECT, create)


def entity_from_doc(kind: str, doc: dict[str, Any], project_id: str) -> dict[str, Any]:
    """The seed's entity shape `{id, type?, props}` of a station (node, device) or bucket (sensor)."""
    props = dict(doc.get("props") or {})
    entity_id = props.pop("ITWIN_ID", doc.get("key") or doc.get("name"))
    entity_type = props.pop("ITWIN_TYPE", None)
    props.pop("ITWIN_KIND", None)
    props.setdefault("NAME", doc.get("name") or entity_id)
    props["PROJECT_ID"] = project_id
    out: dict[str, Any] = {"id": entity_id, "props": props}
    if kind == "sensor":
        out["type"] = entity_type
    return out


def _station(principal: Principal, pool_doc: dict[str, Any], kind: str, entity_id: str,
             props: dict[str, Any]) -> dict[str, Any]:
    if cat.find_station_by_key(principal, pool_doc["id"], entity_id) is not None:
        raise Conflict(f"{kind} {entity_id} exists", "id")
    body = {"name": str(props.get("NAME") or entity_id), "key": entity_id,
            "props": {**props, "ITWIN_KIND": kind, "ITWIN_ID": entity_id}}
    return cat.create_station(principal, pool_doc["id"], body)


def _find(principal: Principal, pool_doc: dict[str, Any], kind: str, entity_id: str) -> dict[str, Any]:
    doc = cat.find_station_by_key(principal, pool_doc["id"], entity_id)
    if doc is None or (doc.get("props") or {}).get("ITWIN_KIND") != kind:
        raise NotFound(f"{kind} {entity_id} not found", "id")
    return doc


def create_node(principal: Principal, node_id: str, props: dict[str, Any],
                project_id: str | None = None) -> dict[str, Any]:
    """A new node; Conflict when it exists."""
    pool_doc = project(principal, project_id)
    return entity_from_doc("node", _station(principal, pool_doc, "node", node_id, props), pool_doc["key"])


def create_device(principal: Principal, device_id: str, node_id: str, props: dict[str, Any],
                  project_id: str | None = None) -> dict[str, Any]:
    """A new device under an existing node (recorded as `NODE_ID`)."""
    pool_doc = project(principal, project_id)
    _find(principal, pool_doc, "node", node_id)
    doc = _station(principal, pool_doc, "device", device_id, {**props, "NODE_ID": node_id})
    return entity_from_doc("device", doc, pool_doc["key"])


def create_sensor(principal: Principal, sensor_id: str, device_id: str, sensor_type: str,
                  props: dict[str, Any], project_id: str | None = None) -> dict[str, Any]:
    """A new sensor (bucket) at an existing device, findable by id alone."""
    pool_doc = project(principal, project_id)
    device = _find(principal, pool_doc, "device", device_id)
    name = bucket_name(sensor_id)
    if not store.create_guard(_sensor_lookup(pool_doc["id"], sensor_id), principal.org,
                              {"station": device["id"], "bucket": name, "org": principal.org}):
        raise Conflict(f"sensor {sensor_id} exists", "id")
    body = {"name": name, "props": {**props, "DEVICE_ID": device_id, "ITWIN_ID": sensor_id,
                                    "ITWIN_TYPE": sensor_type, "ITWIN_KIND": "sensor"}}
    return entity_from_doc("sensor", cat.create_bucket(principal, device["id"], body), pool_doc["key"])


def _sensor(principal: Principal, pool_doc: dict[str, Any], sensor_id: str, field: str) -> dict[str, Any]:
    """A sensor's bucket doc: one GetItem on the lookup, one on the bucket."""
    found = store.get_lookup(_sensor_lookup(pool_doc["id"], sensor_id))
    if found is None or found.get("org") != principal.org:
        raise NotFound(f"sensor {sensor_id} not found", field)
    return cat.get_bucket(principal, found["station"], found["bucket"], field)


def get_sensor(principal: Principal, sensor_id: str, project_id: str | None = None) -> dict[str, Any]:
    pool_doc = project(principal, project_id, create=False)
    return entity_from_doc("sensor", _sensor(principal, pool_doc, sensor_id, "id"), pool_doc["key"])


def _sensor_home(principal: Principal, pool_doc: dict[str, Any],
                 sensor_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sensor's device station and bucket docs, which its metrics' streams are created in."""
    bucket = _sensor(principal, pool_doc, sensor_id, "sensorId")
    return cat.get_station(principal, bucket["station"]), bucket


def _metric_stream(home: tuple[dict[str, Any], dict[str, Any]], metric: str,
                   unit: str | None = None) -> dict[str, Any]:
    station, bucket = home
    extra = {"unit": unit} if unit else {}
    return natural.stream(station, metric, StreamType.FLOAT.value, extra, bucket=bucket["name"])


def add_metric(principal: Principal, sensor_id: str, metric: str, unit: str | None = None,
               project_id: str | None = None) -> dict[str, Any]:
    """The metric's stream in the sensor's bucket (created as float when new)."""
    pool_doc = project(principal, project_id, create=False)
    return _metric_stream(_sensor_home(principal, pool_doc, sensor_id), metric, unit)


def sensor_metrics(principal: Principal, sensor_id: str, project_id: str | None = None) -> list[str]:
    """The metric ids of a sensor (one Query over its device's streams)."""
    pool_doc = project(principal, project_id, create=False)
    bucket = _sensor(principal, pool_doc, sensor_id, "sensorId")
    return sorted(doc["alias"] for doc in cat.bucket_streams(bucket["station"], bucket["name"]))


def upload(principal: Principal, observations: Any, project_id: str | None = None) -> int:
    """Store `[{sensorId, timestamp, values: {metric: value}}]`; no interval is written before every
    item is checked, but the streams of unknown metrics are created while checking. Each sensor
    is resolved once per upload. Returns how many (metric, timestamp) pairs were stored."""
    if not isinstance(observations, list) or not observations:
        raise ValidationError("must not be empty", "observations")
    pool_doc = project(principal, project_id)
    homes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    batches: dict[str, tuple[Any, list[Interval]]] = {}
    for i, item in enumerate(observations):
        field = f"observations[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("sensorId"), str):
            raise ValidationError("sensorId is required", f"{field}.sensorId")
        values = item.get("values")
        if not isinstance(values, dict) or not values:
            raise ValidationError("must not be empty", f"{field}.values")
        ts = parse_time(item.get("timestamp"), f"{field}.timestamp")
        for metric, value in values.items():
            key = f"{item['sensorId']}\n{metric}"
            if key not in batches:
                if item["sensorId"] not in homes:
                    homes[item["sensorId"]] = _sensor_home(principal, pool_doc, item["sensorId"])
                doc = _metric_stream(homes[item["sensorId"]], metric)
                batches[key] = (cat.stream_from_doc(doc), [])
            stream, points = batches[key]
            points.append(Interval(ts, ingest.check_value(stream.type, value, f"{field}.values.{metric}")))
    return ingest.write_many(list(batches.values()))


def observation_props(stream_doc: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """`OBSERVATION_COUNT` and `LAST_OBSERVATION` of one metric from the counts' summary."""
    summary = counts.summary(cat.stream_from_doc(stream_doc), start, end)
    last = summary.last.timestamp if summary.last is not None else None
    return {"OBSERVATION_COUNT": summary.count,
            "LAST_OBSERVATION": format_time(last) if last is not None else None}
