"""Aggregation periods and their buckets in an IANA time zone.

Sub-day periods (15m, 5m, 1h, 2h...) are fixed-length buckets anchored at each local midnight;
the last bucket of a day ends at the next midnight, so a 23- or 25-hour DST day keeps whole local
hours. Days, ISO weeks (from Monday) and months start at local midnight. Every zone in use today
has an offset that is a multiple of 15 minutes, so these buckets are unions of UTC-aligned
15-minute base buckets: that is what lets 1h/1d/1mo rollups be folded from 15m ones in any zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watershed.errors import ValidationError
from watershed.validation import ZONE_NAME, ZONE_NAME_MAX

MINUTE_MS = 60_000
BASE_MS = 15 * MINUTE_MS
DAY_MINUTES = 1440
PERIOD = re.compile(r"^([0-9]{1,4})(m|h)$")
CALENDAR = {"1d": "d", "1w": "w", "1mo": "mo"}
PERIOD_TEXT = re.compile(r"^([0-9]{1,4}[mh]|1d|1w|1mo)$")
"""The shape of every period name; `Nm`/`Nh` must also be at most a day."""


@dataclass(frozen=True)
class Period:
    """`minutes` for sub-day periods; `unit` d, w or mo for calendar ones."""

    name: str
    minutes: int = 0
    unit: str = ""

    @property
    def calendar(self) -> bool:
        return bool(self.unit)

    @property
    def on_base(self) -> bool:
        """Whether buckets are unions of 15m base buckets (in zones with quarter-hour offsets)."""
        return self.calendar or self.minutes % 15 == 0


def parse_period(text: str, field: str = "period") -> Period:
    """`15m`, `Nm`, `Nh` (at most a day), `1d`, `1w`, `1mo`; anything else is a 400 on `period`."""
    if text in CALENDAR:
        return Period(text, unit=CALENDAR[text])
    match = PERIOD.match(text)
    if match:
        minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
        if 1 <= minutes <= DAY_MINUTES:
            return Period(text, minutes=minutes)
    raise ValidationError("period must be Nm or Nh (up to 24h), 1d, 1w or 1mo, e.g. 15m, 1h, 1d", field)


def parse_zone(name: str, field: str = "tz") -> ZoneInfo:
    """An IANA zone by name; a directory of the zone database (`Europe`) or any odd name is a 400."""
    if len(name) > ZONE_NAME_MAX or not ZONE_NAME.match(name):
        raise ValidationError(f"unknown time zone '{name[:ZONE_NAME_MAX]}'", field)
    try:
        return zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"unknown time zone '{name}'", field) from None


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(ms: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz).date()


def midnight(day: date, tz: ZoneInfo) -> int:
    """The first instant of a local date (a midnight skipped by DST resolves to the transition)."""
    return round(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def _first_day(period: Period, day: date) -> date:
    if period.unit == "w":
        return day - timedelta(days=day.weekday())
    if period.unit == "mo":
        return day.replace(day=1)
    return day


def _next_day(period: Period, day: date) -> date:
    if period.unit == "w":
        return day + timedelta(days=7)
    if period.unit == "mo":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def bucket_start(period: Period, ms: int, tz: ZoneInfo) -> int:
    """Start of the bucket holding instant `ms`."""
    day = local_date(ms, tz)
    if period.calendar:
        return midnight(_first_day(period, day), tz)
    day_start = midnight(day, tz)
    length = period.minutes * MINUTE_MS
    return day_start + (ms - day_start) // length * length


def bucket_end(period: Period, start: int, tz: ZoneInfo) -> int:
    """End (exclusive) of the bucket starting at `start`."""
    day = local_date(start, tz)
    if period.calendar:
        return midnight(_next_day(period, _first_day(period, day)), tz)
    return min(start + period.minutes * MINUTE_MS, midnight(day + timedelta(days=1), tz))


ROLLUP_PERIODS = {name: parse_period(name) for name in ("15m", "1h", "1d", "1mo")}
