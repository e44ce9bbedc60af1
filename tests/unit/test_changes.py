"""The changes function: stream records to Changes, dirty markers, TTL and deleted streams."""

from __future__ import annotations

import importlib.util
from typing import Any

import boto3
import pytest

from local.events import stream_batch, stream_record
from watershed import config
from watershed.model import Principal
from watershed.services import cascade, catalog, changes
from watershed.store import rollups

ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/watershed-intervals/stream/x"
TS = 1_780_000_000_000


@pytest.fixture
def stream(aws: None) -> dict[str, Any]:
    boto3.client("s3").create_bucket(Bucket=config.LAKE_BUCKET)
    station = {"id": "station-9", "org": "org-9", "pool": "pool-9"}
    return catalog.create_stream_in(station, {"name": "t", "type": "float"})


def record(event: str, stream_id: str, ts: int, new: Any = None, old: Any = None, seq: int = 1,
           by_ttl: bool = False) -> dict[str, Any]:
    keys = {"pk": {"S": stream_id}, "sk": {"N": str(ts)}}

    def image(value: Any) -> dict[str, Any] | None:
        return None if value is None else {**keys, "v": {"S": str(value)}}

    return stream_record(event_name=event, keys=keys, sequence_number=str(seq), stream_arn=ARN,
                         new_image=image(new), old_image=image(old), created=1_780_000_000.5, by_ttl=by_ttl)


def handler() -> Any:
    spec = importlib.util.spec_from_file_location("changes_handler", "functions/changes/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "changes"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:changes"
    aws_request_id = "r-1"


def test_records_become_changes_with_owner_and_acceptance_time(stream: dict[str, Any]) -> None:
    put = changes.change_of(record("INSERT", stream["id"], TS, new=1.5))
    assert put is not None
    assert (put.org, put.pool, put.station, put.op, put.value, put.at) == ("org-9", "pool-9", "station-9", "put",
                                                                           1.5, 1_780_000_000_500)
    removed = changes.change_of(record("REMOVE", stream["id"], TS, old=1.5))
    assert removed is not None and (removed.op, removed.value) == ("delete", 1.5)


def test_equal_modify_and_ttl_removals_are_no_changes(stream: dict[str, Any]) -> None:
    assert changes.change_of(record("MODIFY", stream["id"], TS, new=2, old=2)) is None
    assert changes.change_of(record("REMOVE", stream["id"], TS, old=2, by_ttl=True)) is None
    assert changes.change_of(record("MODIFY", stream["id"], TS, new=3, old=2)) is not None


def test_batch_marks_each_bucket_once_and_stops_at_a_broken_record(stream: dict[str, Any]) -> None:
    broken = record("INSERT", stream["id"], TS + 2, new=1, seq=3)
    del broken["dynamodb"]["Keys"]
    event = stream_batch([
        record("INSERT", stream["id"], TS, new=1, seq=1),
        record("INSERT", stream["id"], TS + 1, new=2, seq=2),
        broken,
        record("INSERT", stream["id"], TS + 3_600_000, new=3, seq=4),
    ])
    answer = handler().lambda_handler(event, Context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    bucket = TS - TS % rollups.BASE_MS
    assert rollups.dirty_in(stream["id"], 0, 2**53) == {bucket}


def test_removals_after_a_stream_is_deleted_reach_the_lake_but_dirty_nothing(stream: dict[str, Any]) -> None:
    cascade.delete_stream(Principal("org-9", frozenset({"admin"})), stream["id"])
    changes._owners.clear()
    removed = changes.change_of(record("REMOVE", stream["id"], TS, old=4.0))
    assert removed is not None and (removed.org, removed.station, removed.op) == ("org-9", "station-9", "delete")
    assert changes.apply([removed]) == 0
    assert rollups.dirty_in(stream["id"], 0, 2**53) == set()
