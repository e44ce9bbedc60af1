"""iTwin IoT entities as the JSON-RPC face asks for them (issue 24), on services/itwin.py.

get{Nodes,Devices,Sensors} filter the project's entities by ids, types and parents; create*
follow the seed (a device names its node in `props.NODE_ID`, a sensor's device is its id up to
`/device`); update* overwrite the given props (a null removes one). Props this service sets
(`ITWIN_*`, NODE_ID, DEVICE_ID, PROJECT_ID) cannot be written by a client.
"""

from __future__ import annotations

from typing import Any

from watershed.errors import NotFound, ValidationError
from watershed.model import Principal
from watershed.services import catalog as cat
from watershed.services import itwin

PLURAL = {"node": "nodes", "device": "devices", "sensor": "sensors"}
MAX_ENTITIES = 1000
"""A get* answer holds at most this many entities (and must fit in one 128 KB frame)."""


def _ids(params: dict[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ValidationError("must be an array of ids", name)
    return list(value)


def _props(value: Any, field: str = "props") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("must be an object", field)
    for name in value:
        if name.startswith("ITWIN_") or name in itwin.OWN_PROPS:
            raise ValidationError(f"{name} is set by the platform", f"{field}.{name}")
    return dict(value)


def _with_parents(kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    """The seed's shapes: a node names itself as NODE_ID, a sensor its `device`."""
    if kind == "node":
        entity["props"].setdefault("NODE_ID", entity["id"])
    if kind == "sensor" and entity["props"].get("DEVICE_ID"):
        entity["device"] = entity["props"]["DEVICE_ID"]
    entity["props"].setdefault("ACCESSIBLE", True)
    return entity


def _matches(kind: str, entity: dict[str, Any], params: dict[str, Any]) -> bool:
    props = entity["props"]
    for name, value in (("types", entity.get("type")), ("nodes", props.get("NODE_ID")),
                        ("devices", props.get("DEVICE_ID"))):
        wanted = _ids(params, name) if name != PLURAL[kind] else None
        if wanted is not None and value not in wanted:
            return False
    return True


def get_entities(principal: Principal, kind: str, params: dict[str, Any], project_id: str | None) -> list[Any]:
    """The project's entities of a kind, filtered by `<kind>s` (ids), `types`, `nodes`, `devices`."""
    ids = _ids(params, PLURAL[kind])
    for name in ("types", "nodes", "devices"):
        _ids(params, name)
    if kind == "sensor" and ids is not None:
        found = []
        for sensor_id in ids[:MAX_ENTITIES]:
            try:
                found.append(itwin.get_sensor(principal, sensor_id, project_id))
            except NotFound:
                continue
    else:
        found = itwin.list_entities(principal, kind, project_id, MAX_ENTITIES if ids is None else 10 * MAX_ENTITIES)
        if ids is not None:
            wanted = set(ids)
            found = [e for e in found if e["id"] in wanted]
    return [_with_parents(kind, e) for e in found if _matches(kind, e, params)][:MAX_ENTITIES]


def _entity_id(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} is required (the entity's id)", name)
    return value


def _type(params: dict[str, Any], required: bool) -> str | None:
    value = params.get("type", params.get("observationType"))
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValidationError("type is required", "type")
    return value


def parent_of(entity_id: str, kind: str) -> str | None:
    """`/a/node/b/c/device/d/sensor` → its device `/a/node/b/c/device` (kind `device`) or node."""
    marker = f"/{kind}/"
    at = entity_id.rfind(marker)
    return entity_id[: at + len(marker) - 1] if at > 0 else None


def create(principal: Principal, kind: str, params: dict[str, Any], project_id: str | None) -> dict[str, Any]:
    """createNode / createDevice / createSensor: Conflict when it exists, NotFound without its parent."""
    entity_id = _entity_id(params, kind)
    raw = params.get("props")
    if raw is not None and not isinstance(raw, dict):
        raise ValidationError("must be an object", "props")
    props = dict(raw or {})
    if kind == "node":
        clean = _props({k: v for k, v in props.items() if k != "NODE_ID"})
        entity = itwin.create_node(principal, entity_id, {**clean, "NODE_ID": entity_id}, project_id,
                                   _type(params, False))
    elif kind == "device":
        node_id = props.get("NODE_ID")
        if not isinstance(node_id, str) or not node_id:
            raise ValidationError("NODE_ID is required (the node of the device)", "props.NODE_ID")
        clean = _props({k: v for k, v in props.items() if k != "NODE_ID"})
        try:
            entity = itwin.create_device(principal, entity_id, node_id, clean, project_id, _type(params, False))
        except NotFound:
            raise NotFound(f"node {node_id} not found", "props.NODE_ID") from None
    else:
        device_id = params.get("device") or parent_of(entity_id, "device")
        if not isinstance(device_id, str) or not device_id:
            raise ValidationError("the sensor id names no device (…/device/…/sensor); give `device`", "device")
        clean = _props(props)
        sensor_type = _type(params, True)
        assert sensor_type is not None
        node = parent_of(device_id + "/", "node")
        extra = {"NODE_ID": node} if node else {}
        try:
            entity = itwin.create_sensor(principal, entity_id, device_id, sensor_type, {**clean, **extra}, project_id)
        except NotFound as error:
            if error.field == "id":
                raise NotFound(f"device {device_id} not found", "device") from None
            raise
    return _with_parents(kind, entity)


def update(principal: Principal, kind: str, params: dict[str, Any], project_id: str | None) -> dict[str, Any]:
    """updateNode / updateDevice / updateSensor: the given props overwrite, a null removes."""
    entity_id = _entity_id(params, kind)
    props = _props(params.get("props"))
    if not props:
        raise ValidationError("props must name at least one prop", "props")
    pool_doc = itwin.project(principal, project_id, create=False)
    if kind == "sensor":
        sensor = itwin.get_sensor(principal, entity_id, project_id)
        device = cat.find_station_by_key(principal, pool_doc["id"], str(sensor["props"].get("DEVICE_ID") or ""))
        if device is None:
            raise NotFound(f"sensor {entity_id} not found", "sensor")
        doc = cat.update_bucket(principal, device["id"], itwin.bucket_name(entity_id), {"props": props})
    else:
        found = cat.find_station_by_key(principal, pool_doc["id"], entity_id)
        if found is None or (found.get("props") or {}).get("ITWIN_KIND") != kind:
            raise NotFound(f"{kind} {entity_id} not found", kind)
        body: dict[str, Any] = {"props": props}
        if isinstance(props.get("NAME"), str) and props["NAME"]:
            body["name"] = props["NAME"]
        doc = cat.update_station(principal, found["id"], body)
    return _with_parents(kind, itwin.entity_from_doc(kind, doc, pool_doc["key"]))
