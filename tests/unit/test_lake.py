"""The lake writer: rows, partitions, the local bucket layout and Firehose's retry contract."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from watershed import config
from watershed.model import Change
from watershed.services import lake

DAY_MS = 86_400_000


@pytest.fixture
def bucket(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv(lake.STREAM_ENV, raising=False)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=config.LAKE_BUCKET)
    yield s3


def change(org: str, ts: int, value: Any = 1.5, op: str = "put") -> Change:
    return Change(org=org, pool="p", station="s", stream=f"stream-{org}", ts=ts, value=value, op=op, at=ts + 5)


def lake_objects(s3: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for item in s3.list_objects_v2(Bucket=config.LAKE_BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=config.LAKE_BUCKET, Key=item["Key"])["Body"].read()
        found[item["Key"]] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return found


def test_partition_date_is_the_utc_day_of_ts() -> None:
    assert lake.partition_date(0) == "1970-01-01"
    assert lake.partition_date(DAY_MS - 1) == "1970-01-01"
    assert lake.partition_date(DAY_MS) == "1970-01-02"
    assert lake.partition_date(1_764_000_000_000) == "2025-11-24"


def test_local_delivery_writes_one_gzip_object_per_org_and_date(bucket: Any) -> None:
    day = 1_764_000_000_000 - 1_764_000_000_000 % DAY_MS
    changes = [
        change("a", day + 1), change("a", day + 2, {"x": [1, 2]}), change("a", day + DAY_MS + 3, None, "delete"),
        change("b", day + 4, "text"),
    ]
    lake.deliver(changes)
    objects = lake_objects(bucket)
    by_prefix = {key.rsplit("/", 1)[0]: rows for key, rows in objects.items()}
    assert len(objects) == 3
    assert set(by_prefix) == {"org=a/date=2025-11-24", "org=a/date=2025-11-25", "org=b/date=2025-11-24"}
    assert all(key.endswith(".json.gz") for key in objects)
    assert by_prefix["org=a/date=2025-11-24"] == [
        {"org": "a", "pool": "p", "station": "s", "stream": "stream-a", "ts": day + 1, "value": 1.5, "op": "put",
         "at": day + 6},
        {"org": "a", "pool": "p", "station": "s", "stream": "stream-a", "ts": day + 2, "value": {"x": [1, 2]},
         "op": "put", "at": day + 7},
    ]
    assert by_prefix["org=a/date=2025-11-25"][0]["op"] == "delete"
    assert by_prefix["org=b/date=2025-11-24"][0]["value"] == "text"


def test_each_delivery_adds_new_objects_and_never_overwrites(bucket: Any) -> None:
    lake.deliver([change("a", 1000)])
    lake.deliver([change("a", 1000, 2.5)])
    rows = [row for rows in lake_objects(bucket).values() for row in rows]
    assert sorted(row["value"] for row in rows) == [1.5, 2.5]


def test_nothing_to_deliver_writes_nothing(bucket: Any) -> None:
    lake.deliver([])
    assert lake_objects(bucket) == {}


def test_batches_keep_within_put_record_batch_limits() -> None:
    small = [b"x" * 10] * 1201
    assert [len(b) for b in lake.batches(small)] == [500, 500, 201]
    big = [b"y" * 900_000] * 10
    groups = list(lake.batches(big))
    assert all(sum(map(len, g)) <= lake.MAX_BATCH_BYTES for g in groups)
    assert sum(len(g) for g in groups) == 10


class FlakyFirehose:
    """Refuses chosen records on the first calls, like a throttled delivery stream."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.accepted: list[bytes] = []
        self.calls = 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> dict[str, Any]:
        self.calls += 1
        answers = []
        for i, record in enumerate(Records):
            if self.refusals and i % 2 == 0:
                answers.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"})
            else:
                self.accepted.append(record["Data"])
                answers.append({"RecordId": str(i)})
        failed = sum(1 for a in answers if "ErrorCode" in a)
        self.refusals = max(0, self.refusals - 1)
        return {"FailedPutCount": failed, "RequestResponses": answers}


def test_firehose_refused_records_are_retried_until_each_is_in_once(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = FlakyFirehose(refusals=2)
    monkeypatch.setenv(lake.STREAM_ENV, "watershed-lake")
    monkeypatch.setattr(lake, "_firehose", lambda: flaky)
    monkeypatch.setattr(lake.time, "sleep", lambda _s: None)
    changes = [change("a", 1000 + i, i) for i in range(7)]
    lake.deliver(changes)
    assert sorted(json.loads(r)["value"] for r in flaky.accepted) == list(range(7))
    assert not any(b"\n" in r for r in flaky.accepted)
    assert flaky.calls == 3


def test_firehose_that_keeps_refusing_raises_so_the_batch_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    flaky = FlakyFirehose(refusals=100)
    monkeypatch.setenv(lake.STREAM_ENV, "watershed-lake")
    monkeypatch.setattr(lake, "_firehose", lambda: flaky)
    monkeypatch.setattr(lake.time, "sleep", lambda _s: None)
    with pytest.raises(lake.LakeDeliveryError, match="ServiceUnavailableException"):
        lake.deliver([change("a", 1000 + i) for i in range(4)])
    assert flaky.calls == lake.MAX_ATTEMPTS


def test_firehose_path_reaches_a_real_delivery_stream(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake, "_client", None)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="firehose-target")
    boto3.client("firehose", region_name="us-east-1").create_delivery_stream(
        DeliveryStreamName="watershed-lake",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::firehose-target",
        },
    )
    monkeypatch.setenv(lake.STREAM_ENV, "watershed-lake")
    lake.deliver([change("a", 1000 + i, i) for i in range(3)])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="firehose-target").get("Contents", [])]
    text = b"".join(s3.get_object(Bucket="firehose-target", Key=k)["Body"].read() for k in keys)
    assert [json.loads(record)["value"] for record in text.replace(b"}{", b"}\n{").splitlines()] == [0, 1, 2]


def test_deliveries_share_one_firehose_client_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    flaky = FlakyFirehose(refusals=0)

    def client(service: str, **_kwargs: object) -> FlakyFirehose:
        made.append(service)
        return flaky

    monkeypatch.setattr(lake, "_client", None)
    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv(lake.STREAM_ENV, "watershed-lake")
    for n in range(3):
        lake.deliver([change("a", 1000 + n, n)])
    assert made == ["firehose"]
    assert flaky.calls == 3
