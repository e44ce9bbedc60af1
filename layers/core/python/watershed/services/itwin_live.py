"""The iTwin JSON-RPC connection: in-band authentication and data subscriptions (issue 24).

The `/itwin` WebSocket API opens connections anonymous; `authenticate {code}` resolves an API key
or a Bearer token (a JWT: three dot-separated parts) through services.auth and keeps the principal
on the connection item (services.live), since every later frame is another invocation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from watershed.errors import NotFound, ValidationError
from watershed.model import Principal, Scheme
from watershed.services import auth, entity_feed, itwin, itwin_data, live

SCHEME_WORDS = {"apikey": Scheme.API_KEY, "bearer": Scheme.BEARER}


def scheme_of(code: str) -> tuple[Scheme, str]:
    """`ApiKey <key>` / `Bearer <jwt>` as in a header, else a JWT by its shape, else an API key."""
    word, _, rest = code.strip().partition(" ")
    if word.lower() in SCHEME_WORDS and rest.strip():
        return SCHEME_WORDS[word.lower()], rest.strip()
    parts = code.strip().split(".")
    if len(parts) == 3 and all(parts):
        return Scheme.BEARER, code.strip()
    return Scheme.API_KEY, code.strip()


def authenticate(connection_id: str, protocol: str, code: str) -> Principal:
    """The principal of `code` (Unauthorized if none, Forbidden without `read`), kept on the connection."""
    principal = auth.resolve(*scheme_of(code))
    auth.require_scope(principal, "read")
    live.authenticate(connection_id, principal, protocol)
    return principal


MAX_SENSORS = 100
"""Sensors of one subscribeData: each stream's sensor and unit travel in the subscription's items."""


def subscription_name(request_id: Any) -> str:
    """The live subscription named after a JSON-RPC request id (any JSON value, `#` allowed): the
    id unsubscribeData names finds it again."""
    return "rpc-" + hashlib.sha256(json.dumps(request_id).encode()).hexdigest()[:32]


def _metric(principal: Principal, sensor: str, metric: str, project_id: str | None,
            field: str) -> itwin_data.Metric:
    """The sensor's metric; a key that may write makes its stream when the sensor has none yet, so
    a subscription may come before the first observation."""
    try:
        return itwin_data.metric_stream(principal, sensor, metric, project_id, field)
    except NotFound as error:
        if error.field != field or "write" not in principal.scopes:
            raise
    itwin.add_metric(principal, sensor, metric, project_id=project_id)
    return itwin_data.metric_stream(principal, sensor, metric, project_id, field)


def subscribe_data(connection_id: str, principal: Principal, protocol: str, request_id: Any, sensors: Any,
                   metric: Any, unit: Any, project_id: str | None) -> list[str]:
    """Live observations of one metric of these sensors, in `unit`, named after the request id (a
    subscription of the same id is replaced). Returns the sensors."""
    if not isinstance(sensors, list) or not sensors or len(sensors) > MAX_SENSORS or not all(
            isinstance(s, str) and s for s in sensors):
        raise ValidationError(f"must be an array of 1 to {MAX_SENSORS} sensor ids", "sensors")
    if not isinstance(metric, str) or not metric:
        raise ValidationError("metric is required", "metric")
    if unit is not None and not isinstance(unit, str):
        raise ValidationError("must be a unit id", "unit")
    found = [_metric(principal, s, metric, project_id, "metric") for s in dict.fromkeys(sensors)]
    for one in found:
        itwin_data.converter(one.unit, unit)
    name = subscription_name(request_id)
    with contextlib.suppress(NotFound):
        live.unsubscribe(connection_id, name)
    context = {"id": request_id, "unit": unit, "streams": {m.stream.id: [m.sensor, m.unit] for m in found}}
    live.subscribe(connection_id, principal, protocol, [m.stream for m in found], None,
                   subscription_id=name, context=context)
    return [m.sensor for m in found]


def unsubscribe_data(connection_id: str, request_id: Any) -> None:
    """Ends the subscription of subscribeData request `request_id` (NotFound at `id` if none)."""
    try:
        live.unsubscribe(connection_id, subscription_name(request_id))
    except NotFound:
        raise NotFound("no data subscription has this id", "id") from None


ENTITY_IDS_FIELD = {"node": "nodes", "device": "devices", "sensor": "sensors"}
MAX_ENTITY_IDS = 100
"""Ids one subscribeNodes/Devices/Sensors may name (they travel in its one subscription item)."""


def entity_subscription_name(kind: str, request_id: Any) -> str:
    """Per kind, so unsubscribeSensors never ends a data or node subscription of the same id."""
    return f"rpc-{kind}-" + hashlib.sha256(json.dumps(request_id).encode()).hexdigest()[:32]


def subscribe_entities(connection_id: str, principal: Principal, protocol: str, request_id: Any, kind: str,
                       ids: Any, project_id: str | None) -> dict[str, Any]:
    """Change notifications of the project's entities of a kind (only of `ids` when given), named
    after the request id (a subscription of the same id is replaced). Returns the project's key."""
    if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_ENTITY_IDS or not all(
            isinstance(i, str) and i for i in ids)):
        raise ValidationError(f"must be an array of at most {MAX_ENTITY_IDS} ids", ENTITY_IDS_FIELD[kind])
    pool_doc = itwin.existing_project(principal, project_id) or itwin.project(principal, None)
    name = entity_subscription_name(kind, request_id)
    with contextlib.suppress(NotFound):
        live.unsubscribe(connection_id, name)
    context = {"id": request_id, "kind": kind, "pool": pool_doc["id"], "project": pool_doc["key"],
               "ids": list(dict.fromkeys(ids)) if ids else None}
    live.subscribe_ids(connection_id, principal, protocol, [entity_feed.feed_id(principal.org, kind)], None,
                       subscription_id=name, context=context)
    return {"projectId": pool_doc["key"]}


def unsubscribe_entities(connection_id: str, kind: str, request_id: Any) -> None:
    """Ends the subscription of subscribe<Kind>s request `request_id` (NotFound at `id` if none)."""
    try:
        live.unsubscribe(connection_id, entity_subscription_name(kind, request_id))
    except NotFound:
        raise NotFound(f"no {kind} subscription has this id", "id") from None
