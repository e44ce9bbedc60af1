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

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from watershed import validation as v
from watershed.errors import Conflict, NotFound, PayloadTooLarge, ValidationError, WatershedError
from watershed.model import Interval, Principal, StreamType
from watershed.services import cascade, counts, ingest, natural
from watershed.services import catalog as cat
from watershed.store import catalog as store
from watershed.store import intervals
from watershed.timefmt import DAY_MS, format_time, now_ms, parse_time

DEFAULT_PROJECT = "default"
KINDS = ("node", "device", "sensor")


def bucket_name(sensor_id: str) -> str:
    """The bucket holding a sensor (reversible: seed ids hold no `:`)."""
    return sensor_id.replace("/", ":")


def _sensor_lookup(org: str, sensor_id: str) -> str:
    """Per organisation, not per project: an upload names a sensor by its id alone (no projectIds)."""
    return f"itwin-sensor#{org}#{sensor_id}"


def project(principal: Principal, project_id: str | None, create: bool = True) -> dict[str, Any]:
    """The pool of a project (the default project when `project_id` is None)."""
    return natural.pool(principal, project_id or DEFAULT_PROJECT, create)


def entity_from_doc(kind: str, doc: dict[str, Any], project_id: str) -> dict[str, Any]:
    """The seed's entity shape `{id, type?, props}` of a station (node, device) or bucket (sensor)."""
    props = dict(doc.get("props") or {})
    entity_id = props.pop("ITWIN_ID", doc.get("key") or doc.get("name"))
    entity_type = props.pop("ITWIN_TYPE", None)
    for name in [k for k in props if k.startswith("ITWIN_")]:
        del props[name]
    props.setdefault("NAME", doc.get("name") or entity_id)
    props["PROJECT_ID"] = project_id
    out: dict[str, Any] = {"id": entity_id, "props": props}
    if kind == "sensor" or entity_type is not None:
        out["type"] = entity_type
    return out


def _station(principal: Principal, pool_doc: dict[str, Any], kind: str, entity_id: str,
             props: dict[str, Any], entity_type: str | None = None) -> dict[str, Any]:
    if cat.find_station_by_key(principal, pool_doc["id"], entity_id) is not None:
        raise Conflict(f"{kind} {entity_id} exists", "id")
    typed = {"ITWIN_TYPE": entity_type} if entity_type else {}
    body = {"name": str(props.get("NAME") or entity_id), "key": entity_id,
            "props": {**props, **typed, "ITWIN_KIND": kind, "ITWIN_ID": entity_id}}
    return cat.create_station(principal, pool_doc["id"], body)


def _find(principal: Principal, pool_doc: dict[str, Any], kind: str, entity_id: str) -> dict[str, Any]:
    doc = cat.find_station_by_key(principal, pool_doc["id"], entity_id)
    if doc is None or (doc.get("props") or {}).get("ITWIN_KIND") != kind:
        raise NotFound(f"{kind} {entity_id} not found", "id")
    return doc


def create_node(principal: Principal, node_id: str, props: dict[str, Any],
                project_id: str | None = None, entity_type: str | None = None) -> dict[str, Any]:
    """A new node; Conflict when it exists."""
    pool_doc = project(principal, project_id)
    doc = _station(principal, pool_doc, "node", node_id, props, entity_type)
    return entity_from_doc("node", doc, pool_doc["key"])


def create_device(principal: Principal, device_id: str, node_id: str, props: dict[str, Any],
                  project_id: str | None = None, entity_type: str | None = None) -> dict[str, Any]:
    """A new device under an existing node (recorded as `NODE_ID`)."""
    pool_doc = project(principal, project_id)
    _find(principal, pool_doc, "node", node_id)
    doc = _station(principal, pool_doc, "device", device_id, {**props, "NODE_ID": node_id}, entity_type)
    return entity_from_doc("device", doc, pool_doc["key"])


