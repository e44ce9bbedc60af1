"""Aggregation bench: what the aggregator costs per 1,000 ingested intervals, and what a one-year
daily-average query reads once the year is rolled up.

Measured on moto in-process:
1. one week of per-minute data (10,080 intervals) pushed in 1,000-interval requests, the intervals
   table's stream handed to `changes` in batches of 500 (the event source mapping's batch size),
   then the rollup job run until nothing is dirty: DynamoDB requests per 1,000 intervals;
2. a year of per-minute data (525,600 intervals): its 15m aggregates are computed in memory from
   the generated minutes (writing half a million raw items into moto would take many minutes),
   then the rollup job's own fold writes 1h/1d/1mo; the daily-average query over the year is
   counted item by item and checked against the averages computed from the generated minutes.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from common import count_requests

WEEK = 7 * 1440
PUSH = 1000
STREAM_BATCH = 500
YEAR_START = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MINUTE = 60_000


def minute_value(i: int) -> float:
    return round(20 + 5 * math.sin(i / 240), 3)


def dynamodb(calls: Counter[str]) -> int:
    return sum(n for name, n in calls.items() if name.startswith("dynamodb"))


def main() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        from local.events import stream_record_from_api
        from watershed import config
        from watershed.model import Interval
        from watershed.services import catalog, changes, rollup
        from watershed.services.rollup import Agg, fold
        from watershed.services.rollup_query import series, value_of
        from watershed.services.rollup_time import ROLLUP_PERIODS, bucket_start, parse_period, zone
        from watershed.store import intervals
        from watershed.store import rollups as store
        from watershed.store.tables import TABLES, IntervalItem

        for model in TABLES.values():
            model.create_table(wait=True)
        boto3.client("s3").create_bucket(Bucket=config.LAKE_BUCKET)
        station = {"id": "bench-station", "org": "bench-org", "pool": "bench-pool"}
        week = catalog.stream_from_doc(catalog.create_stream_in(
            station, {"name": "week", "type": "float", "timeZone": "Europe/Berlin"}))

        streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        arn = boto3.client("dynamodb").describe_table(TableName=IntervalItem.Meta.table_name)["Table"][
            "LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"]

        for first in range(0, WEEK, PUSH):
            intervals.put_many(week.id, [Interval(YEAR_START + i * MINUTE, minute_value(i))
                                         for i in range(first, min(first + PUSH, WEEK))])
        records = []
        while True:
            answer = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                break
            records.extend(stream_record_from_api(r, arn) for r in answer["Records"])
        with count_requests() as changes_calls:
            for first in range(0, len(records), STREAM_BATCH):
                found = [changes.change_of(r) for r in records[first : first + STREAM_BATCH]]
                changes.apply([c for c in found if c is not None])
        runs = 0
        with count_requests() as rollup_calls:
            while rollup.run().buckets:
                runs += 1
        per_k = 1000 / WEEK
        changes_ddb, rollup_ddb = dynamodb(changes_calls), dynamodb(rollup_calls)
        print(f"aggregator, {WEEK} per-minute intervals pushed {PUSH} at a time, stream batches of {STREAM_BATCH}:")
        print(f"  changes: {changes_ddb} DynamoDB requests = {changes_ddb * per_k:.1f} per 1,000 intervals "
              f"({dict(changes_calls)})")
        print(f"  rollup:  {rollup_ddb} DynamoDB requests in {runs} runs = {rollup_ddb * per_k:.1f} per 1,000 "
              f"intervals ({dict(rollup_calls)})")
        print(f"  total aggregator: {(changes_ddb + rollup_ddb) * per_k:.1f} DynamoDB requests per 1,000 intervals")

        year = catalog.stream_from_doc(catalog.create_stream_in(
            station, {"name": "year", "type": "float", "timeZone": "Europe/Berlin"}))
        tz = zone(year.time_zone)
        minutes = 365 * 1440
        quarter: dict[int, list[Interval]] = defaultdict(list)
        by_day: dict[int, list[float]] = defaultdict(list)
        for i in range(minutes):
            ts = YEAR_START + i * MINUTE
            quarter[ts - ts % store.BASE_MS].append(Interval(ts, minute_value(i)))
        for start, points in quarter.items():
            by_day[bucket_start(ROLLUP_PERIODS["1d"], start, tz)].extend(p.value for p in points)
        aggs = {start: Agg.of_points(points, True) for start, points in quarter.items()}
        store.write(year.id, [store.Bucket("15m", s, a.to_fields()) for s, a in aggs.items() if a], ())
        rollup.refresh(year, [])

        store.usage.__init__()  # type: ignore[misc]
        intervals.usage.__init__()  # type: ignore[misc]
        with count_requests() as query_calls:
            page = series(year, parse_period("1d"), tz, YEAR_START, YEAR_START + minutes * MINUTE, limit=5000)
        rows = {row.start: value_of("avg", row) for row in page.rows}
        exact = all(math.isclose(rows[day], sum(v) / len(v), rel_tol=1e-9) for day, v in by_day.items())
        whole = fold(a for a in aggs.values() if a)
        assert whole is not None and whole.count == minutes
        print(f"one-year daily average over {minutes:,} per-minute intervals, after rollup (Europe/Berlin):")
        print(f"  {len(page.rows)} days, exact={exact}, level={page.level}")
        print(f"  items read: {store.usage.items_read} rollup items + {store.usage.markers_read} dirty markers + "
              f"{intervals.usage.items_read} raw intervals (goal <= 400, raw would read {minutes:,})")
        print(f"  DynamoDB requests: {dynamodb(query_calls)} ({dict(query_calls)})")


if __name__ == "__main__":
    main()
