"""iTwin IoT Sensor Data Service REST under `/itwin/api` (issue 24): translation only.

Errors are `{"errors": [{"message", "path"}]}`; a credential error's path is `Authorization`.
The integration endpoints answer their own shape, `{"error": {"code", "message"}}`, as the seed
shows. Entities come from services/itwin.py in the seed's `{id, type, props}` shape.
"""

from __future__ import annotations

from typing import Any

from watershed.api.request import Reply, Request
from watershed.errors import Unauthorized, ValidationError, WatershedError
from watershed.services import itwin
from watershed.timefmt import format_time

INTEGRATION_ERROR = "InvalidProcessIntegrationRequest"
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def error_reply(error: WatershedError) -> Reply:
    path = "Authorization" if isinstance(error, Unauthorized) else (error.field or "")
    return Reply(error.status, {"errors": [{"message": error.message, "path": path}]})


def _integration_error(error: WatershedError) -> Reply:
    return Reply(error.status, {"error": {"code": INTEGRATION_ERROR, "message": error.message,
                                          "target": error.field or ""}})


def _project_id(request: Request) -> str | None:
    """`projectIds`: one project (the seed supports a single one per request), else the default."""
    value = (request.query.get("projectIds") or "").strip()
    if "," in value:
        raise ValidationError("Currently only a single projectId is supported per request", "projectIds")
    return value or None


def _page_size(request: Request) -> int:
    text = request.query.get("pageSize") or str(PAGE_SIZE)
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ValidationError(f"must be a whole number from 1 to {MAX_PAGE_SIZE}", "pageSize")
    return int(text)


def _station_out(entity: dict[str, Any]) -> dict[str, Any]:
    return {"props": entity["props"], "id": entity["id"], "type": entity.get("type") or itwin.DYNAMIC}


def _sensor_out(entity: dict[str, Any]) -> dict[str, Any]:
    props = dict(entity["props"])
    device = props.pop("DEVICE_ID", None)
    kind = entity.get("type") or itwin.DYNAMIC
    return {"props": props, "id": entity["id"], "observationType": kind, "type": kind, "device": device}


def _integration_out(tree: dict[str, Any]) -> dict[str, Any]:
    return {"integration": {"node": _station_out(tree["node"]),
                            "devices": [{"device": _station_out(d["device"]),
                                         "sensors": [_sensor_out(s) for s in d["sensors"]]}
                                        for d in tree["devices"]]}}


# integrations


def integrate(request: Request) -> Reply:
    """POST /integrations/integrate: a new node with devices and sensors, or changes under `nodeId`."""
    principal = request.principal
    try:
        tree = itwin.integrate(principal, request.json(), _project_id(request))
    except Unauthorized:
        raise
    except WatershedError as error:
        return _integration_error(error)
    return Reply(200, _integration_out(tree))


def get_integration(request: Request) -> Reply:
    """POST /integrations/{nodeId}: the node id URL-encoded, or literally as the seed writes it
    (`/integrations//api/13DC2F/node`)."""
    params = request.path_params
    node_id = params.get("nodeId") or f"/{params.get('source')}/{params.get('serial')}/node"
    principal = request.principal
    try:
        tree = itwin.node_integration(principal, node_id, _project_id(request))
    except Unauthorized:
        raise
    except WatershedError as error:
        return _integration_error(error)
    return Reply(200, _integration_out(tree))


# observations


def upload(request: Request) -> Reply:
    """POST /data/upload: every observation checked, then stored; 202 as the seed answers."""
    body = request.json()
    observations = body.get("observations") if isinstance(body, dict) else None
    itwin.upload(request.principal, observations, _project_id(request))
    return Reply(202, {"status": "ACCEPTED"})


# templates and metrics


def device_types(request: Request) -> Reply:
    """The templates are the same for everyone (`excludeLegacy` changes nothing: none is legacy)."""
    return Reply(200, {"deviceTypes": list(itwin.DEVICE_TYPES)})


def sensor_types(request: Request) -> Reply:
    return Reply(200, {"sensorTypes": list(itwin.SENSOR_TYPES)})


def metric_types(request: Request) -> Reply:
    return Reply(200, {"standard": True, "metrics": list(itwin.METRIC_TYPES)})


def _metric_out(metric_id: str, unit: str | None) -> dict[str, Any]:
    known = itwin.known_metric(metric_id)
    if known is not None:
        units = [{"notation": u["notation"], "name": u["displayName"], "id": u["id"]} for u in known["units"]]
        return {"defaultUnit": unit or known["defaultUnit"], "hidden": False, "displayName": known["displayName"],
                "notation": metric_id, "name": metric_id, "id": metric_id, "units": units}
    units = [{"notation": unit, "name": unit, "id": unit}] if unit else []
    return {"defaultUnit": unit, "hidden": False, "displayName": metric_id, "notation": metric_id,
            "name": metric_id, "id": metric_id, "units": units}


def sensors_metrics(request: Request) -> Reply:
    """POST /sensors/metrics {ids}: the metrics an upload's `values` carry for each sensor."""
    body = request.json()
    ids = body.get("ids") if isinstance(body, dict) else None
    found = itwin.metrics_by_sensor(request.principal, ids, _project_id(request))
    return Reply(200, {"metricsBySensor": {sensor: [_metric_out(m, u) for m, u in metrics]
                                           for sensor, metrics in found.items()}})


# listings and projects


def nodes_all(request: Request) -> Reply:
    found = itwin.list_entities(request.principal, "node", _project_id(request), _page_size(request))
    return Reply(200, {"nodes": [_station_out(e) for e in found]})


def devices_all(request: Request) -> Reply:
    found = itwin.list_entities(request.principal, "device", _project_id(request), _page_size(request))
    return Reply(200, {"devices": [_station_out(e) for e in found]})


def sensors_all(request: Request) -> Reply:
    found = itwin.list_entities(request.principal, "sensor", _project_id(request), _page_size(request))
    return Reply(200, {"sensors": [_sensor_out(e) for e in found]})


def _project_out(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["key"], "name": doc["name"],
            "props": {"NAME": doc["name"], "CREATION_DATE": format_time(doc["created"])}}


def get_project(request: Request) -> Reply:
    return Reply(200, _project_out(itwin.get_project(request.principal, request.path_params["projectId"])))


def delete_project(request: Request) -> Reply:
    itwin.delete_project(request.principal, request.path_params["projectId"])
    return Reply(204)