def _sensor_bucket(principal: Principal, pool_doc: dict[str, Any], device: dict[str, Any], sensor_id: str,
                   sensor_type: str, props: dict[str, Any]) -> dict[str, Any]:
    """The bucket of a new sensor at a device station already checked, and its look-up."""
    name = bucket_name(sensor_id)
    lookup = _sensor_lookup(principal.org, sensor_id)
    target = {"station": device["id"], "bucket": name, "org": principal.org, "pool": pool_doc["id"]}
    if not store.create_guard(lookup, principal.org, target):
        # a bucket deleted through another door (or a create that failed after its look-up)
        # leaves the look-up behind: the id is free again when it names no bucket
        try:
            _sensor(principal, None, sensor_id, "id")
        except NotFound:
            store.put_lookup(lookup, principal.org, target)
        else:
            raise Conflict(f"sensor {sensor_id} exists", "id")
    body = {"name": name, "props": {**props, "DEVICE_ID": device["key"], "ITWIN_ID": sensor_id,
                                    "ITWIN_TYPE": sensor_type, "ITWIN_KIND": "sensor"}}
    return cat.create_bucket(principal, device["id"], body)


def create_sensor(principal: Principal, sensor_id: str, device_id: str, sensor_type: str,
                  props: dict[str, Any], project_id: str | None = None) -> dict[str, Any]:
    """A new sensor (bucket) at an existing device, findable by id alone."""
    pool_doc = project(principal, project_id)
    device = _find(principal, pool_doc, "device", device_id)
    doc = _sensor_bucket(principal, pool_doc, device, sensor_id, sensor_type, props)
    return entity_from_doc("sensor", doc, pool_doc["key"])


def _sensor(principal: Principal, pool_doc: dict[str, Any] | None, sensor_id: str, field: str) -> dict[str, Any]:
    """A sensor's bucket doc (in the project `pool_doc` when given): one GetItem on the lookup, one
    on the bucket."""
    found = store.get_lookup(_sensor_lookup(principal.org, sensor_id))
    if (found is None or found.get("org") != principal.org
            or (pool_doc is not None and found.get("pool") != pool_doc["id"])):
        raise NotFound(f"sensor {sensor_id} not found", field)
    return cat.get_bucket(principal, found["station"], found["bucket"], field)


def get_sensor(principal: Principal, sensor_id: str, project_id: str | None = None) -> dict[str, Any]:
    pool_doc = project(principal, project_id, create=False)
    return entity_from_doc("sensor", _sensor(principal, pool_doc, sensor_id, "id"), pool_doc["key"])


def _sensor_home(principal: Principal, pool_doc: dict[str, Any] | None, sensor_id: str,
                 field: str = "sensorId") -> tuple[dict[str, Any], dict[str, Any]]:
    """A sensor's device station and bucket docs, which its metrics' streams are created in."""
    bucket = _sensor(principal, pool_doc, sensor_id, field)
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


def existing_project(principal: Principal, project_id: str | None) -> dict[str, Any] | None:
    """The pool of a named project (NotFound at `projectIds` when absent), or of the default
    project, None when the organisation has none yet (nothing was made in it)."""
    found = cat.find_pool_by_key(principal, project_id or DEFAULT_PROJECT)
    if found is None and project_id:
        raise NotFound(f"project {project_id} not found", "projectIds")
    return found


def upload(principal: Principal, observations: Any, project_id: str | None = None) -> int:
    """Store `[{sensorId, timestamp, values: {metric: value}}]`. Every item is checked before
    anything is written, the streams of new metrics (float) included, so a refused upload changes
    nothing. Each sensor is resolved once per upload, in any project of the organisation unless
    `project_id` names one (the REST upload names none). Returns how many (metric, timestamp)
    pairs were stored."""
    if not isinstance(observations, list) or not observations:
        raise ValidationError("must not be empty", "observations")
    ingest.check_items(observations, "observations")
    pool_doc = existing_project(principal, project_id) if project_id else None
    homes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    metrics: dict[tuple[str, str], dict[str, Any] | None] = {}
    points: dict[tuple[str, str], list[Interval]] = {}
    total = 0
    for i, item in enumerate(observations):
        field = f"observations[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("sensorId"), str):
            raise ValidationError("sensorId is required", f"{field}.sensorId")
        sensor_id = item["sensorId"]
        values = item.get("values")
        if not isinstance(values, dict) or not values:
            raise ValidationError("must not be empty", f"{field}.values")
        total += len(values)
        if total > ingest.MAX_ITEMS:
            raise PayloadTooLarge(f"at most {ingest.MAX_ITEMS} metric values per upload", f"{field}.values")
        ts = parse_time(item.get("timestamp"), f"{field}.timestamp")
        if sensor_id not in homes:
            homes[sensor_id] = _sensor_home(principal, pool_doc, sensor_id, f"{field}.sensorId")
        for metric, value in values.items():
            metric_id(metric, f"{field}.values.{metric[:128]}")
            key = (sensor_id, metric)
            if key not in metrics:
                station, bucket = homes[sensor_id]
                metrics[key] = cat.find_stream_by_alias(station["id"], bucket["name"], metric)
            found = metrics[key]
            stream_type = StreamType(found["type"]) if found else StreamType.FLOAT
            points.setdefault(key, []).append(
                Interval(ts, ingest.check_value(stream_type, value, f"{field}.values.{metric}")))
    batches = [(cat.stream_from_doc(metrics[key] or _metric_stream(homes[key[0]], key[1])), items)
               for key, items in points.items()]
    return ingest.write_many(batches)


