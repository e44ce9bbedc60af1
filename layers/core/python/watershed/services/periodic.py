"""One aggregate per period over a whole range, for facades that answer without paging.

Wraps rollup_query.series (exact, from the rollups) page after page up to a row cap, and adds
`delta`: the change of the stream's last value across the period, for meters that accumulate.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from watershed.errors import ValidationError
from watershed.model import Stream
from watershed.services.rollup_query import series, value_of
from watershed.services.rollup_time import Period
from watershed.store import intervals

FUNCTIONS = ("avg", "sum", "min", "max", "count", "first", "last", "delta")
MAX_PERIODS = 10_000


def _last_before(stream: Stream, ts: int) -> Any:
    if ts <= 0:
        return None
    found = intervals.query_range(stream.id, 0, ts - 1, descending=True, limit=1)
    return found[0].value if found else None


def values(
    stream: Stream, fn: str, period: Period, tz: ZoneInfo, start: int, end: int, *, fill_null: bool,
) -> list[tuple[int, Any]]:
    """(period start, value) for every period from the one holding `start` to the one holding `end - 1`.

    `delta` is a period's last value minus the last value before the period (across empty
    periods); with nothing before, minus its own first value. Empty periods appear (value None)
    only with `fill_null`.
    """
    if fn not in FUNCTIONS:
        raise ValidationError(f"unknown aggregation; use {', '.join(FUNCTIONS)}", "aggregationType")
    rows: list[tuple[int, Any]] = []
    cursor: int | None = start
    previous_value: Any = None
    first_page = True
    while cursor is not None:
        page = series(stream, period, tz, cursor, end, fill="null" if fill_null else "none", limit=1000)
        if first_page and fn == "delta" and page.rows:
            previous_value = _last_before(stream, page.rows[0].start)
        first_page = False
        for row in page.rows:
            if fn == "delta":
                value = None
                if row.agg is not None and not row.filled:
                    base = previous_value if previous_value is not None else row.agg.first
                    value = _difference(row.agg.last, base)
                    previous_value = row.agg.last
            else:
                value = value_of(fn, row)
            rows.append((row.start, value))
            if len(rows) > MAX_PERIODS:
                raise ValidationError(f"the range holds more than {MAX_PERIODS} periods; shorten it or use "
                                      "a longer period", "aggregationPeriod")
        cursor = page.next_start if page.next_start is not None and page.next_start < end else None
    return rows


def _difference(last: Any, base: Any) -> Any:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (last, base))
    return last - base if numbers else None
