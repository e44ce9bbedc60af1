"""Exports below HTTP: when an export leaves the request for the worker, and what the worker does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from watershed import config
from watershed.errors import NotFound
from watershed.model import Interval, Principal
from watershed.services import cascade, exports
from watershed.services import catalog as cat
from watershed.store import intervals

BASE = 1_763_942_400_000


@pytest.fixture
def stream(aws: None) -> Iterator[tuple[Principal, dict[str, Any], Any]]:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=config.OBJECTS_BUCKET)
    from watershed.admin import create_org

    principal = Principal(create_org("exports").org_id, frozenset({"admin"}))
    pool = cat.create_pool(principal, {"name": "site"})
    station = cat.create_station(principal, pool["id"], {"name": "meter"})
    doc = cat.create_stream(principal, station["id"], {"name": "power", "type": "float"})
    intervals.put_many(doc["id"], [Interval(BASE + i, float(i)) for i in range(30)])
    yield principal, doc, s3


def _file(s3: Any, principal: Principal, status: dict[str, Any]) -> list[dict[str, Any]]:
    key = f"exports/{principal.org}/{status['id']}.{status['format']}"
    body = s3.get_object(Bucket=config.OBJECTS_BUCKET, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def test_an_export_over_the_sync_row_limit_is_queued_and_the_worker_writes_it(
    stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, doc, s3 = stream
    monkeypatch.setattr(exports, "SYNC_ROW_LIMIT", 10)
    body = {"streams": [doc["id"]], "start": BASE, "end": BASE + 1000, "format": "ndjson"}
    queued = exports.create(principal, body)
    assert queued["status"] == "pending" and "url" not in queued
    assert exports.run_pending() == 1
    done = exports.get(principal, queued["id"])
    assert done["status"] == "done" and done["rows"] == 30 and "X-Amz-Signature" in done["url"]
    assert [row["value"] for row in _file(s3, principal, done)] == [float(i) for i in range(30)]
    assert exports.run_pending() == 0


def test_at_the_limit_the_export_is_answered_at_once(stream: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    principal, doc, _ = stream
    monkeypatch.setattr(exports, "SYNC_ROW_LIMIT", 30)
    done = exports.create(principal, {"streams": [doc["id"]], "start": BASE, "end": BASE + 1000})
    assert done["status"] == "done" and done["rows"] == 30


def test_a_failing_export_is_marked_failed_with_the_reason(stream: Any) -> None:
    principal, doc, _ = stream
    queued = exports.create(principal, {"streams": [doc["id"]], "start": BASE, "end": BASE + 1000,
                                        "aggregation": {"period": "1h"}, "async": True})
    cascade.delete_stream(principal, doc["id"])
    exports.run_pending()
    failed = exports.get(principal, queued["id"])
    assert failed["status"] == "failed" and "stream" in failed["error"]


def test_a_fresh_running_export_is_left_to_its_worker_and_a_stale_one_is_retried(
    stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal, doc, s3 = stream
    queued = exports.create(principal, {"streams": [doc["id"]], "start": BASE, "end": BASE + 1000,
                                        "async": True})
    key = f"exports/{principal.org}/{queued['id']}.json"
    record = json.loads(s3.get_object(Bucket=config.OBJECTS_BUCKET, Key=key)["Body"].read())
    record.update(status="running", updated=exports.now_ms())
    s3.put_object(Bucket=config.OBJECTS_BUCKET, Key=key, Body=json.dumps(record).encode())
    assert exports.run_pending() == 0
    record["updated"] -= exports.STALE_RUNNING_MS + 1
    s3.put_object(Bucket=config.OBJECTS_BUCKET, Key=key, Body=json.dumps(record).encode())
    assert exports.run_pending() == 1
    assert exports.get(principal, queued["id"])["status"] == "done"


def test_exports_of_another_organisation_or_pool_are_404(stream: Any) -> None:
    principal, doc, _ = stream
    done = exports.create(principal, {"streams": [doc["id"]], "start": BASE, "end": BASE + 1000})
    with pytest.raises(NotFound):
        exports.get(Principal("another-org", frozenset({"read"})), done["id"])
    with pytest.raises(NotFound):
        exports.get(Principal(principal.org, frozenset({"read"}), frozenset({"other-pool"})), done["id"])
