"""Merged timelines (services.timeline): pages in both orders and both directions equal a brute-force
merge of the streams' raw intervals, and the total counts distinct timestamps."""

from __future__ import annotations

import random

import pytest

from watershed.model import Interval, Stream, StreamType
from watershed.services import timeline
from watershed.store import intervals

BASE = 1_700_000_000_000


def _stream(name: str) -> Stream:
    return Stream(id=f"s-{name}", org="o", pool="p", station="st", name=name, type=StreamType.FLOAT, created=BASE,
                  bucket="b", alias=name)


@pytest.fixture
def streams(aws: None) -> list[Stream]:
    """Three streams with overlapping timestamps (some shared by all, some by one)."""
    rng = random.Random(7)
    made = [_stream(name) for name in ("a", "b", "c")]
    for index, stream in enumerate(made):
        stamps = sorted(rng.sample(range(60), 25 + index * 5))
        intervals.put_many(stream.id, [Interval(BASE + s * 1000, float(s * 10 + index)) for s in stamps])
    return made


def _expected(streams: list[Stream], start: int, end: int, descending: bool) -> list[timeline.Row]:
    merged: dict[int, list[tuple[int, object]]] = {}
    for index, stream in enumerate(streams):
        for point in intervals.query_range(stream.id, start, end - 1):
            merged.setdefault(point.timestamp, []).append((index, point.value))
    return [timeline.Row(ts, merged[ts]) for ts in sorted(merged, reverse=descending)]


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pages_forward_then_back_equal_the_merge(streams: list[Stream], descending: bool, limit: int) -> None:
    start, end = BASE + 5_000, BASE + 55_000
    expected = _expected(streams, start, end, descending)
    pages = [timeline.page(streams, start, end, descending=descending, limit=limit)]
    while pages[-1].more:
        pages.append(timeline.page(streams, start, end, descending=descending, limit=limit,
                                   after=pages[-1].rows[-1].timestamp))
    assert [row for page in pages for row in page.rows] == expected
    assert all(len(page.rows) == limit for page in pages[:-1])
    back = [pages[-1]]
    while True:
        earlier = timeline.page(streams, start, end, descending=descending, limit=limit,
                                before=back[-1].rows[0].timestamp)
        back.append(earlier)
        if not earlier.more:
            break
    assert [row for page in reversed(back) for row in page.rows] == expected


def test_a_row_holds_every_stream_at_its_timestamp_in_request_order(streams: list[Stream]) -> None:
    rows = timeline.page(list(reversed(streams)), BASE, BASE + 60_000, descending=False, limit=100).rows
    for row in rows:
        assert [index for index, _ in row.values] == sorted(index for index, _ in row.values)
        for index, value in row.values:
            source = list(reversed(streams))[index]
            assert intervals.get_at(source.id, row.timestamp) == Interval(row.timestamp, value)


def test_total_counts_distinct_timestamps(streams: list[Stream]) -> None:
    start, end = BASE, BASE + 60_000
    assert timeline.total(streams, start, end) == len(_expected(streams, start, end, False))
    assert timeline.total(streams[:1], start, end) == 25
    assert timeline.total(streams, BASE + 61_000, BASE + 62_000) == 0


def test_last_of_each(streams: list[Stream]) -> None:
    empty = _stream("empty")
    found = timeline.last_of_each([*streams, empty])
    assert found[-1] == (empty, None)
    for stream, point in found[:-1]:
        assert point == intervals.query_range(stream.id, 0, 2**53, descending=True, limit=1)[0]
