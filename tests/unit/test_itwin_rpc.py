"""iTwin JSON-RPC 2.0 framing: answers, batches, notifications, every error code, authentication."""

from __future__ import annotations

import json
from typing import Any

from watershed.errors import Unauthorized
from watershed.protocols import itwin_rpc as rpc


def _key(code: str) -> Any:
    if code != "good-key":
        raise Unauthorized("unknown API key")
    return {"org": "o1"}


def _ctx(principal: Any = None) -> rpc.Context:
    return rpc.Context(principal=principal, authenticate=_key, clock=lambda: 1_764_700_000.123)


def _call(ctx: rpc.Context, frame: Any) -> Any:
    body = frame if isinstance(frame, str) else json.dumps(frame)
    frames = rpc.answer(ctx, body)
    assert len(frames) <= 1
    return json.loads(frames[0]) if frames else None


def test_time_answers_with_id_and_iso_time() -> None:
    assert _call(_ctx(), {"jsonrpc": "2.0", "id": 7, "method": "time"}) == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"time": "2025-12-02T18:26:40.123Z"},
    }


def test_help_lists_every_method_with_params() -> None:
    result = _call(_ctx(), {"jsonrpc": "2.0", "id": "h", "method": "help"})["result"]
    assert set(result) == set(rpc.METHODS)
    assert result["authenticate"]["params"] == {"code": "API key or token"}


def test_authenticate_sets_the_principal_and_a_bad_code_is_an_auth_error() -> None:
    ctx = _ctx()
    bad = _call(ctx, {"jsonrpc": "2.0", "id": 1, "method": "authenticate", "params": {"code": "nope"}})
    assert bad["error"]["code"] == rpc.AUTHENTICATION_ERROR and ctx.principal is None
    good = _call(ctx, {"jsonrpc": "2.0", "id": 2, "method": "authenticate", "params": {"code": "good-key"}})
    assert good["result"] == {"nextId": 3} and ctx.principal == {"org": "o1"}


def test_a_method_needing_auth_is_refused_before_authenticate() -> None:
    rpc.register(rpc.Method("_echo", {"x": "any"}, "test only", lambda c, p: p.get("x")))
    try:
        refused = _call(_ctx(), {"jsonrpc": "2.0", "id": 1, "method": "_echo", "params": {"x": 1}})
        assert refused["error"]["code"] == rpc.AUTHENTICATION_ERROR
        assert _call(_ctx("p"), {"jsonrpc": "2.0", "id": 1, "method": "_echo", "params": {"x": 1}})["result"] == 1
    finally:
        del rpc.METHODS["_echo"]


def test_every_error_code() -> None:
    ctx = _ctx()
    assert _call(ctx, "{not json")["error"]["code"] == rpc.PARSE_ERROR
    assert _call(ctx, "[]")["error"]["code"] == rpc.INVALID_REQUEST
    assert _call(ctx, {"id": 1, "method": "time"})["error"]["code"] == rpc.INVALID_REQUEST
    assert _call(ctx, {"jsonrpc": "2.0", "id": 1, "method": "nope"})["error"]["code"] == rpc.METHOD_NOT_FOUND
    params = _call(ctx, {"jsonrpc": "2.0", "id": 1, "method": "authenticate", "params": [1]})
    assert params["error"]["code"] == rpc.INVALID_PARAMS and params["id"] == 1

    def boom(c: rpc.Context, p: dict[str, Any]) -> Any:
        raise RuntimeError("secret detail")

    rpc.register(rpc.Method("_boom", {}, "test only", boom, needs_auth=False))
    try:
        internal = _call(ctx, {"jsonrpc": "2.0", "id": 3, "method": "_boom"})
        assert internal["error"] == {"code": rpc.INTERNAL_ERROR, "message": "internal error"}
    finally:
        del rpc.METHODS["_boom"]


def test_a_notification_gets_no_answer_even_on_error() -> None:
    assert _call(_ctx(), {"jsonrpc": "2.0", "method": "time"}) is None
    assert _call(_ctx(), {"jsonrpc": "2.0", "method": "nope"}) is None


