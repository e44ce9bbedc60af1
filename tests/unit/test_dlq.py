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
