"""The native WebSocket protocol: JSON frames with an `action` (docs/websocket.md).

Client frames: subscribe, unsubscribe, ping, push. Every frame gets one answer frame carrying its
`id`; a bad frame gets an error frame and the connection stays open. Live updates are `intervals`
or `aggregates` frames; the several updates one connection gets from one batch travel together in
a `batch` frame, and no frame is over API Gateway's 128 KB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from watershed.api.request import Request
from watershed.errors import NotFound, ValidationError, WatershedError
from watershed.model import Stream
from watershed.protocols import native
from watershed.services import auth, live
from watershed.services import catalog as cat
from watershed.services.aggregates import functions_for, parse_spec
from watershed.timefmt import format_time

if TYPE_CHECKING:
    from watershed.api.websocket import Session

ACTIONS = ("subscribe", "unsubscribe", "ping", "push")
MAX_ID_CHARS = 128
TARGETS = ("streams", "station", "pool")


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _request_id(frame: Any) -> Any:
    """The client's `id`, echoed on the answer when it is a short string or a number."""
    if not isinstance(frame, dict):
        return None
    value = frame.get("id")
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _error(request_id: Any, error: WatershedError) -> str:
    body = error.to_body()
    frame: dict[str, Any] = {"id": request_id, "type": "error", "code": body["code"], "message": body["message"]}
    frame["field"] = body.get("field")
    return _dumps(frame)


def handle(session: Session, body: str) -> str | None:
    """The answer to one client frame; an error frame for anything wrong with it."""
    frame: Any = None
    try:
        frame = Request(path="", body=body.encode("utf-8")).json()
        if not isinstance(frame, dict):
            raise ValidationError("a frame is a JSON object with an 'action'")
        action = frame.get("action")
        if not isinstance(action, str) or action not in ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(ACTIONS)}", "action")
        if "id" in frame and _request_id(frame) is None:
            raise ValidationError(f"id must be a string of at most {MAX_ID_CHARS} characters or a number", "id")
        answer = _ACTIONS[action](session, frame)
        return _dumps({"id": _request_id(frame), **answer})
    except WatershedError as error:
        return _error(_request_id(frame), error)


