"""The iTwin IoT JSON-RPC 2.0 face (issue 24, docs/protocols/itwin_jsonrpc.md): translation only.

`answer(context, body)` turns one WebSocket frame into the frames answering it (transport-free);
`handle(session, body)` is the `/itwin` WebSocket API's entry and `encode` shapes live updates.
A connection opens anonymous and must `authenticate {code}` first (services.itwin_live). One bad
frame never closes the connection: it gets an error object `{code, message, data}`. Entities,
metrics and data come from services.itwin, itwin_entities and itwin_data; getData and
getObservations stream `{result: {data: {ISO: value}}}` frames of at most 128 KB, then
`{result: {requestStatus: "finished"}}`.
"""

from __future__ import annotations

import json
import logging
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from watershed.api.request import Reply
from watershed.errors import Conflict, Forbidden, NotFound, Unauthorized, WatershedError
from watershed.services import auth, entity_feed, itwin, itwin_data, itwin_entities, itwin_live, live
from watershed.timefmt import format_time

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
AUTHENTICATION_ERROR = -32001
FORBIDDEN = -32003
NOT_FOUND = -32004
CONFLICT = -32009
MAX_BATCH = 100


MAX_FRAME_BYTES = 128 * 1024
"""API Gateway's limit on one WebSocket message."""


@dataclass
class Context:
    """What one connection knows: its principal once `authenticate` succeeded."""

    principal: Any = None
    authenticate: Callable[[str], Any] | None = None
    clock: Callable[[], float] = _time.time
    state: dict[str, Any] = field(default_factory=dict)
    connection: str = ""
    protocol: str = "itwin_rpc"
    limit: int = MAX_FRAME_BYTES
    request_id: Any = None
    """The id of the request being answered (a subscription is named after it)."""


@dataclass
class Chunks:
    """A result streamed as several answers carrying the request's id: `{result: {data: {ISO: value}}}`
    frames of at most `limit` bytes, in order, then `final` (e.g. `{requestStatus: "finished"}`)."""

    data: Sequence[tuple[str, Any]]
    final: Any
    head: dict[str, Any] = field(default_factory=dict)
    """Members of every chunk's `result` before `data` (a live update's `sensor`)."""

    def frames(self, request_id: Any, limit: int) -> list[str]:
        head = "".join(f"{_dumps(k)}:{_dumps(v)}," for k, v in self.head.items())
        opening = '{"jsonrpc":"2.0","id":' + _dumps(request_id) + ',"result":{' + head + '"data":{'
        closing = "}}}"
        room = limit - len(opening.encode()) - len(closing)
        out: list[str] = []
        pieces: list[str] = []
        size = 0
        for timestamp, value in self.data:
            piece = _dumps(timestamp) + ":" + _dumps(value)
            cost = len(piece.encode()) + (1 if pieces else 0)
            if pieces and size + cost > room:
                out.append(opening + ",".join(pieces) + closing)
                pieces, size, cost = [], 0, len(piece.encode())
            pieces.append(piece)
            size += cost
        if pieces:
            out.append(opening + ",".join(pieces) + closing)
        return out


@dataclass(frozen=True)
class Method:
    name: str
    params: dict[str, str]
    doc: str
    call: Callable[[Context, dict[str, Any]], Any]
    needs_auth: bool = True


class RpcError(Exception):
    """A JSON-RPC error with its numeric code."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_object(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


def _rpc_error(error: WatershedError) -> RpcError:
    """Domain errors keep their code, message and field under `data`; any other refusal of the
    request (4xx) is an invalid param, a failure of ours (5xx) an internal error."""
    code = INTERNAL_ERROR if error.status >= 500 else INVALID_PARAMS
    if isinstance(error, Unauthorized):
        code = AUTHENTICATION_ERROR
    elif isinstance(error, Forbidden):
        code = FORBIDDEN
    elif isinstance(error, NotFound):
        code = NOT_FOUND
    elif isinstance(error, Conflict):
        code = CONFLICT
    return RpcError(code, error.message, error.to_body())


def error_reply(error: WatershedError) -> Reply:
    """The dialect's error body, for the rare HTTP answer (e.g. a refused connect)."""
    return Reply(error.status, {"jsonrpc": "2.0", "id": None, "error": _rpc_error(error).to_object()})


