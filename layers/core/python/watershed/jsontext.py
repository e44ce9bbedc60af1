"""JSON text in, Python values out, refusing what RFC 8259 allows but no Watershed item can hold.

Refused with a 400 (never a RecursionError or OverflowError further in): text that is not UTF-8
(RFC 8259 §8.1; Python's parser would also guess UTF-16 and UTF-32), NaN and Infinity, duplicate
object keys (§4: their meaning is undefined), nesting deeper than MAX_DEPTH, lone surrogates
(`"\\ud800"` decodes to no Unicode scalar value and cannot be stored as UTF-8), and numbers that are
not finite doubles (integer literals of 309 digits and more, `1e400`).

`numbers_out_of_range="infinity"` reads such numbers as ±inf instead, for callers that judge
each item on its own (an MQTT message's valid items are stored, the others dead-lettered): every
numeric check refuses a non-finite number with its field.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from watershed.errors import ValidationError

MAX_DEPTH = 32
"""Objects and arrays nest at most this deep (DynamoDB nests maps at most 32 levels too)."""
MAX_INT_DIGITS = 4_000
"""Python refuses to read integers of more than 4,300 digits; any over 308 is out of range anyway."""

OutOfRange = Literal["refuse", "infinity"]


class _Refused(ValueError):
    pass


def loads(data: bytes | str, what: str = "body", numbers_out_of_range: OutOfRange = "refuse") -> Any:
    """The JSON value of `data`, or a ValidationError saying why `what` is not acceptable JSON."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(f"{what} is not JSON: not UTF-8 text (JSON must be UTF-8)", None) from None
    else:
        text = data
    lenient = numbers_out_of_range == "infinity"
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=lambda literal: _float(literal, lenient),
            parse_int=lambda literal: _int(literal, lenient),
            object_pairs_hook=_object,
        )
    except RecursionError:
        raise ValidationError(f"{what} nests objects and arrays deeper than {MAX_DEPTH} levels", None) from None
    except ValueError as exc:
        raise ValidationError(f"{what} is not JSON: {exc}", None) from None
    _check_tree(value, what)
    return value


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _float(literal: str, lenient: bool) -> float:
    number = float(literal)
    if not math.isfinite(number):
        if lenient:
            return number
        raise _Refused(f"{literal[:40]} is out of range for a number")
    return number


def _int(literal: str, lenient: bool) -> int | float:
    digits = len(literal.lstrip("-"))
    if digits <= 308:
        return int(literal)
    if digits <= MAX_INT_DIGITS:
        number = int(literal)
        try:
            float(number)
            return number
        except OverflowError:
            pass
    if lenient:
        return -math.inf if literal.startswith("-") else math.inf
    raise _Refused(f"an integer of {digits} digits is out of range for a number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key[:64]!r} in an object")
            seen.add(key)
    return out


def _check_tree(value: Any, what: str) -> None:
    """Depth and lone surrogates, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, what)
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise ValidationError(f"{what} nests objects and arrays deeper than {MAX_DEPTH} levels", None)
            if isinstance(node, dict):
                for key, child in node.items():
                    _check_text(key, what)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in node)


def _check_text(text: str, what: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"{what} holds a lone surrogate escape (not a Unicode character)", None) from None