def _known(frame: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in frame:
        if name not in allowed:
            raise ValidationError(f"unknown field '{name}'", name)


def _aggregate(value: Any, streams: Sequence[Stream], explicit: bool) -> live.Aggregate | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("aggregate must be an object {period, fn, tz}", "aggregate")
    _known_in(value, ("period", "fn", "tz"), "aggregate")
    fn = value.get("fn")
    if isinstance(fn, list) and all(isinstance(name, str) for name in fn):
        fn = ",".join(fn)
    try:
        spec = parse_spec({"period": value.get("period"), "fn": fn, "tz": value.get("tz")})
        if explicit:
            for stream in streams:
                functions_for(spec, stream)
    except ValidationError as error:
        raise ValidationError(error.message, f"aggregate.{error.field}" if error.field else "aggregate") from None
    return live.Aggregate(spec.period.name, spec.functions, spec.zone.key if spec.zone else None)


def _known_in(value: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for name in value:
        if name not in allowed:
            raise ValidationError(f"unknown field '{name}'", f"{prefix}.{name}")


def _streams(session: Session, frame: dict[str, Any]) -> tuple[list[Stream], bool]:
    given = [name for name in TARGETS if name in frame]
    if len(given) != 1:
        raise ValidationError("give exactly one of streams, station or pool", "streams")
    target = given[0]
    principal = session.principal
    if target == "streams":
        ids = frame["streams"]
        if not isinstance(ids, list) or not ids or len(ids) > live.MAX_STREAMS_PER_SUBSCRIPTION:
            raise ValidationError(
                f"streams must be a list of 1 to {live.MAX_STREAMS_PER_SUBSCRIPTION} stream ids", "streams"
            )
        streams = []
        for i, stream_id in enumerate(ids):
            if not isinstance(stream_id, str) or not stream_id:
                raise ValidationError("must be a stream id", f"streams[{i}]")
            streams.append(cat.stream_from_doc(cat.get_stream(principal, stream_id, f"streams[{i}]")))
        return streams, True
    entity_id = frame[target]
    if not isinstance(entity_id, str) or not entity_id:
        raise ValidationError(f"{target} must be a {target} id", target)
    if target == "station":
        return live.streams_of_station(principal, entity_id), False
    return live.streams_of_pool(principal, entity_id), False


def subscribe(session: Session, frame: dict[str, Any]) -> dict[str, Any]:
    _known(frame, ("action", "id", *TARGETS, "aggregate"))
    auth.require_scope(session.principal, "read")
    streams, explicit = _streams(session, frame)
    aggregate = _aggregate(frame.get("aggregate"), streams, explicit)
    subscription = live.subscribe(session.connection, session.principal, session.protocol, streams, aggregate)
    return {"type": "subscribed", "subscription": subscription, "streams": list(dict.fromkeys(s.id for s in streams))}


def unsubscribe(session: Session, frame: dict[str, Any]) -> dict[str, Any]:
    _known(frame, ("action", "id", "subscription"))
    subscription = frame.get("subscription")
    if not isinstance(subscription, str) or not subscription:
        raise ValidationError("subscription is required", "subscription")
    live.unsubscribe(session.connection, subscription)
    return {"type": "unsubscribed", "subscription": subscription}


def ping(session: Session, frame: dict[str, Any]) -> dict[str, Any]:
    _known(frame, ("action", "id"))
    return {"type": "pong"}


def _in_data(error: WatershedError) -> WatershedError:
    """Point a REST push error's field into the frame: `[3].value` → `data[3].value`, `id` → `stream`."""
    if error.field == "id":
        error.field = "stream"
    elif error.field is None or error.field.startswith("["):
        error.field = f"data{error.field or ''}"
    return error


def push(session: Session, frame: dict[str, Any]) -> dict[str, Any]:
    """The REST push itself (`POST /v1/streams/{id}/intervals` or `POST /v1/intervals`): same checks, same writes."""
    _known(frame, ("action", "id", "stream", "data"))
    auth.require_scope(session.principal, "write")
    if "data" not in frame:
        raise ValidationError("data is required", "data")
    body = json.dumps(frame["data"]).encode()
    stream = frame.get("stream")
    try:
        if stream is None:
            reply = native.push_many(Request(path="/v1/intervals", body=body, principal_or_none=session.principal))
        else:
            if not isinstance(stream, str) or not stream:
                raise NotFound("stream not found", "stream")
            request = Request(
                path=f"/v1/streams/{stream}/intervals", path_params={"id": stream}, body=body,
                principal_or_none=session.principal,
            )
            reply = native.push_stream(request)
    except WatershedError as error:
        raise _in_data(error) from None
    return {"type": "accepted", "accepted": reply.body["accepted"]}


_ACTIONS = {"subscribe": subscribe, "unsubscribe": unsubscribe, "ping": ping, "push": push}


# live updates


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "timestamp": format_time(int(row["timestamp"]))}


def _pieces(update: live.Update, limit: int) -> list[str]:
    """The update as frames of at most `limit` bytes; a row too large for any frame is announced, not sent."""
    head = _dumps({"type": update.kind, "subscription": update.subscription, "stream": update.stream, "data": []})
    opening, closing = head[:-2], head[-2:]
    pieces: list[str] = []
    rows: list[str] = []
    size = len(opening.encode()) + len(closing)
    for row in update.data:
        text = _dumps(_row(row))
        if len(opening.encode()) + len(text.encode()) + len(closing) > limit:
            text = _dumps({"timestamp": format_time(int(row["timestamp"])), "tooLarge": True})
        cost = len(text.encode()) + (1 if rows else 0)
        if rows and size + cost > limit:
            pieces.append(opening + ",".join(rows) + closing)
            rows, size = [], len(opening.encode()) + len(closing)
            cost = len(text.encode())
        rows.append(text)
        size += cost
    if rows:
        pieces.append(opening + ",".join(rows) + closing)
    return pieces


BATCH_OPENING = '{"type":"batch","messages":['
BATCH_CLOSING = "]}"


def encode(updates: Sequence[live.Update], limit: int) -> list[str]:
    """Frames for one connection's updates of one batch: one frame when they fit, a `batch` frame for several."""
    overhead = len(BATCH_OPENING) + len(BATCH_CLOSING)
    pieces = [piece for update in updates for piece in _pieces(update, limit - overhead)]
    frames: list[str] = []
    group: list[str] = []
    size = overhead
    for piece in pieces:
        cost = len(piece.encode()) + (1 if group else 0)
        if group and size + cost > limit:
            frames.append(_group(group))
            group, size = [], overhead
            cost = len(piece.encode())
        group.append(piece)
        size += cost
    if group:
        frames.append(_group(group))
    return frames


def _group(pieces: list[str]) -> str:
    return pieces[0] if len(pieces) == 1 else BATCH_OPENING + ",".join(pieces) + BATCH_CLOSING

