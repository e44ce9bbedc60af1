"""The lake: every change the intervals table accepted, as gzip NDJSON rows in S3 (docs/architecture.md, Storage).

Row (one JSON object per line, keys in this order):
    {"org", "pool", "station", "stream", "ts", "value", "op", "at"}
    ts     the interval's timestamp, integer epoch milliseconds UTC
    value  the interval's JSON value as stored; null for op "delete"
    op     "put" or "delete"
    at     when the intervals table accepted the change, integer epoch milliseconds UTC

Partitions: `org=<row.org>/date=<YYYY-MM-DD>/` where the date is the UTC calendar date of `ts`
(not of `at`): a late interval lands in its own day. Firehose dynamic partitioning computes the
same keys with the JQ query
    {org: .org, date: (.ts / 1000 | floor | todate | .[0:10])}
(infra/lake.py's equivalent also accepts an ISO `ts`) and the S3 prefix
`org=!{partitionKeyFromQuery:org}/date=!{partitionKeyFromQuery:date}/`. A Firehose record is one
row without a trailing newline: the stream's AppendDelimiterToRecord processor adds it.

Cloud (LAKE_STREAM set): PutRecordBatch to that delivery stream, at most 500 records and 4 MiB
per call; records Firehose refuses are retried with backoff and, if they still fail, deliver()
raises so the stream batch that carried them is retried. Nothing is dropped silently.
Local (LAKE_STREAM unset): one gzip NDJSON object per (org, date) per call, written straight to
LAKE_BUCKET under the same prefixes, named `<yyyymmddThhmmssZ>-<uuid>.json.gz`.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from watershed import blobs, config
from watershed.model import Change

STREAM_ENV = config.LAKE_STREAM_ENV
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_ATTEMPTS = 6
RETRYABLE_CALL_ERRORS = frozenset({"ServiceUnavailableException", "ThrottlingException", "InternalFailure"})


class LakeDeliveryError(RuntimeError):
    """Firehose did not take every row; the caller must retry the batch that carried them."""


def row(change: Change) -> dict[str, Any]:
    return {
        "org": change.org,
        "pool": change.pool,
        "station": change.station,
        "stream": change.stream,
        "ts": change.ts,
        "value": change.value,
        "op": change.op,
        "at": change.at,
    }


def partition_date(ts: int) -> str:
    """The UTC date of an epoch-ms timestamp, the `date=` partition of its row."""
    return datetime.fromtimestamp(ts // 1000, tz=UTC).strftime("%Y-%m-%d")


def prefix(org: str, date: str) -> str:
    return f"org={org}/date={date}/"


def encode(row_: dict[str, Any]) -> bytes:
    """One row as a Firehose record: compact JSON, no newline (the delivery stream appends it)."""
    return json.dumps(row_, separators=(",", ":"), allow_nan=False).encode()


def deliver(changes: list[Change]) -> None:
    """Send accepted changes to the lake; raises rather than lose any of them."""
    if not changes:
        return
    records = [encode(row(c)) for c in changes]
    stream = os.environ.get(STREAM_ENV)
    if stream:
        _to_firehose(stream, records)
    else:
        _to_bucket(changes, records)


# cloud


_client: Any = None


def _firehose() -> Any:
    """One Firehose client per process (a warm Lambda container reuses it for every delivery)."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("firehose", region_name=config.REGION)
    return _client


def batches(records: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Groups within PutRecordBatch's limits: 500 records and 4 MiB."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + len(record) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


def _to_firehose(stream: str, records: list[bytes]) -> None:
    client = _firehose()
    for batch in batches(records):
        _put_batch(client, stream, batch)


def _put_batch(client: Any, stream: str, batch: list[bytes]) -> None:
    from botocore.exceptions import ClientError

    pending = batch
    errors: set[str] = set()
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(min(0.1 * 2**attempt, 3.0))
        try:
            records = [{"Data": r} for r in pending]
            result = client.put_record_batch(DeliveryStreamName=stream, Records=records)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code not in RETRYABLE_CALL_ERRORS:
                raise
            errors = {code}
            continue
        if not result.get("FailedPutCount"):
            return
        answers = result.get("RequestResponses") or []
        failed = [(r, a) for r, a in zip(pending, answers, strict=True) if a.get("ErrorCode")]
        errors = {str(a["ErrorCode"]) for _, a in failed}
        pending = [r for r, _ in failed]
        if not pending:
            return
    raise LakeDeliveryError(
        f"Firehose refused {len(pending)} lake rows after {MAX_ATTEMPTS} attempts: "
        + ", ".join(sorted(errors))
    )


# local


def _to_bucket(changes: list[Change], records: list[bytes]) -> None:
    groups: dict[tuple[str, str], list[bytes]] = {}
    for change, record in zip(changes, records, strict=True):
        groups.setdefault((change.org, partition_date(change.ts)), []).append(record)
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    for (org, date), lines in groups.items():
        key = f"{prefix(org, date)}{stamp}-{uuid.uuid4()}.json.gz"
        ndjson = b"".join(line + b"\n" for line in lines)
        blobs.put(config.LAKE_BUCKET, key, gzip.compress(ndjson), "application/gzip")


def read_rows(bucket: str, key: str) -> list[dict[str, Any]]:
    """The rows of one lake object (tests and tools)."""
    found = blobs.get(bucket, key)
    if found is None:
        return []
    return [json.loads(line) for line in gzip.decompress(found[0]).splitlines() if line.strip()]
