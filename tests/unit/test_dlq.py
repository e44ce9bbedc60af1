"""The dead-letter queue CLI's logic: reading the three letter kinds, listing, re-driving (moto SQS)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from watershed import dlq


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        yield sqs, sqs.create_queue(QueueName="dlq")["QueueUrl"]


HANDLER_LETTER = {"reason": "1 item(s) could not be stored", "function": "mqtt_ingest", "event": {"payload": "W10="}}
RULE_LETTER = {
    "ruleName": "watershed_mqtt_data",
    "base64OriginalPayload": "eA==",
    "failures": [{"failedAction": "LambdaAction", "failedResource": "fn", "errorMessage": "too big"}],
}
ASYNC_LETTER = {
    "requestContext": {
        "functionArn": "arn:aws:lambda:us-east-1:1:function:fn:$LATEST",
        "condition": "RetriesExhausted",
    },
    "requestPayload": {"payload": "e30="},
    "responsePayload": {"errorMessage": "boom"},
}


def test_each_letter_kind_names_its_function_reason_and_event() -> None:
    handler = dlq.read_letter("1", "r", json.dumps(HANDLER_LETTER))
    rule = dlq.read_letter("2", "r", json.dumps(RULE_LETTER))
    failed_async = dlq.read_letter("3", "r", json.dumps(ASYNC_LETTER))
    garbage = dlq.read_letter("4", "r", "not json")
    assert (handler.function, handler.reason, handler.redrivable) == (
        "mqtt_ingest", "1 item(s) could not be stored", True,
    )
    assert (rule.function, rule.reason, rule.redrivable) == ("fn", "too big", False)
    assert (failed_async.function, failed_async.event, failed_async.reason) == (
        "arn:aws:lambda:us-east-1:1:function:fn:$LATEST", {"payload": "e30="}, "boom",
    )
    assert (garbage.reason, garbage.redrivable) == ("the letter is not JSON", False)


def test_listing_leaves_the_letters_in_the_queue(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**HANDLER_LETTER, "n": n}))
    first = dlq.list_letters(sqs, url)
    again = dlq.list_letters(sqs, url, max_letters=5)
    assert sorted(letter["letter"]["n"] for letter in first) == list(range(12))
    assert len(again) == 5


def test_a_redrive_deletes_what_ran_and_keeps_the_rest(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(HANDLER_LETTER))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(RULE_LETTER))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**HANDLER_LETTER, "function": "broken"}))
    ran: list[tuple[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        if function == "broken":
            raise dlq.InvocationFailed("it failed")
        ran.append((function, event))
        return {"stored": 1}

    outcome = dlq.redrive(sqs, url, invoke)
    assert (outcome["redriven"], outcome["skipped"], outcome["failed"]) == (1, 1, 1)
    assert ran == [("mqtt_ingest", {"payload": "W10="})]
    left = sorted(str(letter["function"]) for letter in dlq.list_letters(sqs, url))
    assert left == ["broken", "fn"]


class _FakeLambda:
    def __init__(self, error: bool) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        answer: dict[str, Any] = {"Payload": io.BytesIO(b'{"errorMessage": "x"}' if self.error else b'{"ok": 1}')}
        if self.error:
            answer["FunctionError"] = "Unhandled"
        return answer


def test_the_cloud_invoker_calls_lambda_by_name_and_raises_on_a_function_error() -> None:
    good, bad = _FakeLambda(error=False), _FakeLambda(error=True)
    assert dlq.lambda_invoker(good)("fn", {"a": 1}) == {"ok": 1}
    assert good.calls == [{"FunctionName": "fn", "InvocationType": "RequestResponse", "Payload": '{"a": 1}'}]
    with pytest.raises(dlq.InvocationFailed):
        dlq.lambda_invoker(bad)("fn", {})


STREAM_EVENT = {
    "Records": [
        {
            "eventID": "1",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"pk": {"S": "stream#s1"}, "sk": {"N": "1764626400000"}},
                "NewImage": {"pk": {"S": "stream#s1"}, "sk": {"N": "1764626400000"}, "v": {"S": "1.5"}},
                "SequenceNumber": "800000000003126276362",
                "SizeBytes": 40,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/intervals/stream/2026-11-14T00:04:06.388",
        }
    ]
}
CHANGES_ARN = "arn:aws:lambda:us-east-1:123456789012:function:watershed-dev-changes"


def on_failure_record(payload: Any) -> dict[str, Any]:
    """Lambda's S3 on-failure record for a DynamoDB stream batch, as its documentation shows it."""
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": CHANGES_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 6,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-12-01T21:13:49.717Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-00000001573689847184-864758bb",
            "startSequenceNumber": "800000000003126276362",
            "endSequenceNumber": "800000000003126276362",
            "approximateArrivalOfFirstRecord": "2026-12-01T21:13:19Z",
            "approximateArrivalOfLastRecord": "2026-12-01T21:13:19Z",
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/intervals/stream/2026-11-14T00:04:06.388",
        },
    }
    if payload is not None:
        record["payload"] = payload
    return record


