"""Property: every aggregate equals a brute-force computation over the raw data, whatever the order
of writes, late and duplicate writes, deletes and rollup runs, in awkward time zones."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.events import stream_record_from_api
from watershed.model import Interval, Stream
from watershed.services import catalog, changes, rollup
from watershed.services.aggregates import FUNCTIONS
from watershed.services.rollup_query import series, value_of
from watershed.services.rollup_time import bucket_start, parse_period, zone
from watershed.store import intervals
from watershed.store.tables import IntervalItem

ZONES = ["UTC", "Australia/Adelaide", "Asia/Kathmandu", "America/New_York"]
ANCHORS = [  # DST change days, a month end, an ordinary day
    "2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z", "2026-04-04T00:00:00Z", "2026-10-03T00:00:00Z",
    "2026-03-30T00:00:00Z",
]
SPAN_MS = 3 * 86_400_000
PERIODS = ["15m", "1h", "1d", "1w", "1mo", "5m", "2h"]


def epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


class StreamFeed:
    """The intervals table's DynamoDB Stream read from moto and handed to the changes service."""

    def __init__(self) -> None:
        # botocore sends DynamoDB Streams calls to an account-based host moto does not serve
        client = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        arn = boto3.client("dynamodb").describe_table(TableName=IntervalItem.Meta.table_name)["Table"][
            "LatestStreamArn"]
        shard = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.client, self.arn = client, arn
        self.iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
            "ShardIterator"]

    def drain(self) -> None:
        while True:
            answer = self.client.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                return
            found = [changes.change_of(stream_record_from_api(r, self.arn)) for r in answer["Records"]]
            changes.apply([c for c in found if c is not None])


@pytest.fixture
def feed(aws: None) -> Iterator[StreamFeed]:
    from watershed import config

    boto3.client("s3").create_bucket(Bucket=config.LAKE_BUCKET)
    yield StreamFeed()


def make_stream(kind: str, tz: str) -> Stream:
    station = {"id": "station-1", "org": "org-1", "pool": "pool-1"}
    doc = catalog.create_stream_in(station, {"name": "s", "type": kind, "timeZone": tz})
    return catalog.stream_from_doc(doc)


def brute(data: dict[int, Any], period: str, tz: str, start: int, end: int) -> dict[int, dict[str, Any]]:
    """Every function of every non-empty bucket, straight from the raw points."""
    p, z = parse_period(period), zone(tz)
    first, last = bucket_start(p, start, z), bucket_start(p, end - 1, z)
    groups: dict[int, list[tuple[int, Any]]] = defaultdict(list)
    for ts in sorted(data):
        b = bucket_start(p, ts, z)
        if first <= b <= last:
            groups[b].append((ts, data[ts]))
    out = {}
    for b, points in groups.items():
        values = [v for _, v in points]
        row: dict[str, Any] = {"count": len(values), "first": values[0], "last": values[-1]}
        if isinstance(values[0], int | float):
            row.update(sum=sum(values), min=min(values), max=max(values), avg=sum(values) / len(values))
        out[b] = row
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def check(
    stream: Stream, data: dict[int, Any], numeric: bool, window: tuple[int, int], periods: list[str], query_tz: str
) -> None:
    start, end = window
    for period in periods:
        for tz in {stream.time_zone, query_tz}:
            expected = brute(data, period, tz, start, end)
            page = series(stream, parse_period(period), zone(tz), start, end, limit=5000)
            assert page.next_start is None
            got = {row.start: row for row in page.rows}
            assert sorted(got) == sorted(expected), (period, tz)
            for b, row in got.items():
                for fn in FUNCTIONS if numeric else ("count", "first", "last"):
                    assert same(value_of(fn, row), expected[b][fn]), (period, tz, fn, b)


operation = st.one_of(
    st.tuples(st.just("put"), st.lists(st.tuples(st.integers(0, SPAN_MS - 1), st.integers(-1000, 1000)),
                                       min_size=1, max_size=25)),
    st.tuples(st.just("delete"), st.tuples(st.integers(0, SPAN_MS - 1), st.integers(1, 6 * 3_600_000))),
    st.tuples(st.just("rollup"), st.integers(1, 40)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tz=st.sampled_from(ZONES),
    anchor=st.sampled_from(ANCHORS),
    kind=st.sampled_from(["float", "integer", "string"]),
    ops=st.lists(operation, min_size=1, max_size=8),
    periods=st.lists(st.sampled_from(PERIODS), min_size=1, max_size=3, unique=True),
    query_tz=st.sampled_from(ZONES),
)
def test_aggregates_equal_brute_force_before_and_after_rollups(
    feed: StreamFeed, tz: str, anchor: str, kind: str, ops: list[Any], periods: list[str], query_tz: str
) -> None:
    stream = make_stream(kind, tz)
    base = epoch_ms(anchor)
    data: dict[int, Any] = {}

    def value(n: int) -> Any:
        return {"float": n / 7, "integer": n, "string": f"v{n}"}[kind]

    for op, arg in ops:
        if op == "put":
            points = [Interval(base + offset, value(n)) for offset, n in arg]
            intervals.put_many(stream.id, points)
            data.update({p.timestamp: p.value for p in points})
        elif op == "delete":
            first, length = base + arg[0], arg[1]
            intervals.delete_range(stream.id, first, first + length - 1)
            data = {ts: v for ts, v in data.items() if not first <= ts < first + length}
        else:
            feed.drain()
            rollup.run(limit=arg)
    feed.drain()
    window = (base - 40 * 86_400_000, base + SPAN_MS + 40 * 86_400_000)
    numeric = kind != "string"
    check(stream, data, numeric, window, periods, query_tz)
    while rollup.run().buckets:
        pass
    check(stream, data, numeric, window, periods, query_tz)
    check(stream, data, numeric, (base + SPAN_MS // 3, base + SPAN_MS // 2), periods, query_tz)
