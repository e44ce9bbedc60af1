"""Small checks for request bodies: each failure names the field and says why."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watershed.errors import ValidationError

ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+){0,2}$")
"""IANA zone names: ASCII, at most three parts of at most 14 characters each (tzfile(5))."""
ZONE_NAME_MAX = 64
NAME_MAX = 256
DESCRIPTION_MAX = 2048
UNIT_MAX = 32
LABEL_MAX = 128
RETENTION_DAYS = (1, 36_500)
LABEL = re.compile(r"^[a-zA-Z0-9\-_:@.]+$")
LABEL_LIST = re.compile(r"^[a-zA-Z0-9\-_:@.,]*$")
"""The `labels` list filter: label keys separated by commas (empty parts are ignored)."""
ALIAS = re.compile(r"^[a-zA-Z0-9\-_:@./]{1,128}$")
NOT_BLANK = re.compile(r"\S")
"""What `text` asks of a name: some character that is not white space."""
WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,18}$")
"""ASCII digits only (str.isdigit() also accepts '²', which int() refuses), and few of them: a longer
number is out of every range here, and Python refuses to read one of more than 4,300 digits."""


def path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and not name.startswith("[") else f"{prefix}{name}"


def obj(body: Any, allowed: Iterable[str], required: Iterable[str] = (), prefix: str = "") -> dict[str, Any]:
    """A JSON object with only the allowed fields and all the required ones."""
    if not isinstance(body, dict):
        raise ValidationError("must be a JSON object", prefix or None)
    allowed_set = set(allowed)
    for name in body:
        if name not in allowed_set:
            raise ValidationError(f"unknown field '{name}'", path(prefix, name))
    for name in required:
        if body.get(name) is None:
            raise ValidationError(f"'{name}' is required", path(prefix, name))
    return body


def text(value: Any, field: str, *, max_len: int = NAME_MAX, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()) or len(value) > max_len:
        raise ValidationError(f"must be a {'' if allow_empty else 'non-empty '}string of at most {max_len} characters",
                              field)
    return value


def opt_text(value: Any, field: str, max_len: int = NAME_MAX) -> str | None:
    return None if value is None else text(value, field, max_len=max_len)


def number(value: Any, field: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise ValidationError("must be a number", field)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(f"must be between {lo} and {hi}", field)
    return float(value)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def integer(value: Any, field: str, lo: int, hi: int) -> int:
    """An integer, as JSON Schema means it: `5`, `5.0` or (a query string) `"5"`."""
    integral_text = isinstance(value, str) and WHOLE_NUMBER.match(value.strip())
    integral_float = isinstance(value, float) and value.is_integer() and abs(value) < 2**63
    if integral_text or integral_float:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValidationError(f"must be an integer from {lo} to {hi}", field)
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("must be true or false", field)
    return value


def labels(value: Any, field: str = "labels") -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise ValidationError(f"must be a list of at most {MAX_LABELS} labels", field)
    for i, label in enumerate(value):
        if not isinstance(label, str) or not LABEL.match(label) or len(label) > LABEL_MAX:
            raise ValidationError("labels match ^[a-zA-Z0-9-_:@.]+$", f"{field}[{i}]")
    return list(dict.fromkeys(value))


def time_zone(value: Any, field: str = "timeZone") -> str:
    """An IANA zone name (`Europe/Paris`); a directory of the zone database (`Europe`) is no zone."""
    if not isinstance(value, str):
        raise ValidationError("must be an IANA time zone name", field)
    if len(value) > ZONE_NAME_MAX or not ZONE_NAME.match(value):
        raise ValidationError(f"unknown time zone '{value[:ZONE_NAME_MAX]}'", field)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(f"unknown time zone '{value}'", field) from None
    return value


def topic_level(value: Any, field: str) -> str:
    """A name that is one MQTT topic level (a bucket, a config group): no `/`, and not `.` or `..`."""
    if not isinstance(value, str) or not BUCKET.match(value) or value in (".", ".."):
        raise ValidationError("must match ^[a-zA-Z0-9-_:@.]{1,128}$ (one topic level) and not be . or ..", field)
    return value


def alias(value: Any, field: str = "alias") -> str:
    if not isinstance(value, str) or not ALIAS.match(value):
        raise ValidationError("must match ^[a-zA-Z0-9-_:@./]{1,128}$", field)
    return value


BUCKET = re.compile(r"^[a-zA-Z0-9\-_:@.]{1,128}$")
"""A bucket name is an MQTT topic level: no `/`, no wildcards."""
MAX_PROPS_BYTES = 16_384
PROP_NAME_MAX = 128
LATITUDE = (-90, 90)
LONGITUDE = (-180, 180)
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 100
"""Catalog listings: page sizes."""
ORDERS = ("asc", "desc")
LABELS_MATCH = ("any", "all")
"""How several label filters combine: any of them, or all."""
MAX_LABELS = 50
MAX_LABEL_VALUE = 256


def bucket(value: Any, field: str = "bucket") -> str:
    return topic_level(value, field)


def props(value: Any, field: str = "props") -> dict[str, Any]:
    """Free-form properties: a JSON object of at most 16 KB once encoded."""
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field)
    for name in value:
        if not name or len(name) > PROP_NAME_MAX:
            raise ValidationError(f"property names are 1 to {PROP_NAME_MAX} characters",
                                  f"{field}.{name[:PROP_NAME_MAX]}")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_PROPS_BYTES:
        raise ValidationError(f"must be at most {MAX_PROPS_BYTES} bytes as JSON", field)
    return dict(value)


def merge_props(current: dict[str, Any] | None, patch: Any, field: str = "props") -> dict[str, Any]:
    """RFC 7396 at the top level: given properties overwrite, a null removes, the rest stay."""
    if not isinstance(patch, dict):
        raise ValidationError("must be a JSON object", field)
    merged = {k: val for k, val in (current or {}).items() if k not in patch}
    merged.update({k: val for k, val in patch.items() if val is not None})
    return props(merged, field)


def label_map(value: Any, field: str = "labels") -> dict[str, str]:
    """Key/value labels; a list of flat labels is the same with empty values (`["hvac"]` = `{"hvac": ""}`)."""
    if isinstance(value, list):
        value = {label: "" for label in labels(value, field)}
    if not isinstance(value, dict) or len(value) > MAX_LABELS:
        raise ValidationError(f"must be an object of at most {MAX_LABELS} labels (or a list of flat labels)", field)
    for key, label_value in value.items():
        if not LABEL.match(key) or len(key) > LABEL_MAX:
            raise ValidationError("label keys match ^[a-zA-Z0-9-_:@.]+$", f"{field}.{key[:128]}")
        if not isinstance(label_value, str) or len(label_value) > MAX_LABEL_VALUE:
            raise ValidationError(f"label values are strings of at most {MAX_LABEL_VALUE} characters",
                                  f"{field}.{key}")
    return dict(value)