def _help(context: Context, params: dict[str, Any]) -> Any:
    return {name: {"params": m.params, "description": m.doc} for name, m in sorted(METHODS.items())}


def _now(context: Context, params: dict[str, Any]) -> Any:
    """`{time}`: the seed's client reads `result["time"]`."""
    return {"time": format_time(int(context.clock() * 1000))}


def _next_id(request_id: Any) -> int:
    """The id a client continues with: one past a numeric (or numeric string) authenticate id."""
    if isinstance(request_id, int | float) and not isinstance(request_id, bool):
        return int(request_id) + 1
    if isinstance(request_id, str) and request_id.strip().isdigit():
        return int(request_id) + 1
    return 1


def _authenticate(context: Context, params: dict[str, Any]) -> Any:
    code = params.get("code")
    if not isinstance(code, str) or not code.strip():
        raise RpcError(INVALID_PARAMS, "code must be a non-empty string (an API key or token)", {"field": "code"})
    if context.authenticate is None:
        raise RpcError(AUTHENTICATION_ERROR, "authentication is not available on this connection")
    try:
        context.principal = context.authenticate(code)
    except Unauthorized:
        raise RpcError(AUTHENTICATION_ERROR, "authentication failed: unknown or expired code",
                       {"field": "code"}) from None
    return {"nextId": _next_id(context.request_id)}


METHODS: dict[str, Method] = {}


def register(method: Method) -> None:
    """Adds a method; `help` lists every registered one with its params."""
    METHODS[method.name] = method


register(Method("help", {}, "every method and its params", _help, needs_auth=False))
register(Method("time", {}, "the server's time, ISO-8601 UTC", _now, needs_auth=False))
register(Method("authenticate", {"code": "API key or token"}, "authenticates the connection", _authenticate, False))


PROJECT = {"projectIds": "[string] optional, one project (default: the organisation's default project)"}


def _project(params: dict[str, Any]) -> str | None:
    """The one project a request names (the seed supports a single projectId per request)."""
    value = params.get("projectIds")
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise RpcError(INVALID_PARAMS, "projectIds must be an array of project ids", {"field": "projectIds"})
    if len(value) > 1:
        raise RpcError(INVALID_PARAMS, "only one projectId per request is supported", {"field": "projectIds"})
    return str(value[0])


def _string(params: dict[str, Any], name: str, required: bool = True) -> Any:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise RpcError(INVALID_PARAMS, f"{name} must be a non-empty string", {"field": name})
    return value


def _require(context: Context, scope: str) -> None:
    auth.require_scope(context.principal, scope)


def _getter(kind: str) -> Callable[[Context, dict[str, Any]], Any]:
    def call(context: Context, params: dict[str, Any]) -> Any:
        return itwin_entities.get_entities(context.principal, kind, params, _project(params))

    return call


def _creator(kind: str) -> Callable[[Context, dict[str, Any]], Any]:
    def call(context: Context, params: dict[str, Any]) -> Any:
        _require(context, "admin")
        return itwin_entities.create(context.principal, kind, params, _project(params))

    return call


def _updater(kind: str) -> Callable[[Context, dict[str, Any]], Any]:
    def call(context: Context, params: dict[str, Any]) -> Any:
        _require(context, "admin")
        return itwin_entities.update(context.principal, kind, params, _project(params))

    return call


