"""Buckets in time zones: DST days, half- and quarter-hour offsets, weeks from Monday, months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from watershed.errors import ValidationError
from watershed.services.rollup_time import bucket_end, bucket_start, parse_period, zone


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def hour_starts(day_start: str, day_end: str, tz: str) -> list[int]:
    starts, position = [], ms(day_start)
    while position < ms(day_end):
        starts.append(position)
        position = bucket_end(parse_period("1h"), position, zone(tz))
    return starts


def test_new_york_spring_forward_day_has_23_hours_and_fall_back_day_25() -> None:
    assert len(hour_starts("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", "America/New_York")) == 23
    assert len(hour_starts("2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", "America/New_York")) == 25
    day = parse_period("1d")
    start = bucket_start(day, ms("2026-03-08T12:00:00-04:00"), zone("America/New_York"))
    assert start == ms("2026-03-08T00:00:00-05:00")
    assert bucket_end(day, start, zone("America/New_York")) == ms("2026-03-09T00:00:00-04:00")


def test_adelaide_hours_start_at_half_past_utc_and_days_follow_dst() -> None:
    tz = zone("Australia/Adelaide")
    hour = bucket_start(parse_period("1h"), ms("2026-06-10T03:10:00Z"), tz)
    assert hour == ms("2026-06-10T02:30:00Z")
    assert bucket_start(parse_period("1d"), ms("2026-10-04T12:00:00+10:30"), tz) == ms("2026-10-04T00:00:00+09:30")


def test_kathmandu_quarter_hour_offset() -> None:
    tz = zone("Asia/Kathmandu")
    assert bucket_start(parse_period("1d"), ms("2026-01-01T18:20:00Z"), tz) == ms("2026-01-01T18:15:00Z")
    assert bucket_start(parse_period("1h"), ms("2026-01-01T18:20:00Z"), tz) == ms("2026-01-01T18:15:00Z")
    assert bucket_start(parse_period("15m"), ms("2026-01-01T18:20:00Z"), tz) == ms("2026-01-01T18:15:00Z")


def test_weeks_start_monday_and_months_at_local_midnight() -> None:
    tz = zone("Europe/Berlin")
    assert bucket_start(parse_period("1w"), ms("2026-03-01T10:00:00+01:00"), tz) == ms("2026-02-23T00:00:00+01:00")
    month = bucket_start(parse_period("1mo"), ms("2026-03-31T23:30:00+02:00"), tz)
    assert month == ms("2026-03-01T00:00:00+01:00")
    assert bucket_end(parse_period("1mo"), month, tz) == ms("2026-04-01T00:00:00+02:00")
    assert bucket_end(parse_period("1mo"), ms("2026-12-01T00:00:00+01:00"), tz) == ms("2027-01-01T00:00:00+01:00")


def test_sub_day_buckets_restart_at_midnight() -> None:
    tz = zone("UTC")
    seven = parse_period("7h")
    assert bucket_start(seven, ms("2026-01-01T22:00:00Z"), tz) == ms("2026-01-01T21:00:00Z")
    assert bucket_end(seven, ms("2026-01-01T21:00:00Z"), tz) == ms("2026-01-02T00:00:00Z")


@pytest.mark.parametrize("text", ["", "0m", "25h", "2d", "1y", "15", "m15"])
def test_bad_periods_are_a_400_on_period(text: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_period(text)
    assert error.value.field == "period"
