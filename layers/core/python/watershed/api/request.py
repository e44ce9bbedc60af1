"""The request an operation sees, whatever door it came through."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from watershed.errors import Unauthorized, ValidationError
from watershed.model import Principal


@dataclass
class Request:
    path: str
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    principal_or_none: Principal | None = None

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthorized("Unauthorized")
        return self.principal_or_none

    @property
    def id(self) -> str:
        return self.path_params["id"]

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is a 400."""
        if not self.body.strip():
            raise ValidationError("request body is required", None)
        try:
            return json.loads(self.body, parse_constant=_refuse_constant, parse_float=_finite_float)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError(f"body is not valid JSON: {exc}", None) from None

    def link_with(self, **params: str) -> str:
        """This request's path with some query parameters replaced (for nextLink)."""
        query = {**self.query, **params}
        return f"{self.path}?{urlencode(query)}"


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them."""
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range for a number")
    return number


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
