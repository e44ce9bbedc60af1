"""The AWS event shapes the local runtime hands to handlers; the Runtime's streams and schedules."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.manifest import Function, Kind, Schedule, TableStream
from local import events
from local.http import policy_allows
from local.runtime import Runtime, rate_seconds


def test_rest_proxy_event_has_api_gateway_v1_shape() -> None:
    event = events.rest_proxy_event(
        method="post",
        resource="/v1/streams/{id}/intervals",
        path="/v1/streams/s-1/intervals",
        headers=[("content-type", "application/json"), ("x-tag", "a"), ("x-tag", "b")],
        query=[("limit", "10"), ("label", "x"), ("label", "y")],
        path_parameters={"id": "s-1"},
        body=b'[{"timestamp": 1, "value": 2}]',
        authorizer={"org": "o-1", "principalId": "k-1"},
    )
    assert event["resource"] == "/v1/streams/{id}/intervals"
    assert event["path"] == "/v1/streams/s-1/intervals"
    assert event["httpMethod"] == "POST"
    assert event["headers"] == {"Content-Type": "application/json", "X-Tag": "b"}
    assert event["multiValueHeaders"]["X-Tag"] == ["a", "b"]
    assert event["queryStringParameters"] == {"limit": "10", "label": "y"}
    assert event["multiValueQueryStringParameters"]["label"] == ["x", "y"]
    assert event["pathParameters"] == {"id": "s-1"}
    assert event["stageVariables"] is None
    assert event["body"] == '[{"timestamp": 1, "value": 2}]'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/v1/streams/{id}/intervals"
    assert context["httpMethod"] == "POST"
    assert context["stage"] == "local"
    assert context["path"] == "/local/v1/streams/s-1/intervals"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["authorizer"] == {"org": "o-1", "principalId": "k-1"}
    assert context["requestId"]


def test_rest_proxy_event_without_parameters_uses_nulls() -> None:
    event = events.rest_proxy_event(method="GET", resource="/v1/health", path="/v1/health")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["body"] is None
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(
    ("content_type", "binary_route", "expect_base64"),
    [
        ("application/octet-stream", False, True),
        ("image/png", False, True),
        ("text/plain; charset=utf-8", False, False),
        ("application/vnd.api+json", False, False),
        ("application/json", True, True),
        (None, False, False),
    ],
)
def test_body_is_base64_for_binary_routes_and_types(
    content_type: str | None, binary_route: bool, expect_base64: bool
) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    event = events.rest_proxy_event(
        method="POST", resource="/x", path="/x", headers=headers, body=b"hello", binary=binary_route
    )
    assert event["isBase64Encoded"] is expect_base64
    decoded = base64.b64decode(event["body"]) if expect_base64 else event["body"].encode()
    assert decoded == b"hello"


def test_non_utf8_body_without_type_is_base64() -> None:
    event = events.rest_proxy_event(method="POST", resource="/x", path="/x", body=b"\xff\xfe")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_request_authorizer_event_carries_method_arn_and_headers() -> None:
    event = events.rest_authorizer_event(
        method="GET",
        resource="/v1/pools",
        path="/v1/pools",
        headers=[("authorization", "ApiKey k")],
    )
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:000000000000:local/local/GET/v1/pools"
    assert event["headers"]["Authorization"] == "ApiKey k"
    assert event["httpMethod"] == "GET"
    assert event["resource"] == "/v1/pools"
    assert event["requestContext"]["resourcePath"] == "/v1/pools"


def test_authorizer_context_stringifies_values_and_adds_principal() -> None:
    context = events.authorizer_context("key-1", {"org": "o", "admin": True, "n": 3})
    assert context["org"] == "o"
    assert context["admin"] == "true"
    assert context["n"] == "3"
    assert context["principalId"] == "key-1"
    with pytest.raises(ValueError, match="pools"):
        events.authorizer_context("key-1", {"pools": ["a"]})


def test_policy_evaluation_allows_api_wide_and_explicit_deny_wins() -> None:
    arn = events.method_arn("DELETE", "/v1/pools/p-1")
    wide = "arn:aws:execute-api:us-east-1:000000000000:local/local/*/*"
    allow = {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": wide}]}
    assert policy_allows(allow, arn)
    explicit_deny = {"Action": "execute-api:*", "Effect": "Deny", "Resource": [arn]}
    deny = {"Statement": [*allow["Statement"], explicit_deny]}
    assert not policy_allows(deny, arn)
    other = {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": wide + "/GET/x"}]}
    assert not policy_allows(other, arn)


def test_scheduled_event_shape() -> None:
    event = events.scheduled_event("rollup-schedule-0")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/rollup-schedule-0"]
    assert event["detail"] == {}
    assert event["time"].endswith("Z") and len(event["time"]) == 20


def test_stream_record_shape_and_ttl_identity() -> None:
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026"
    insert = events.stream_record(
        event_name="INSERT",
        keys={"pk": {"S": "s"}, "sk": {"N": "1"}},
        new_image={"pk": {"S": "s"}, "sk": {"N": "1"}, "b": {"B": b"\x00\x01"}},
        sequence_number="100",
        stream_arn=arn,
    )
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"] == arn
    assert insert["awsRegion"] == "us-east-1"
    assert insert["dynamodb"]["SequenceNumber"] == "100"
    assert insert["dynamodb"]["NewImage"]["b"] == {"B": "AAE="}
    assert "OldImage" not in insert["dynamodb"]
    assert "userIdentity" not in insert
    expired = events.stream_record(
        event_name="REMOVE",
        keys={"pk": {"S": "s"}, "sk": {"N": "1"}},
        old_image={"pk": {"S": "s"}, "sk": {"N": "1"}},
        sequence_number="101",
        stream_arn=arn,
        by_ttl=True,
    )
    assert expired["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert events.stream_batch([insert, expired])["Records"][1]["eventName"] == "REMOVE"


def test_iot_presence_and_authorizer_events() -> None:
    connected = events.iot_presence_event("thing:s-1", True, timestamp_ms=5)
    assert connected["eventType"] == "connected"
    assert connected["clientId"] == "thing:s-1"
    assert connected["timestamp"] == 5
    assert "disconnectReason" not in connected
    gone = events.iot_presence_event("thing:s-1", False)
    assert gone["eventType"] == "disconnected"
    assert gone["disconnectReason"] == "CLIENT_INITIATED_DISCONNECT"
    assert events.presence_topic("c", False) == "$aws/events/presence/disconnected/c"
    auth = events.iot_authorizer_event(client_id="thing:s-1", username="s-1", password=b"secret")
    assert auth["protocols"] == ["mqtt"]
    assert auth["protocolData"]["mqtt"] == {
        "username": "s-1",
        "password": base64.b64encode(b"secret").decode(),
        "clientId": "thing:s-1",
    }
    assert auth["signatureVerified"] is False
    assert auth["connectionMetadata"]["id"]


def test_rate_expressions() -> None:
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 * * * ? *)") is None


# The Runtime on throwaway functions: a recorder of stream batches that can fail a record once.

RECORDER = """
import json
from pathlib import Path

