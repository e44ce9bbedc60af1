"""The MQTT dead-letter queue: `python -m watershed.dlq list|redrive [--max N]` (queue in MQTT_DLQ_URL).

Three kinds of letters land there, and each names the function that should have handled it:
- the handlers' own (services.mqtt.dead_letters): the reason, the rejected items with index and field, the
  `function` that ran and the `event` that re-runs just what failed;
- a topic rule's error action (AWS IoT): `ruleName`, `topic`, `base64OriginalPayload` and
  `failures[].failedResource`; the local broker adds `function` and `event` when the rule got as far
  as building one;
- a Lambda asynchronous invocation that used up its retries (on-failure destination):
  `requestContext.functionArn` and `requestPayload`.
A re-drive invokes the function with the event and deletes the letter once the function ran;
whatever still cannot be stored comes back as a new letter. Letters without an event (a payload
over the size limit, a rule that never built one) are listed and left in the queue.

Table-stream consumers (the `changes` function) give up into an S3 bucket instead
(`python -m watershed.dlq list-streams|redrive-streams`, bucket in STREAM_FAILURES_BUCKET, stack
output StreamFailuresBucket): Lambda's on-failure record there carries `requestContext`,
`responseContext`, `DDBStreamBatchInfo` and, only in S3, `payload`, the whole batch the function
was invoked with, so it can be re-run after DynamoDB Streams has trimmed the records (24 hours).
A re-drive invokes the function with that batch and deletes the object once every record was
taken (no `batchItemFailures`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watershed.config import MQTT_DLQ_ENV, STREAM_FAILURES_ENV

DLQ_ENV = MQTT_DLQ_ENV
FAILURES_ENV = STREAM_FAILURES_ENV
FAILURES_PREFIX = "aws/lambda/"
"""Lambda names an on-failure object `aws/lambda/<mapping id>/<shard id>/YYYY/MM/DD/<time>-<uuid>`."""
LIST_VISIBILITY_S = 30
"""How long a listed letter stays hidden while the listing pages through the queue."""


@dataclass(frozen=True)
class Letter:
    """One dead letter: its SQS identity, why it is there, and how to re-drive it (if it can be)."""

    message_id: str
    receipt: str
    body: Any
    reason: str
    function: str | None
    event: Any

    @property
    def redrivable(self) -> bool:
        return bool(self.function) and isinstance(self.event, dict)

    def summary(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "reason": self.reason,
            "function": self.function,
            "redrivable": self.redrivable,
            "letter": self.body,
        }


def read_letter(message_id: str, receipt: str, raw: str) -> Letter:
    """A letter of any of the three kinds; an unreadable body is listed as such, never dropped."""
    try:
        body = json.loads(raw)
    except ValueError:
        return Letter(message_id, receipt, raw, "the letter is not JSON", None, None)
    if not isinstance(body, dict):
        return Letter(message_id, receipt, body, "the letter is not a JSON object", None, None)
    if isinstance(body.get("storedAt"), dict):
        body = _stored_letter(body)
    if "requestContext" in body and "requestPayload" in body:
        context = body.get("requestContext") or {}
        response = body.get("responsePayload") or {}
        reason = str(response.get("errorMessage") or context.get("condition") or "asynchronous invocation failed")
        return Letter(message_id, receipt, body, reason, context.get("functionArn"), body.get("requestPayload"))
    failures = body.get("failures") or []
    if failures and isinstance(failures, list):
        first = failures[0] if isinstance(failures[0], dict) else {}
        function = body.get("function") or first.get("failedResource")
        reason = str(first.get("errorMessage") or "the topic rule action failed")
        return Letter(message_id, receipt, body, reason, function, body.get("event"))
    return Letter(message_id, receipt, body, str(body.get("reason") or ""), body.get("function"), body.get("event"))


def _stored_letter(stub: dict[str, Any]) -> dict[str, Any]:
    """A letter too big for SQS, read back from where services.mqtt.dead_letters stored it."""
    from watershed import blobs

    where = stub["storedAt"]
    found = blobs.get(str(where.get("bucket")), str(where.get("key")))
    if found is None:
        return {**stub, "reason": f"{stub.get('reason')} (the stored letter is gone)", "event": None}
    body = json.loads(found[0])
    return {**body, "storedAt": where} if isinstance(body, dict) else stub


def receive(sqs: Any, url: str, max_letters: int, visibility_s: int) -> list[Letter]:
    """Up to `max_letters` letters, hidden for `visibility_s` so paging sees each once."""
    letters: dict[str, Letter] = {}
    while len(letters) < max_letters:
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, max_letters - len(letters)),
            VisibilityTimeout=visibility_s,
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages") or []
        if not messages:
            break
        for message in messages:
            letters.setdefault(
                message["MessageId"], read_letter(message["MessageId"], message["ReceiptHandle"], message["Body"])
            )
    return list(letters.values())


def _release(sqs: Any, url: str, letter: Letter) -> None:
    """Make a letter visible again right away."""
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=letter.receipt, VisibilityTimeout=0)


def list_letters(sqs: Any, url: str, max_letters: int = 100) -> list[dict[str, Any]]:
    """The letters in the queue (up to `max_letters`), left in it."""
    letters = receive(sqs, url, max_letters, LIST_VISIBILITY_S)
    for letter in letters:
        _release(sqs, url, letter)
    return [letter.summary() for letter in letters]


def redrive(
    sqs: Any, url: str, invoke: Callable[[str, dict[str, Any]], Any], max_letters: int = 100
) -> dict[str, Any]:
    """Re-run up to `max_letters` letters through their functions; each one ran is deleted.

    `invoke(function, event)` raises when the function could not run; that letter stays.
    """
    outcome: dict[str, Any] = {"redriven": 0, "skipped": 0, "failed": 0, "letters": []}
    for letter in receive(sqs, url, max_letters, LIST_VISIBILITY_S):
        entry = {"messageId": letter.message_id, "function": letter.function, "reason": letter.reason}
        if not letter.redrivable:
            _release(sqs, url, letter)
            outcome["skipped"] += 1
            outcome["letters"].append({**entry, "result": "skipped: the letter has no event to re-run"})
            continue
        assert letter.function is not None
        try:
            result = invoke(letter.function, letter.event)
        except Exception as error:
            _release(sqs, url, letter)
            outcome["failed"] += 1
            outcome["letters"].append({**entry, "result": f"failed: {type(error).__name__}: {error}"})
            continue
        sqs.delete_message(QueueUrl=url, ReceiptHandle=letter.receipt)
        outcome["redriven"] += 1
        outcome["letters"].append({**entry, "result": result})
    return outcome


class InvocationFailed(RuntimeError):
    """The function ran and raised (Lambda's `FunctionError`)."""


def lambda_invoker(client: Any) -> Callable[[str, dict[str, Any]], Any]:
    """`invoke(function, event)` through Lambda Invoke (synchronous), by name or ARN."""

    def invoke(function: str, event: dict[str, Any]) -> Any:
        answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event))
        payload = answer["Payload"].read()
        result = json.loads(payload) if payload else None
        if answer.get("FunctionError"):
            raise InvocationFailed(json.dumps(result)[:500])
        return result

    return invoke