def test_a_batch_answers_an_array_without_the_notifications() -> None:
    answers = _call(
        _ctx(),
        [
            {"jsonrpc": "2.0", "id": 1, "method": "time"},
            {"jsonrpc": "2.0", "method": "time"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope"},
            5,
        ],
    )
    assert [a.get("id") for a in answers] == [1, 2, None]
    assert answers[1]["error"]["code"] == rpc.METHOD_NOT_FOUND
    assert answers[2]["error"]["code"] == rpc.INVALID_REQUEST
    assert _call(_ctx(), [{"jsonrpc": "2.0", "method": "time"}]) is None


def test_error_reply_is_in_the_dialect() -> None:
    reply = rpc.error_reply(Unauthorized("no key"))
    assert reply.status == 401
    assert reply.body["error"]["code"] == rpc.AUTHENTICATION_ERROR and reply.body["error"]["message"] == "no key"


def test_chunks_stay_under_the_limit_in_order_then_the_final_answer() -> None:
    data = [(f"2026-01-01T00:00:{i % 60:02d}.{i % 1000:03d}Z", float(i)) for i in range(5000)]
    chunks = rpc.Chunks(data, {"requestStatus": "finished"}).frames(9, 4096)
    assert len(chunks) > 10 and all(len(c.encode()) <= 4096 for c in chunks)
    decoded = [json.loads(c) for c in chunks]
    assert all(d["id"] == 9 and d["jsonrpc"] == "2.0" for d in decoded)
    assert [v for d in decoded for v in d["result"]["data"].values()] == [float(i) for i in range(5000)]


def test_a_streaming_method_answers_its_chunks_then_finished_and_a_batch_puts_them_first() -> None:
    def stream(c: rpc.Context, p: dict[str, Any]) -> Any:
        return rpc.Chunks([("2026-01-01T00:00:00.000Z", 1), ("2026-01-01T00:00:01.000Z", 2)],
                          {"requestStatus": "finished"})

    rpc.register(rpc.Method("_stream", {}, "test only", stream, needs_auth=False))
    try:
        request = json.dumps({"jsonrpc": "2.0", "id": 4, "method": "_stream"})
        frames = [json.loads(f) for f in rpc.answer(_ctx(), request)]
        data = {"2026-01-01T00:00:00.000Z": 1, "2026-01-01T00:00:01.000Z": 2}
        assert frames == [
            {"jsonrpc": "2.0", "id": 4, "result": {"data": data}},
            {"jsonrpc": "2.0", "id": 4, "result": {"requestStatus": "finished"}},
        ]
        batch = rpc.answer(_ctx(), json.dumps([{"jsonrpc": "2.0", "id": 5, "method": "_stream"},
                                               {"jsonrpc": "2.0", "id": 6, "method": "time"}]))
        assert "data" in json.loads(batch[0])["result"]
        assert [a["id"] for a in json.loads(batch[1])] == [5, 6]
        assert rpc.answer(_ctx(), json.dumps({"jsonrpc": "2.0", "method": "_stream"})) == []
    finally:
        del rpc.METHODS["_stream"]


def test_an_answer_over_the_message_limit_is_an_internal_error_saying_so() -> None:
    ctx = _ctx()
    ctx.limit = 200
    (frame,) = rpc.answer(ctx, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "help"}))
    error = json.loads(frame)["error"]
    assert error["code"] == rpc.INTERNAL_ERROR and error["data"]["limit"] == 200


def test_live_updates_carry_the_subscribe_id_and_the_unit() -> None:
    from watershed.services import live

    context = {"id": 12, "unit": "F", "streams": {"s1": ["/a/device/b/sensor", "C"]}}
    updates = [live.Update("intervals", "rpc-x", "s1", [{"timestamp": 1_767_225_600_000, "value": 100.0}], context),
               live.Update("intervals", "native", "s2", [{"timestamp": 1, "value": 1}])]
    (frame,) = rpc.encode(updates, 128 * 1024)
    assert json.loads(frame) == {"jsonrpc": "2.0", "id": 12, "result": {
        "sensor": "/a/device/b/sensor", "data": {"2026-01-01T00:00:00.000Z": 212.0}}}


def test_authenticate_answers_next_id_after_the_request_id() -> None:
    ctx = _ctx()
    answer = _call(ctx, {"jsonrpc": "2.0", "id": "41", "method": "authenticate", "params": {"code": "good-key"}})
    assert answer["result"] == {"nextId": 42}
    assert _call(_ctx(), {"jsonrpc": "2.0", "id": "x", "method": "authenticate",
                          "params": {"code": "good-key"}})["result"] == {"nextId": 1}