def failure_key(minute: int) -> str:
    return (
        "aws/lambda/a1b2c3d4-5678-90ab-cdef-11111EXAMPLE/shardId-00000001573689847184-864758bb/"
        f"2026/12/01/2026-12-01T21.{minute:02d}.00-{minute:08d}-0000-0000-0000-000000000000"
    )


@pytest.fixture
def failures(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="failures")
        yield s3


def test_a_stream_failure_record_gives_its_function_reason_and_whole_batch() -> None:
    as_object = dlq.read_failure("k", json.dumps(on_failure_record(STREAM_EVENT)).encode())
    as_text = dlq.read_failure("k", json.dumps(on_failure_record(json.dumps(STREAM_EVENT))).encode())
    metadata_only = dlq.read_failure("k", json.dumps(on_failure_record(None)).encode())
    assert (as_object.function, as_object.reason, as_object.event) == (
        CHANGES_ARN, "RetryAttemptsExhausted (Unhandled)", STREAM_EVENT,
    )
    assert as_text.event == STREAM_EVENT and as_text.redrivable
    assert as_object.summary()["records"] == 1
    assert as_object.summary()["batch"]["shardId"] == "shardId-00000001573689847184-864758bb"
    assert not metadata_only.redrivable
    assert dlq.read_failure("k", b"\xff not json").reason == "the record is not JSON"


def test_stream_failures_are_listed_oldest_first_and_left_in_the_bucket(failures: Any) -> None:
    for minute in (30, 5, 17):
        body = json.dumps(on_failure_record({"Records": [{**STREAM_EVENT["Records"][0], "eventID": str(minute)}]}))
        failures.put_object(Bucket="failures", Key=failure_key(minute), Body=body.encode())
    failures.put_object(Bucket="failures", Key="elsewhere/not-a-failure", Body=b"{}")
    listed = dlq.list_failures(failures, "failures")
    assert [item["key"] for item in listed] == [failure_key(5), failure_key(17), failure_key(30)]
    assert [item["key"] for item in dlq.list_failures(failures, "failures", max_records=1)] == [failure_key(5)]
    assert failures.list_objects_v2(Bucket="failures")["KeyCount"] == 4


def test_a_stream_redrive_reruns_the_batch_and_deletes_only_what_was_taken(failures: Any) -> None:
    partial = {"Records": [{**STREAM_EVENT["Records"][0], "eventID": "partial"}]}
    failures.put_object(Bucket="failures", Key=failure_key(1), Body=json.dumps(on_failure_record(STREAM_EVENT)))
    failures.put_object(Bucket="failures", Key=failure_key(2), Body=json.dumps(on_failure_record(partial)))
    failures.put_object(Bucket="failures", Key=failure_key(3), Body=json.dumps(on_failure_record(None)))
    ran: list[tuple[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Any:
        ran.append((function, event))
        if event["Records"][0]["eventID"] == "partial":
            return {"batchItemFailures": [{"itemIdentifier": "800000000003126276362"}]}
        return {"batchItemFailures": []}

    outcome = dlq.redrive_failures(failures, "failures", invoke)
    assert (outcome["redriven"], outcome["skipped"], outcome["failed"]) == (1, 1, 1)
    assert ran == [(CHANGES_ARN, STREAM_EVENT), (CHANGES_ARN, partial)]
    left = [item["Key"] for item in failures.list_objects_v2(Bucket="failures")["Contents"]]
    assert left == [failure_key(2), failure_key(3)]


def test_the_cli_lists_stream_failures_from_the_bucket_it_is_given(
    failures: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failures.put_object(Bucket="failures", Key=failure_key(9), Body=json.dumps(on_failure_record(STREAM_EVENT)))
    monkeypatch.delenv(dlq.FAILURES_ENV, raising=False)
    assert dlq.main(["list-streams"]) == 2
    monkeypatch.setenv(dlq.FAILURES_ENV, "failures")
    assert dlq.main(["list-streams"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["function"] == CHANGES_ARN and json.loads(line)["redrivable"] is True