for _kind, _parents in (("node", ""), ("device", ", nodes"), ("sensor", ", devices, nodes")):
    _plural = itwin_entities.PLURAL[_kind]
    _name = _kind.capitalize()
    register(Method(f"get{_name}s", {_plural: "[string] ids", "types": "[string]", **(
        {p.strip(): "[string] parent ids" for p in _parents.split(",") if p.strip()}), **PROJECT},
        f"the project's {_plural} matching every filter given", _getter(_kind)))
    register(Method(f"create{_name}", {_kind: "string id", "type": "string", "props": "object", **(
        {"observationType": "string"} if _kind == "sensor" else {}), **PROJECT},
        f"creates a {_kind}; an error if it exists or its parent does not", _creator(_kind)))
    register(Method(f"update{_name}", {_kind: "string id", "props": "object", **PROJECT},
                    f"overwrites the given props of a {_kind} (null removes one)", _updater(_kind)))


def _metrics(context: Context, params: dict[str, Any]) -> Any:
    return itwin_data.sensor_metrics(context.principal, params.get("sensors"), _project(params))


def _raw_metrics(context: Context, params: dict[str, Any]) -> Any:
    if params.get("sensors") is None and params.get("types") is not None:
        return itwin_data.type_metrics(params.get("types"))
    return itwin_data.sensor_metrics(context.principal, params.get("sensors"), _project(params))


def _units(context: Context, params: dict[str, Any]) -> Any:
    return itwin_data.metric_units(params.get("metrics"))


QUERY = {"sensor": "string", "metric": "string", "unit": "string", "params": "object (ignored: raw metrics)",
         "startDate": "ISO date", "endDate": "ISO date", "limit": "{function: first|last, params: {size}}", **PROJECT}


def _finished(found: itwin_data.Series) -> Chunks:
    final: dict[str, Any] = {"requestStatus": "finished"}
    if found.truncated:
        final["truncated"] = True
    return Chunks(found.data, final)


def _data(context: Context, params: dict[str, Any]) -> Any:
    project_id = _project(params)
    metric = itwin_data.metric_stream(context.principal, _string(params, "sensor"), _string(params, "metric"),
                                      project_id)
    query = itwin_data.parse_query(params)
    return _finished(itwin_data.series(metric, _string(params, "unit", required=False), query))


def _observations(context: Context, params: dict[str, Any]) -> Any:
    project_id = _project(params)
    query = itwin_data.parse_query(params)
    if params.get("metric") is not None:
        metric = itwin_data.metric_stream(context.principal, _string(params, "sensor"), _string(params, "metric"),
                                          project_id)
        return _finished(itwin_data.series(metric, None, query))
    return _finished(itwin_data.observations(context.principal, _string(params, "sensor"), project_id, query))


def _summary(context: Context, params: dict[str, Any]) -> Any:
    metric = itwin_data.metric_stream(context.principal, _string(params, "sensor"), _string(params, "metric"),
                                      _project(params))
    return itwin_data.summary(metric, _string(params, "unit", required=False), itwin_data.parse_query(params))


def _subscribe(context: Context, params: dict[str, Any]) -> Any:
    if context.request_id is None:
        raise RpcError(INVALID_PARAMS, "subscribeData needs a request id: updates carry it", {"field": "id"})
    sensors = itwin_live.subscribe_data(
        context.connection, context.principal, context.protocol, context.request_id, params.get("sensors"),
        params.get("metric"), params.get("unit"), _project(params))
    return {"subscriptionId": context.request_id, "sensors": sensors}


def _unsubscribe(context: Context, params: dict[str, Any]) -> Any:
    if "id" not in params:
        raise RpcError(INVALID_PARAMS, "id is required (the subscribeData request's id)", {"field": "id"})
    itwin_live.unsubscribe_data(context.connection, params["id"])
    return {"unsubscribed": params["id"]}


def _upload(context: Context, params: dict[str, Any]) -> Any:
    _require(context, "write")
    try:
        stored = itwin.upload(context.principal, params.get("data"), _project(params))
    except WatershedError as error:
        if error.field and error.field.startswith("observations"):
            error.field = "data" + error.field[len("observations"):]
        raise
    return {"successfullyProcessedObs": stored}


