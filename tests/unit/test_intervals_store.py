"""The intervals repository writes everything or says exactly what it could not store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.client import BaseClient

from watershed.errors import Unavailable
from watershed.model import Interval
from watershed.store import intervals
from watershed.store.tables import IntervalItem


@pytest.fixture
def throttled(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """BatchWriteItem answers the last item of each call as unprocessed `budget` times."""
    state = {"budget": 0, "calls": 0}
    original = BaseClient._make_api_call
    monkeypatch.setattr(intervals, "BACKOFF_BASE_S", 0)

    def flaky(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation != "BatchWriteItem":
            return original(self, operation, params)
        state["calls"] += 1
        table = IntervalItem.Meta.table_name
        requests = params["RequestItems"].get(table, [])
        if state["budget"] > 0 and requests:
            state["budget"] -= 1
            rest = {**params["RequestItems"], table: requests[:-1]}
            result = original(self, operation, {**params, "RequestItems": {k: v for k, v in rest.items() if v}})
            result["UnprocessedItems"] = {table: requests[-1:]}
            return result
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", flaky)
    yield state


def test_unprocessed_items_are_retried_until_written(throttled: dict[str, int]) -> None:
    throttled["budget"] = 3
    points = [Interval(1000 + i, i) for i in range(30)]
    assert intervals.put_many("s1", points) == 30
    assert [p.value for p in intervals.query_range("s1", 0, 10**6)] == list(range(30))
    assert throttled["calls"] == 2 + 3


def test_unstored_items_are_named_in_a_503(throttled: dict[str, int]) -> None:
    throttled["budget"] = 10**6
    points = [Interval(1000 + i, i) for i in range(30)]
    with pytest.raises(Unavailable) as error:
        intervals.put_many("s1", points)
    body = error.value.to_body()
    assert error.value.status == 503
    # the first call carries the bucket's dirty marker and 24 intervals; its last is refused
    assert body["notStored"] == [{"stream": "s1", "timestamp": 1023}] + [
        {"stream": "s1", "timestamp": 1000 + i} for i in range(24, 30)
    ]


def test_a_push_marks_its_buckets_dirty_in_the_same_calls(aws: None) -> None:
    from watershed.store import rollups

    before = intervals.usage.write_requests
    points = [Interval(i * 60_000, i) for i in range(24)]  # 24 minutes: two 15m buckets
    intervals.put_many("s3", points)
    assert intervals.usage.write_requests - before == 2  # 26 requests: 2 markers + 24 intervals
    assert rollups.dirty_in("s3", 0, 24 * 60_000) == {0, 15 * 60_000}


def test_same_timestamp_twice_in_one_push_keeps_the_last(aws: None) -> None:
    assert intervals.put_many("s2", [Interval(5, "a"), Interval(5, "b")]) == 1
    assert intervals.query_range("s2", 0, 10) == [Interval(5, "b")]


def test_reservations_never_overlap_and_follow_the_clock(aws: None) -> None:
    first = intervals.reserve("s-docs", 10, 5_000)
    second = intervals.reserve("s-docs", 3, 5_002)
    later = intervals.reserve("s-docs", 1, 9_000)
    assert (first, second, later) == (5_000, 5_010, 9_000)
    assert intervals.reserve("other", 2, 5_000) == 5_000


def test_get_at_and_delete_at_touch_one_timestamp(aws: None) -> None:
    intervals.put_many("s-one", [Interval(1000, {"a": 1}), Interval(1001, {"a": 2})])
    assert intervals.get_at("s-one", 1001) == Interval(1001, {"a": 2})
    intervals.delete_at("s-one", 1000)
    assert intervals.get_at("s-one", 1000) is None
    assert [p.timestamp for p in intervals.iter_range("s-one", 0, 5000, descending=True)] == [1001]
