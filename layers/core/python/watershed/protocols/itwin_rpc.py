"""The iTwin IoT JSON-RPC 2.0 face (issue 24): frame parsing, batches, notifications and errors.

This first piece is transport-free: `handle(context, body)` turns one WebSocket frame into the
answer frame (or None for a notification-only frame). One bad frame never closes the connection;
it gets a JSON-RPC error object `{code, message, data}`. The entity and data methods are added on
the entity service (services/itwin.py) once it lands; `help` and `time` answer already.
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watershed.api.request import Reply
from watershed.errors import Forbidden, NotFound, Unauthorized, ValidationError, WatershedError
from watershed.timefmt import format_time

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
AUTHENTICATION_ERROR = -32001
FORBIDDEN = -32003
NOT_FOUND = -32004
MAX_BATCH = 100


@dataclass
class Context:
    """What one connection knows: its principal once `authenticate` succeeded."""

    principal: Any = None
    authenticate: Callable[[str], Any] | None = None
    clock: Callable[[], float] = _time.time
    state: dict[str, Any] = field(default_factory=dict)


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
    """Domain errors keep their code, message and field under `data`."""
    code = INTERNAL_ERROR
    if isinstance(error, Unauthorized):
        code = AUTHENTICATION_ERROR
    elif isinstance(error, Forbidden):
        code = FORBIDDEN
    elif isinstance(error, NotFound):
        code = NOT_FOUND
    elif isinstance(error, ValidationError):
        code = INVALID_PARAMS
    return RpcError(code, error.message, error.to_body())


def error_reply(error: WatershedError) -> Reply:
    """The dialect's error body, for the rare HTTP answer (e.g. a refused connect)."""
    return Reply(error.status, {"jsonrpc": "2.0", "id": None, "error": _rpc_error(error).to_object()})


def _help(context: Context, params: dict[str, Any]) -> Any:
    return {name: {"params": m.params, "description": m.doc} for name, m in sorted(METHODS.items())}


def _now(context: Context, params: dict[str, Any]) -> Any:
    return format_time(int(context.clock() * 1000))


def _authenticate(context: Context, params: dict[str, Any]) -> Any:
    code = params.get("code")
    if not isinstance(code, str) or not code:
        raise RpcError(INVALID_PARAMS, "code must be a non-empty string (an API key or token)", {"field": "code"})
    if context.authenticate is None:
        raise RpcError(AUTHENTICATION_ERROR, "authentication is not available on this connection")
    context.principal = context.authenticate(code)
    return {"authenticated": True}


METHODS: dict[str, Method] = {}


def register(method: Method) -> None:
    """Adds a method; `help` lists every registered one with its params."""
    METHODS[method.name] = method


register(Method("help", {}, "every method and its params", _help, needs_auth=False))
register(Method("time", {}, "the server's time, ISO-8601 UTC", _now, needs_auth=False))
register(Method("authenticate", {"code": "API key or token"}, "authenticates the connection", _authenticate, False))


def _answer(request_id: Any, result: Any = None, error: RpcError | None = None) -> dict[str, Any]:
    if error is not None:
        return {"jsonrpc": "2.0", "id": request_id, "error": error.to_object()}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def _one(context: Context, request: Any) -> dict[str, Any] | None:
    """One request object's answer; None for a valid notification (no `id` member)."""
    if not isinstance(request, dict):
        return _answer(None, error=RpcError(INVALID_REQUEST, "a request must be an object"))
    is_notification = "id" not in request
    request_id = request.get("id")
    if not _valid_id(request_id):
        return _answer(None, error=RpcError(INVALID_REQUEST, "id must be a string, a number or null"))
    name = request.get("method")
    if request.get("jsonrpc") != "2.0" or not isinstance(name, str):
        return _answer(request_id, error=RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0" and method a string'))
    params = request.get("params", {})
    try:
        method = METHODS.get(name)
        if method is None:
            raise RpcError(METHOD_NOT_FOUND, f"no method {name!r}; `help` lists them", {"method": name})
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object", {"field": "params"})
        if method.needs_auth and context.principal is None:
            raise RpcError(AUTHENTICATION_ERROR, "call authenticate first", {"method": name})
        answer = _answer(request_id, method.call(context, params))
    except RpcError as error:
        answer = _answer(request_id, error=error)
    except WatershedError as error:
        answer = _answer(request_id, error=_rpc_error(error))
    except Exception:  # one bad call must not close the connection
        answer = _answer(request_id, error=RpcError(INTERNAL_ERROR, "internal error"))
    return None if is_notification else answer


def _dumps(frame: Any) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def handle(context: Context, body: str) -> str | None:
    """The answer frame to one client frame: an object, an array for a batch, or None."""
    try:
        frame = json.loads(body)
    except ValueError as error:
        return _dumps(_answer(None, error=RpcError(PARSE_ERROR, "not JSON", {"why": str(error)})))
    if isinstance(frame, list):
        if not frame:
            return _dumps(_answer(None, error=RpcError(INVALID_REQUEST, "an empty batch")))
        if len(frame) > MAX_BATCH:
            return _dumps(_answer(None, error=RpcError(INVALID_REQUEST, f"a batch holds at most {MAX_BATCH}")))
        answers = [a for a in (_one(context, r) for r in frame) if a is not None]
        return _dumps(answers) if answers else None
    answer = _one(context, frame)
    return None if answer is None else _dumps(answer)