register(Method("getMetrics", {"sensors": "[string]", **PROJECT}, "each sensor's metrics", _metrics))
register(Method("getRawMetrics", {"sensors": "[string]", "types": "[string]", **PROJECT},
                "each sensor's (or sensor type's) raw metrics", _raw_metrics))
register(Method("getUnits", {"metrics": "[string]"}, "each metric's units (those of its dimension)", _units))
register(Method("getData", QUERY, "a metric's observations in a unit, streamed, then requestStatus finished", _data))
register(Method("getObservations", {k: v for k, v in QUERY.items() if k != "unit"},
                "raw observations {ISO: {metric: value}} (or one metric's), streamed", _observations))
register(Method("getObservationsSummary", QUERY, "the first and last observation", _summary))
register(Method("subscribeData", {"sensors": "[string]", "metric": "string", "unit": "string",
                                  "params": "object (ignored)", **PROJECT},
                "new observations, as answers carrying this request's id", _subscribe))
register(Method("unsubscribeData", {"id": "the subscribeData request's id"}, "ends a data subscription",
                _unsubscribe))
def _entity_subscriber(kind: str) -> Callable[[Context, dict[str, Any]], Any]:
    def call(context: Context, params: dict[str, Any]) -> Any:
        if context.request_id is None:
            raise RpcError(INVALID_PARAMS, "a subscription needs a request id: updates carry it", {"field": "id"})
        found = itwin_live.subscribe_entities(context.connection, context.principal, context.protocol,
                                              context.request_id, kind, params.get(itwin_entities.PLURAL[kind]),
                                              _project(params))
        return {"subscriptionId": context.request_id, **found}

    return call


def _entity_unsubscriber(kind: str) -> Callable[[Context, dict[str, Any]], Any]:
    def call(context: Context, params: dict[str, Any]) -> Any:
        if "id" not in params:
            raise RpcError(INVALID_PARAMS, "id is required (the subscribe request's id)", {"field": "id"})
        itwin_live.unsubscribe_entities(context.connection, kind, params["id"])
        return {"unsubscribed": params["id"]}

    return call


for _kind in ("node", "device", "sensor"):
    _plural = itwin_entities.PLURAL[_kind]
    _name = _kind.capitalize()
    register(Method(f"subscribe{_name}s", {_plural: "[string] ids (default: every one)", **PROJECT},
                    f"{_kind} changes (created, updated, deleted through any door), as answers carrying "
                    "this request's id: {data: entity, changeType}", _entity_subscriber(_kind)))
    register(Method(f"unsubscribe{_name}s", {"id": f"the subscribe{_name}s request's id"},
                    f"ends a {_kind} subscription", _entity_unsubscriber(_kind)))
register(Method("uploadData", {"data": "[{sensorId, timestamp, values: {metric: value}}]", **PROJECT},
                "stores observations", _upload))


def _answer(request_id: Any, result: Any = None, error: RpcError | None = None) -> dict[str, Any]:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": error.to_object()}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def _one(context: Context, request: Any) -> tuple[list[str], dict[str, Any] | None]:
    """One request object: the frames streamed before its answer, and the answer (None for a valid
    notification, which has no `id` member and gets nothing, not even its stream)."""
    if not isinstance(request, dict):
        return [], _answer(None, error=RpcError(INVALID_REQUEST, "a request must be an object"))
    is_notification = "id" not in request
    request_id = request.get("id")
    if not _valid_id(request_id):
        return [], _answer(None, error=RpcError(INVALID_REQUEST, "id must be a string, a number or null"))
    name = request.get("method")
    if request.get("jsonrpc") != "2.0" or not isinstance(name, str):
        return [], _answer(request_id, error=RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0" and method a string'))
    params = request.get("params", {})
    streamed: list[str] = []
    try:
        method = METHODS.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"no method {name!r}; `help` lists them", {"method": name})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object", {"field": "params"})
        if method.needs_auth and context.principal is None:
            raise RpcError(AUTHENTICATION_ERROR, "call authenticate first", {"method": name})
        context.request_id = request_id
        result = method.call(context, params)
        if isinstance(result, Chunks):
            streamed = result.frames(request_id, context.limit)
            result = result.final
        answer = _answer(request_id, result)
    except RpcError as error:
        answer = _answer(request_id, error=error)
    except WatershedError as error:
        answer = _answer(request_id, error=_rpc_error(error))
    except Exception:  # one bad call must not close the connection
        log.exception("iTwin JSON-RPC %s failed", name)
        answer = _answer(request_id, error=RpcError(INTERNAL_ERROR, "internal error"))
    return ([], None) if is_notification else (streamed, answer)