def observation_props(stream_doc: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """`OBSERVATION_COUNT` and `LAST_OBSERVATION` of one metric: the counts (rollups) and one Query
    for the last interval's timestamp."""
    stream = cat.stream_from_doc(stream_doc)
    last = intervals.query_range(stream.id, start, end - 1, descending=True, limit=1)
    return {"OBSERVATION_COUNT": counts.count(stream, start, end),
            "LAST_OBSERVATION": format_time(last[0].timestamp) if last else None}


# The Sensor Data Service's templates: device and sensor types, the standard metrics and units


def _metric(metric_id: str, display: str, default: str, units: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {"metric": metric_id, "id": metric_id, "displayName": display, "defaultUnit": default,
            "units": [{"unit": u, "id": u, "displayName": name, "notation": notation} for u, name, notation in units]}


METRIC_TYPES: tuple[dict[str, Any], ...] = (
    _metric("T", "Temperature", "C", [("C", "celsius", "°C"), ("K", "kelvin", "°K"), ("F", "fahrenheit", "°F")]),
    _metric("P_raw", "Raw pressure", "Pa", [("Pa", "pascal", "Pa"), ("kPa", "kilopascal", "kPa")]),
    _metric("f", "Frequency", "Hz", [("Hz", "hertz", "Hz")]),
    _metric("cum_distance", "Cumulative distance", "mm", [("mm", "millimeter", "mm"), ("m", "meter", "m")]),
)
"""The standard (KNOWN_*) metrics this service names; any other metric id is an UNKNOWN one."""
DEVICE_TYPES: tuple[dict[str, Any], ...] = (
    {"id": "IMPORT_DEVICE_SDE", "name": "Import Device", "icon": "smicon-device-import", "iconUnicode": "",
     "manufacturer": "sensemetrics", "minThreadVersion": "1.0", "editOnly": False, "isDynamic": True},
)
SENSOR_TYPES: tuple[dict[str, Any], ...] = (
    {"id": "GENERIC_SENSOR_SDE", "name": "GENERIC_SENSOR_SDE", "icon": "smicon-circle", "iconUnicode": "",
     "metricsAndUnits": [{"metric": "GENERIC", "id": "GENERIC", "displayName": "generic", "defaultUnit": "GENERIC",
                          "units": [{"unit": "GENERIC", "id": "GENERIC"}]}], "isDynamic": True},
    {"id": "TEMPERATURE_SDE", "name": "Temperature", "icon": "smicon-temperature", "iconUnicode": "",
     "metricsAndUnits": [dict(METRIC_TYPES[0])], "isDynamic": True},
)
GENERIC_SENSOR = "GENERIC_SENSOR_SDE"
NODE_INTEGRATION = "NODE_API_SDE"
DYNAMIC = "DYNAMIC"
MISSING_INTEGRATION_ID = ("Minimum request parameters not provided, new Devices and Sensors must have a valid "
                          "`props.INTEGRATION_ID` set.")
INVALID_NODE = "Cannot process integration ensure the provided nodeId is valid."
CHANGE_STATES = ("new", "update", "remove")
OWN_PROPS = frozenset({"NODE_ID", "DEVICE_ID", "PROJECT_ID"})
"""Props this service sets (with every `ITWIN_*` one); a request's values for them are ignored."""
MAX_REF_ID = 256


class IntegrationRefused(WatershedError):
    """An integration the service cannot process (the seed's 422)."""

    status = 422
    code = "unprocessable"


def known_metric(metric_id: str) -> dict[str, Any] | None:
    return next((m for m in METRIC_TYPES if m["id"] == metric_id), None)


def declared_metrics(props: dict[str, Any], field: str) -> list[tuple[str, str | None]]:
    """A sensor's metrics and units from its KNOWN_/UNKNOWN_ METRICS and UNITS (maps index -> id),
    in index order; a known metric without a unit takes its default unit."""
    maps: dict[str, dict[str, Any]] = {}
    for name in ("KNOWN_METRICS", "UNKNOWN_METRICS", "KNOWN_UNITS", "UNKNOWN_UNITS"):
        value = props.get(name, {})
        if not isinstance(value, dict) or not all(isinstance(x, str) and x for x in value.values()):
            raise ValidationError("must be an object of index to non-empty string", f"{field}.{name}")
        maps[name] = value
    units = {**maps["KNOWN_UNITS"], **maps["UNKNOWN_UNITS"]}
    metrics = {**maps["KNOWN_METRICS"], **maps["UNKNOWN_METRICS"]}
    out: list[tuple[str, str | None]] = []
    for index in sorted(metrics, key=_index_order):
        metric = metric_id(metrics[index], f"{field}.{'UNKNOWN' if index in maps['UNKNOWN_METRICS'] else 'KNOWN'}"
                                           f"_METRICS.{index}")
        known = known_metric(metric)
        unit = units.get(index) or (known["defaultUnit"] if known else None)
        out.append((metric, v.opt_text(unit, f"{field}.UNITS.{index}", v.UNIT_MAX)))
    return out


def _index_order(index: str) -> tuple[bool, int, str]:
    """"0", "1", ..., "10" in numeric order, any other key after them."""
    numeric = index.isascii() and index.isdigit() and len(index) <= 9
    return (not numeric, int(index) if numeric else 0, index)


def metric_id(value: Any, field: str) -> str:
    """A metric id is its stream's alias, so it takes the alias's characters."""
    try:
        return v.alias(value, field)
    except ValidationError:
        raise ValidationError("a metric id is 1 to 128 of a-z A-Z 0-9 - _ : @ . /", field) from None


# integrations: a node with its devices and sensors, made, changed and removed in one request


@dataclass
class _Change:
    """One entity change of an integration, checked before any is made."""

    kind: str
    state: str
    field: str
    props: dict[str, Any]
    ref: str | None = None
    doc: dict[str, Any] | None = None
    """The existing station (device) or bucket (sensor) an update or remove acts on."""


def _hex_id() -> str:
    return secrets.token_hex(3).upper()


def _ref_lookup(pool_id: str, ref_id: str) -> str:
    return f"itwin-ref#{pool_id}#{ref_id}"


def _state(spec: dict[str, Any], field: str) -> str:
    state = spec.get("changeState") or ("update" if spec.get("id") else "new")
    if state not in CHANGE_STATES:
        raise ValidationError(f"changeState must be one of {', '.join(CHANGE_STATES)}", f"{field}.changeState")
    return str(state)


def _spec_props(spec: dict[str, Any], field: str) -> dict[str, Any]:
    """A request's props without the ones this service keeps (`ITWIN_*`, the parents, the project)."""
    props = spec.get("props", {})
    if not isinstance(props, dict):
        raise ValidationError("must be an object", f"{field}.props")
    return {k: val for k, val in props.items() if not k.startswith("ITWIN_") and k not in OWN_PROPS}


def _ref_id(spec: dict[str, Any], field: str) -> str | None:
    ref = spec.get("refId")
    if ref is None:
        return None
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_ID:
        raise ValidationError(f"refId must be a string of 1 to {MAX_REF_ID} characters", f"{field}.refId")
    return ref


def _target_id(principal: Principal, pool_doc: dict[str, Any], spec: dict[str, Any], kind: str, field: str) -> str:
    """The id of the entity an update or remove names, by `id` or by `refId`."""
    if isinstance(spec.get("id"), str):
        return str(spec["id"])
    ref = _ref_id(spec, field)
    found = store.get_lookup(_ref_lookup(pool_doc["id"], ref)) if ref else None
    if found is None or found.get("org") != principal.org or found.get("kind") != kind:
        raise IntegrationRefused(f"no {kind} with this id or refId", f"{field}.refId" if ref else f"{field}.id")
    return str(found["id"])


def _change(principal: Principal, pool_doc: dict[str, Any], spec: Any, kind: str, field: str, now: str,
            parent: _Change | None, refs: set[str]) -> _Change:
    if not isinstance(spec, dict):
        raise ValidationError("must be an object", field)
    state, props = _state(spec, field), _spec_props(spec, field)
    if kind == "sensor":
        declared_metrics(props, f"{field}.props")
    ref = _ref_id(spec, field)
    if state == "new":
        types = DEVICE_TYPES if kind == "device" else SENSOR_TYPES
        if props.get("INTEGRATION_ID") not in {t["id"] for t in types}:
            raise ValidationError(MISSING_INTEGRATION_ID, f"{field}.props.INTEGRATION_ID")
        if ref is not None:
            if ref in refs or store.get_lookup(_ref_lookup(pool_doc["id"], ref)) is not None:
                raise Conflict(f"refId {ref} is taken by another entity", f"{field}.refId")
            refs.add(ref)
            props["SERIAL_NO"] = ref
        return _Change(kind, state, field, {**props, "CREATION_DATE": now}, ref)
    entity_id = _target_id(principal, pool_doc, spec, kind, field)
    if kind == "device":
        doc = _find(principal, pool_doc, "device", entity_id)
        if parent is not None and (doc.get("props") or {}).get("NODE_ID") != parent.props.get("NODE_ID"):
            raise IntegrationRefused(f"device {entity_id} is not in this node", f"{field}.id")
    else:
        doc = _sensor(principal, pool_doc, entity_id, f"{field}.id")
        if parent is None or parent.doc is None or doc["station"] != parent.doc["id"]:
            raise IntegrationRefused(f"sensor {entity_id} is not at this device", f"{field}.id")
    return _Change(kind, state, field, props, ref, doc)


def _plan(principal: Principal, pool_doc: dict[str, Any], spec: dict[str, Any], node_id: str | None,
          now: str) -> list[tuple[_Change, list[_Change]]]:
    """Every change an integration asks for, each checked (types, targets, refIds, props) before any
    is made, so a refused integration changes nothing."""
    devices = spec.get("devices", [])
    if not isinstance(devices, list):
        raise ValidationError("must be an array", "integration.devices")
    node = _Change("node", "update", "integration", {"NODE_ID": node_id})
    refs: set[str] = set()
    plan: list[tuple[_Change, list[_Change]]] = []
    for i, device_spec in enumerate(devices):
        at = f"integration.devices[{i}]"
        device = _change(principal, pool_doc, device_spec, "device", at, now, node, refs)
        sensors = device_spec.get("sensors", []) if device.state != "remove" else []
        if not isinstance(sensors, list):
            raise ValidationError("must be an array", f"{at}.sensors")
        plan.append((device, [_change(principal, pool_doc, s, "sensor", f"{at}.sensors[{j}]", now, device, refs)
                              for j, s in enumerate(sensors)]))
    return plan


def _forget_refs(pool_doc: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """A removed entity's refId may name a new one."""
    refs = [str((doc.get("props") or {}).get("ITWIN_REF")) for doc in docs if (doc.get("props") or {}).get("ITWIN_REF")]
    if refs:
        store.delete_items([(_ref_lookup(pool_doc["id"], ref), store.GUARD) for ref in refs])


def _claim_ref(principal: Principal, pool_doc: dict[str, Any], change: _Change, entity_id: str) -> dict[str, Any]:
    """The refId's look-up (taken meanwhile: Conflict); the props that record it."""
    if change.ref is None:
        return {}
    if not store.create_guard(_ref_lookup(pool_doc["id"], change.ref), principal.org,
                              {"kind": change.kind, "id": entity_id, "org": principal.org}):
        raise Conflict(f"refId {change.ref} is taken by another entity", f"{change.field}.refId")
    return {"ITWIN_REF": change.ref}


def _new_sensor(principal: Principal, pool_doc: dict[str, Any], device_doc: dict[str, Any], node_id: str,
                change: _Change) -> None:
    device_id = str(device_doc["key"])
    sensor_id = f"{device_id}/{_hex_id()}/sensor"
    extra = _claim_ref(principal, pool_doc, change, sensor_id)
    bucket = _sensor_bucket(principal, pool_doc, device_doc, sensor_id, DYNAMIC,
                            {**change.props, **extra, "NODE_ID": node_id})
    metrics = declared_metrics(change.props, f"{change.field}.props")
    template = next((t for t in SENSOR_TYPES if t["id"] == change.props.get("INTEGRATION_ID")), None)
    if not metrics and template is not None and template["id"] != GENERIC_SENSOR:
        metrics = [(m["id"], m["defaultUnit"]) for m in template["metricsAndUnits"]]
    for metric, unit in dict(metrics).items():  # a new bucket holds no stream yet: no alias look-up
        cat.create_stream_in(device_doc, {"name": metric, "alias": metric, "type": StreamType.FLOAT.value,
                                          "bucket": bucket["name"], **({"unit": unit} if unit else {})})


def _apply_sensor(principal: Principal, pool_doc: dict[str, Any], device_doc: dict[str, Any], node_id: str,
                  change: _Change) -> None:
    if change.state == "new":
        _new_sensor(principal, pool_doc, device_doc, node_id, change)
        return
    assert change.doc is not None
    bucket = change.doc
    if change.state == "remove":
        cascade.delete_bucket(principal, bucket["station"], bucket["name"])
        _forget_refs(pool_doc, [bucket])
        return
    updated = cat.update_bucket(principal, bucket["station"], bucket["name"], {"props": change.props})
    for metric, unit in declared_metrics(change.props, f"{change.field}.props"):
        _metric_stream((device_doc, updated), metric, unit)


def integrate(principal: Principal, body: Any, project_id: str | None = None) -> dict[str, Any]:
    """`{integration: {nodeId?, changeState?, props?, devices: [{changeState, id|refId, props, sensors}]}}`:
    a new node (no `nodeId`, `changeState: new`) or changes under an existing one. Answers the node
    and every device the request named (not removed) with all of its sensors, without counts (as
    the seed's answer)."""
    if not isinstance(body, dict) or not isinstance(body.get("integration"), dict):
        raise ValidationError("must be an object", "integration")
    spec = body["integration"]
    pool_doc = project(principal, project_id)
    now = format_time(now_ms())
    node_id = spec.get("nodeId")
    node_props = _spec_props(spec, "integration")
    node_doc: dict[str, Any] | None = None
    if node_id is not None:
        node_doc = cat.find_station_by_key(principal, pool_doc["id"], node_id) if isinstance(node_id, str) else None
        if node_doc is None or (node_doc.get("props") or {}).get("ITWIN_KIND") != "node":
            raise IntegrationRefused(INVALID_NODE, "integration.nodeId")
    elif spec.get("changeState") != "new":
        raise IntegrationRefused(INVALID_NODE, "integration.nodeId")
    if node_doc is not None and spec.get("changeState") == "remove":
        remove_node(principal, node_doc["key"], pool_doc["key"])
        return {"node": entity_from_doc("node", node_doc, pool_doc["key"]), "devices": []}
    plan = _plan(principal, pool_doc, spec, node_id, now)
    if node_doc is None:
        serial = _hex_id()
        node_id = f"/api/{serial}/node"
        node_doc = _station(principal, pool_doc, "node", node_id,
                            {"SERIAL_NO": serial, "CREATION_DATE": now, "INTEGRATION_ID": NODE_INTEGRATION,
                             "NAME": f"Data Source API Import {serial}", **node_props}, DYNAMIC)
    elif node_props:
        node_doc = _update_station(principal, node_doc, node_props)
    node_id = str(node_doc["key"])
    touched: dict[str, dict[str, Any]] = {}
    for device, sensors in plan:
        if device.state == "remove":
            assert device.doc is not None
            _remove_device(principal, pool_doc, device.doc)
            touched.pop(device.doc["id"], None)
            continue
        if device.state == "new":
            device_id = f"{node_id}/dynamic/{_hex_id()}/device"
            extra = _claim_ref(principal, pool_doc, device, device_id)
            device_doc = _station(principal, pool_doc, "device", device_id,
                                  {**device.props, **extra, "NODE_ID": node_id}, DYNAMIC)
        else:
            assert device.doc is not None
            device_doc = _update_station(principal, device.doc, device.props) if device.props else device.doc
        for sensor in sensors:
            _apply_sensor(principal, pool_doc, device_doc, node_id, sensor)
        touched[device_doc["id"]] = device_doc
    return {"node": entity_from_doc("node", node_doc, pool_doc["key"]),
            "devices": [_device_tree(principal, pool_doc, doc) for doc in touched.values()]}


def _update_station(principal: Principal, doc: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """Overwrites the given props (a null removes one); `NAME` renames the station too."""
    body: dict[str, Any] = {"props": props}
    if isinstance(props.get("NAME"), str) and props["NAME"]:
        body["name"] = props["NAME"]
    return cat.update_station(principal, doc["id"], body)


def _remove_device(principal: Principal, pool_doc: dict[str, Any], device_doc: dict[str, Any]) -> None:
    """A device with its sensors and their data; their refIds are free again."""
    sensors = _sensor_docs(principal, device_doc)
    cascade.delete_station(principal, device_doc["id"])
    _forget_refs(pool_doc, [device_doc, *sensors])


def remove_node(principal: Principal, node_id: str, project_id: str | None = None) -> None:
    """A node, its devices and their sensors and data."""
    pool_doc = project(principal, project_id, create=False)
    node = _find(principal, pool_doc, "node", node_id)
    for device in _stations(principal, pool_doc, "device"):
        if (device.get("props") or {}).get("NODE_ID") == node_id:
            _remove_device(principal, pool_doc, device)
    cascade.delete_station(principal, node["id"])


def _stations(principal: Principal, pool_doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in cat.list_stations(principal, pool_doc["id"], None)
            if (doc.get("props") or {}).get("ITWIN_KIND") == kind]


def _sensor_docs(principal: Principal, device_doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [doc for _, doc in cat.list_buckets(principal, device_doc["id"], None)
            if (doc.get("props") or {}).get("ITWIN_KIND") == "sensor"]


COUNT_THREADS = 16
"""Metrics counted at once for a listing: each count is a few small Queries, so a page of 100
sensors is I/O-bound and its wall time is that of the slowest few, not the sum."""


Sensor = tuple[dict[str, Any], list[dict[str, Any]]]
"""A sensor entity and its metrics' stream docs."""


def _device_sensors(principal: Principal, device_doc: dict[str, Any], project_key: str,
                    with_streams: bool = True) -> list[Sensor]:
    """A device's sensors: one Query for the buckets and, `with_streams`, one for the streams."""
    sensors = [entity_from_doc("sensor", bucket, project_key) for bucket in _sensor_docs(principal, device_doc)]
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    if with_streams and sensors:
        for _, doc in store.children("station", device_doc["id"], "stream"):
            by_bucket.setdefault(str(doc.get("bucket") or ""), []).append(doc)
    return [(entity, by_bucket.get(bucket_name(entity["id"]), [])) for entity in sensors]


def _counted(sensors: list[Sensor]) -> list[dict[str, Any]]:
    """The sensors with `OBSERVATION_COUNT` (timestamps of the busiest metric) and `LAST_OBSERVATION`
    from the counts of their metrics' streams, counted concurrently."""
    end = now_ms() + 2 * DAY_MS
    jobs = [(i, doc) for i, (_, streams) in enumerate(sensors) for doc in streams]
    by_sensor: dict[int, list[dict[str, Any]]] = {}
    if jobs:
        with ThreadPoolExecutor(max_workers=min(COUNT_THREADS, len(jobs))) as pool:
            for i, props in pool.map(lambda job: (job[0], observation_props(job[1], 0, end)), jobs):
                by_sensor.setdefault(i, []).append(props)
    for i, (entity, _) in enumerate(sensors):
        metrics = by_sensor.get(i)
        if metrics:
            entity["props"]["OBSERVATION_COUNT"] = max(p["OBSERVATION_COUNT"] for p in metrics)
            entity["props"]["LAST_OBSERVATION"] = max(
                (p["LAST_OBSERVATION"] for p in metrics if p["LAST_OBSERVATION"]), default=None)
    return [entity for entity, _ in sensors]


def _device_entity(device_doc: dict[str, Any], project_key: str, size: int) -> dict[str, Any]:
    device = entity_from_doc("device", device_doc, project_key)
    device["props"]["SIZE"] = size
    return device


def _device_tree(principal: Principal, pool_doc: dict[str, Any], device_doc: dict[str, Any]) -> dict[str, Any]:
    """A device with its sensors, without counts."""
    sensors = [entity for entity, _ in _device_sensors(principal, device_doc, pool_doc["key"], with_streams=False)]
    return {"device": _device_entity(device_doc, pool_doc["key"], len(sensors)), "sensors": sensors}


def node_integration(principal: Principal, node_id: str, project_id: str | None = None) -> dict[str, Any]:
    """A node with all its devices and their sensors, with their counts."""
    pool_doc = existing_project(principal, project_id)
    if pool_doc is None:
        raise IntegrationRefused(INVALID_NODE, "nodeId")
    try:
        node = _find(principal, pool_doc, "node", node_id)
    except NotFound:
        raise IntegrationRefused(INVALID_NODE, "nodeId") from None
    devices = [d for d in _stations(principal, pool_doc, "device") if (d.get("props") or {}).get("NODE_ID") == node_id]
    per_device = [_device_sensors(principal, d, pool_doc["key"]) for d in devices]
    counted = iter(_counted([sensor for sensors in per_device for sensor in sensors]))
    trees = [{"device": _device_entity(d, pool_doc["key"], len(sensors)),
              "sensors": [next(counted) for _ in sensors]} for d, sensors in zip(devices, per_device, strict=True)]
    return {"node": entity_from_doc("node", node, pool_doc["key"]), "devices": trees}


def list_entities(principal: Principal, kind: str, project_id: str | None, limit: int) -> list[dict[str, Any]]:
    """The project's nodes, devices or sensors in creation order, at most `limit`."""
    pool_doc = existing_project(principal, project_id)
    if pool_doc is None:
        return []
    if kind != "sensor":
        return [entity_from_doc(kind, doc, pool_doc["key"]) for doc in _stations(principal, pool_doc, kind)[:limit]]
    out: list[Sensor] = []
    for device in _stations(principal, pool_doc, "device"):
        if len(out) >= limit:
            break
        out.extend(_device_sensors(principal, device, pool_doc["key"]))
    return _counted(out[:limit])


def metrics_by_sensor(principal: Principal, sensor_ids: Any, project_id: str | None) -> dict[str, list[Any]]:
    """Each sensor's metrics as (metric id, unit) from its streams (one Query per sensor)."""
    if not isinstance(sensor_ids, list) or not sensor_ids:
        raise ValidationError("must not be empty", "ids")
    pool_doc = existing_project(principal, project_id) if project_id else None
    out: dict[str, list[Any]] = {}
    for i, sensor_id in enumerate(sensor_ids):
        if not isinstance(sensor_id, str):
            raise ValidationError("must be a sensor id", f"ids[{i}]")
        bucket = _sensor(principal, pool_doc, sensor_id, f"ids[{i}]")
        out[sensor_id] = [(doc["alias"], doc.get("unit")) for doc in cat.bucket_streams(bucket["station"],
                                                                                         bucket["name"])]
    return out


def get_project(principal: Principal, project_id: str) -> dict[str, Any]:
    found = cat.find_pool_by_key(principal, project_id)
    if found is None:
        raise NotFound(f"project {project_id} not found", "projectId")
    return found


def delete_project(principal: Principal, project_id: str) -> None:
    """The project's pool and everything in it."""
    cascade.delete_pool(principal, get_project(principal, project_id)["id"])
