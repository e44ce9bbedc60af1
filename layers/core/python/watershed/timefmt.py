"""Time on the wire (ISO-8601 or epoch ms) to int epoch ms inside, and back."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from watershed.errors import ValidationError

DAY_MS = 86_400_000
MAX_FUTURE_MS = DAY_MS
LATEST_MS = 221_845_392_000_000
"""9000-01-01: later instants cannot be formatted, bucketed by month or stored as a DynamoDB number safely."""
EPOCH_MS = re.compile(r"^-?[0-9]{1,18}$")
"""Epoch ms as text: ASCII digits, and few enough that Python reads them (any 16 digits lie past 9000)."""
ISO_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.,]+)?([Zz]|[+-][0-9]{2}(:?[0-9]{2}(:?[0-9]{2})?)?)?$")
"""The ISO-8601 forms accepted: ASCII only, nothing after the offset (`Z\\x00` is refused)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_time(value: Any, field: str, *, bounded: bool = True) -> int:
    """Epoch ms from an int/float of epoch ms or an ISO-8601 string with any offset (naive = UTC).

    A fraction of a millisecond is dropped (rounded down, the millisecond the instant lies in),
    the same for a float of epoch ms and an ISO fraction (`.0005Z` and `0.5` are both 0 ms).
    """
    ms: int
    if isinstance(value, bool):
        raise ValidationError("timestamp must be ISO-8601 or epoch milliseconds", field)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("timestamp must be a finite number", field)
    if isinstance(value, int | float):
        ms = math.floor(value)
    elif isinstance(value, str) and EPOCH_MS.match(value.strip()):
        ms = int(value.strip())
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 40 or not ISO_TEXT.match(text):
            raise ValidationError(f"cannot parse timestamp {value[:64]!r}", field)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(f"cannot parse timestamp {value!r}", field) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = (parsed - EPOCH) // timedelta(milliseconds=1)
    else:
        raise ValidationError("timestamp must be ISO-8601 or epoch milliseconds", field)
    if ms > LATEST_MS:
        raise ValidationError("timestamp lies after the year 9000", field)
    if bounded:
        if ms < 0:
            raise ValidationError("timestamp lies before 1970", field)
        if ms > now_ms() + MAX_FUTURE_MS:
            raise ValidationError("timestamp lies more than one day in the future", field)
    return ms


def format_time(ms: int) -> str:
    """ISO-8601 UTC with milliseconds: 2026-11-24T13:59:02.123Z."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