def _dumps(frame: Any) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _fitted(frame: Any, request_id: Any, limit: int) -> str:
    """The frame's text; an answer over API Gateway's message limit becomes an error saying so."""
    text = _dumps(frame)
    if len(text.encode()) <= limit:
        return text
    error = RpcError(INTERNAL_ERROR, "the answer is over the 128 KB message limit; ask for fewer entities",
                     {"bytes": len(text.encode()), "limit": limit})
    return _dumps(_answer(request_id, error=error))


def answer(context: Context, body: str) -> list[str]:
    """Every frame answering one client frame, in order: an object, an array for a batch, streamed
    chunks before the answer of a streaming method (getData), or nothing."""
    try:
        frame = json.loads(body)
    except ValueError as error:
        return [_dumps(_answer(None, error=RpcError(PARSE_ERROR, "not JSON", {"why": str(error)})))]
    if isinstance(frame, list):
        if not frame:
            return [_dumps(_answer(None, error=RpcError(INVALID_REQUEST, "an empty batch")))]
        if len(frame) > MAX_BATCH:
            return [_dumps(_answer(None, error=RpcError(INVALID_REQUEST, f"a batch holds at most {MAX_BATCH}")))]
        frames: list[str] = []
        answers = []
        for request in frame:
            streamed, one = _one(context, request)
            frames.extend(streamed)
            if one is not None:
                answers.append(one)
        return [*frames, _fitted(answers, None, context.limit)] if answers else frames
    streamed, one = _one(context, frame)
    return streamed if one is None else [*streamed, _fitted(one, one.get("id"), context.limit)]


def handle(session: Any, body: str) -> str | list[str] | None:
    """The WebSocket door's entry (api/websocket.py, an InBandSession): one frame as the route's
    response, several posted in order, or none."""
    context = Context(principal=session.principal, connection=session.connection, protocol=session.protocol)

    def authenticate(code: str) -> Any:
        return itwin_live.authenticate(session.connection, session.protocol, code)

    context.authenticate = authenticate
    frames = answer(context, body)
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else frames


# live updates


def encode(updates: Sequence[live.Update], limit: int) -> list[str]:
    """subscribeData updates: `{jsonrpc, id: <the subscribe request's id>, result: {sensor, data:
    {ISO: value}}}` in the subscription's unit, each frame at most `limit` bytes; subscribe<Kind>s
    ones: `{jsonrpc, id, result: {data: <entity>, changeType: created|updated|deleted}}` (the seed's
    client reads `result["data"]`), one frame per change."""
    frames: list[str] = []
    for update in updates:
        context = update.context or {}
        if update.kind == entity_feed.UPDATE_KIND:
            frames.extend(_fitted(_answer(context.get("id"), {"data": change["entity"],
                                                               "changeType": change["changeType"]}),
                                  context.get("id"), limit) for change in update.data)
            continue
        sensor, stored = (context.get("streams") or {}).get(update.stream, [None, None])
        if update.kind != "intervals" or sensor is None:
            continue
        convert = itwin_data.converter(stored, context.get("unit"))
        data = [(format_time(int(row["timestamp"])), convert(row["value"]) if convert else row["value"])
                for row in update.data]
        frames.extend(Chunks(data, None, {"sensor": sensor}).frames(context.get("id"), limit))
    return frames
