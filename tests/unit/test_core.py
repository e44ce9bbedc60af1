"""Core rules below HTTP: value types, time parsing, cursors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watershed import signing
from watershed.errors import ValidationError
from watershed.model import StreamType
from watershed.services.ingest import check_value
from watershed.timefmt import format_time, parse_time


@pytest.mark.parametrize(
    ("stream_type", "value", "stored"),
    [
        (StreamType.FLOAT, 1, 1.0),
        (StreamType.INTEGER, 2.0, 2),
        (StreamType.BOOLEAN, True, True),
        (StreamType.STRING, "on", "on"),
        (StreamType.HEX, "0xFF", "ff"),
        (StreamType.COORDINATE, [1, 2], {"lat": 1.0, "lon": 2.0}),
        (StreamType.JSON, {"a": [1]}, {"a": [1]}),
    ],
)
def test_values_are_normalised(stream_type: StreamType, value: object, stored: object) -> None:
    assert check_value(stream_type, value, "[0].value") == stored


@pytest.mark.parametrize(
    ("stream_type", "value"),
    [
        (StreamType.FLOAT, "abc"), (StreamType.FLOAT, True), (StreamType.INTEGER, 1.5),
        (StreamType.BOOLEAN, 1), (StreamType.STRING, 5), (StreamType.HEX, "xyz"),
        (StreamType.COORDINATE, {"lat": 91, "lon": 0}), (StreamType.OBJECT, "blob"),
    ],
)
def test_wrong_values_name_the_field(stream_type: StreamType, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        check_value(stream_type, value, "[7].value")
    assert (error.value.field or "").startswith("[7].value")


@given(st.integers(min_value=0, max_value=4_000_000_000_000))
def test_iso_round_trip(ms: int) -> None:
    assert parse_time(format_time(ms), "t", bounded=False) == ms


def test_offsets_are_honoured() -> None:
    assert parse_time("2026-01-01T05:30:00+05:30", "t") == parse_time("2026-01-01T00:00:00Z", "t")


def test_cursor_tampering_is_refused() -> None:
    token = signing.sign({"s": "stream-1", "t": 5})
    assert signing.verify(token) == {"s": "stream-1", "t": 5}
    forged = signing.sign({"s": "stream-1", "t": 5})[:-2] + "AA"
    with pytest.raises(ValidationError):
        signing.verify(forged)
    with pytest.raises(ValidationError):
        signing.verify("!!!")