@dataclass(frozen=True)
class StreamFailure:
    """One S3 on-failure record of a table-stream mapping: which function, why, and the batch."""

    key: str
    body: Any
    reason: str
    function: str | None
    batch: dict[str, Any]
    event: Any

    @property
    def redrivable(self) -> bool:
        return bool(self.function) and isinstance(self.event, dict) and isinstance(self.event.get("Records"), list)

    def summary(self) -> dict[str, Any]:
        records = self.event.get("Records") if isinstance(self.event, dict) else None
        return {
            "key": self.key,
            "reason": self.reason,
            "function": self.function,
            "redrivable": self.redrivable,
            "records": len(records) if isinstance(records, list) else None,
            "batch": self.batch,
        }


def read_failure(key: str, raw: bytes) -> StreamFailure:
    """An on-failure record; `payload` is the invocation event, as an object or as JSON text."""
    try:
        body = json.loads(raw)
    except ValueError:
        return StreamFailure(key, raw.decode(errors="replace"), "the record is not JSON", None, {}, None)
    if not isinstance(body, dict):
        return StreamFailure(key, body, "the record is not a JSON object", None, {}, None)
    context = body.get("requestContext") or {}
    response = body.get("responseContext") or {}
    batch = body.get("DDBStreamBatchInfo") or body.get("KinesisBatchInfo") or {}
    event = body.get("payload")
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            event = None
    condition = str(context.get("condition") or "the stream batch failed")
    error = response.get("functionError")
    reason = f"{condition} ({error})" if error else condition
    return StreamFailure(key, body, reason, context.get("functionArn"), batch, event)