LOG = Path({log!r})
FAIL_ONCE = Path({fail!r})


def lambda_handler(event, context):
    with LOG.open("a") as out:
        out.write(json.dumps({{"event": event, "function": context.function_name}}) + "\\n")
    records = event.get("Records", [])
    if FAIL_ONCE.exists() and len(records) > 1:
        FAIL_ONCE.unlink()
        return {{"batchItemFailures": [{{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}}]}}
    return {{"batchItemFailures": []}}
"""


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[Runtime, Path, Path]]:
    log, fail = tmp_path / "calls.ndjson", tmp_path / "fail-once"
    folder = tmp_path / "functions" / "recorder"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(RECORDER.format(log=str(log), fail=str(fail)))
    function = Function(
        "recorder",
        kind=Kind.WORKER,
        streams=(TableStream("intervals", batch_size=10),),
        schedules=(Schedule("rate(1 minute)"),),
    )
    runtime = Runtime([function], functions_dir=tmp_path / "functions", scheduler=False, poll_interval_s=3600)
    with runtime:
        yield runtime, log, fail


def _calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_drain_delivers_inserts_modifies_and_removes(recorder: tuple[Runtime, Path, Path]) -> None:
    from watershed.store.tables import IntervalItem

    runtime, log, _ = recorder
    runtime.call(lambda: [IntervalItem("s-1", ts, v=str(ts)).save() for ts in (1, 2, 3)])
    assert runtime.drain() == 3
    (call,) = _calls(log)
    assert call["function"] == "recorder"
    records = call["event"]["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"] * 3
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb"
    assert ":table/watershed-intervals/stream/" in first["eventSourceARN"]
    assert first["dynamodb"]["Keys"] == {"pk": {"S": "s-1"}, "sk": {"N": "1"}}
    assert first["dynamodb"]["NewImage"]["v"] == {"S": "1"}
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], float)

    runtime.call(lambda: (IntervalItem("s-1", 1, v="changed").save(), IntervalItem("s-1", 2).delete()))
    assert runtime.drain() == 2
    assert runtime.drain() == 0
    modify, remove = _calls(log)[1]["event"]["Records"]
    assert modify["eventName"] == "MODIFY"
    assert modify["dynamodb"]["OldImage"]["v"] == {"S": "1"}
    assert modify["dynamodb"]["NewImage"]["v"] == {"S": "changed"}
    assert remove["eventName"] == "REMOVE"
    assert "NewImage" not in remove["dynamodb"]


def test_partial_batch_failure_is_redelivered_from_the_failed_record(
    recorder: tuple[Runtime, Path, Path],
) -> None:
    from watershed.store.tables import IntervalItem

    runtime, log, fail = recorder
    fail.touch()
    runtime.call(lambda: [IntervalItem("s-2", ts, v="x").save() for ts in (10, 20, 30)])
    assert runtime.drain() == 3
    deliveries = [[r["dynamodb"]["Keys"]["sk"]["N"] for r in c["event"]["Records"]] for c in _calls(log)]
    assert deliveries == [["10", "20", "30"], ["20", "30"]]


def test_batches_respect_batch_size(recorder: tuple[Runtime, Path, Path]) -> None:
    from watershed.store.tables import IntervalItem

    runtime, log, _ = recorder
    runtime.call(lambda: [IntervalItem("s-3", ts, v="x").save() for ts in range(25)])
    assert runtime.drain() == 25
    assert [len(c["event"]["Records"]) for c in _calls(log)] == [10, 10, 5]


def test_fire_sends_the_scheduled_event(recorder: tuple[Runtime, Path, Path]) -> None:
    runtime, log, _ = recorder
    assert runtime.fire("recorder") == {"batchItemFailures": []}
    (call,) = _calls(log)
    assert call["event"]["detail-type"] == "Scheduled Event"
    assert call["event"]["resources"][0].endswith(":rule/recorder-schedule-0")


def test_tables_have_stream_and_ttl_and_buckets_exist(recorder: tuple[Runtime, Path, Path]) -> None:
    runtime, _, _ = recorder

    def describe() -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        table = runtime.client("dynamodb").describe_table(TableName="watershed-intervals")["Table"]
        ttl = runtime.client("dynamodb").describe_time_to_live(TableName="watershed-intervals")
        buckets = [b["Name"] for b in runtime.client("s3").list_buckets()["Buckets"]]
        return table, ttl["TimeToLiveDescription"], buckets

    table, ttl, buckets = runtime.call(describe)
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    assert {"watershed-lake", "watershed-objects"} <= set(buckets)