def failure_keys(s3: Any, bucket: str, max_records: int) -> list[str]:
    """The keys of up to `max_records` on-failure records, oldest first (keys start with the date)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=FAILURES_PREFIX):
        keys.extend(item["Key"] for item in page.get("Contents") or [])
    return sorted(keys, key=_failure_time)[:max_records]


def _failure_time(key: str) -> str:
    """`aws/lambda/<mapping>/<shard>/YYYY/MM/DD/<time>-<uuid>` sorts by its last four segments."""
    return "/".join(key.split("/")[-4:])


def read_failures(s3: Any, bucket: str, max_records: int = 100) -> list[StreamFailure]:
    return [
        read_failure(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for key in failure_keys(s3, bucket, max_records)
    ]


def list_failures(s3: Any, bucket: str, max_records: int = 100) -> list[dict[str, Any]]:
    """The on-failure records in the bucket (up to `max_records`), left there."""
    return [failure.summary() for failure in read_failures(s3, bucket, max_records)]


def redrive_failures(
    s3: Any, bucket: str, invoke: Callable[[str, dict[str, Any]], Any], max_records: int = 100
) -> dict[str, Any]:
    """Re-run each record's batch through its function; a record is deleted once all of it was taken.

    A consumer answers a partial failure with `batchItemFailures`; then the record stays.
    """
    outcome: dict[str, Any] = {"redriven": 0, "skipped": 0, "failed": 0, "records": []}
    for failure in read_failures(s3, bucket, max_records):
        entry = {"key": failure.key, "function": failure.function, "reason": failure.reason}
        if not failure.redrivable:
            outcome["skipped"] += 1
            outcome["records"].append({**entry, "result": "skipped: the record holds no batch to re-run"})
            continue
        assert failure.function is not None
        try:
            result = invoke(failure.function, failure.event)
        except Exception as error:
            outcome["failed"] += 1
            outcome["records"].append({**entry, "result": f"failed: {type(error).__name__}: {error}"})
            continue
        refused = result.get("batchItemFailures") if isinstance(result, dict) else None
        if refused:
            outcome["failed"] += 1
            outcome["records"].append({**entry, "result": f"failed: {len(refused)} record(s) still refused"})
            continue
        s3.delete_object(Bucket=bucket, Key=failure.key)
        outcome["redriven"] += 1
        outcome["records"].append({**entry, "result": result})
    return outcome


def _streams(command: str, max_records: int) -> int:
    bucket = os.environ.get(FAILURES_ENV)
    if not bucket:
        print(f"set {FAILURES_ENV} to the bucket name (stack output StreamFailuresBucket)", file=sys.stderr)
        return 2
    import boto3

    s3 = boto3.client("s3")
    if command == "list-streams":
        for failure in list_failures(s3, bucket, max_records):
            print(json.dumps(failure, default=str))
        return 0
    outcome = redrive_failures(s3, bucket, lambda_invoker(boto3.client("lambda")), max_records)
    print(json.dumps(outcome, default=str, indent=2))
    return 0 if not outcome["failed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m watershed.dlq", description="the MQTT dead-letter queue and the table-stream failures"
    )
    parser.add_argument("command", choices=("list", "redrive", "list-streams", "redrive-streams"))
    parser.add_argument("--max", type=int, default=100, help="at most this many letters or records (default 100)")
    args = parser.parse_args(argv)
    if args.command in ("list-streams", "redrive-streams"):
        return _streams(args.command, args.max)
    url = os.environ.get(DLQ_ENV)
    if not url:
        print(f"set {DLQ_ENV} to the queue URL (stack output MqttDeadLetterQueue)", file=sys.stderr)
        return 2
    import boto3

    sqs = boto3.client("sqs")
    if args.command == "list":
        for letter in list_letters(sqs, url, args.max):
            print(json.dumps(letter, default=str))
        return 0
    outcome = redrive(sqs, url, lambda_invoker(boto3.client("lambda")), args.max)
    print(json.dumps(outcome, default=str, indent=2))
    return 0 if not outcome["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
