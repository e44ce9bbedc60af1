"""The request an operation sees, whatever door it came through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from watershed import jsontext
from watershed.errors import Unauthorized, UnsupportedMediaType, ValidationError
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
        """The body as JSON (jsontext's rules); a body that is not JSON, or is labelled otherwise, is refused."""
        media_type = self.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            raise UnsupportedMediaType(f"the body must be application/json, not {media_type[:100]}", None)
        if not self.body.strip():
            raise ValidationError("request body is required", None)
        return jsontext.loads(self.body)

    def link_with(self, **params: str) -> str:
        """This request's path with some query parameters replaced (for nextLink)."""
        query = {**self.query, **params}
        return f"{self.path}?{urlencode(query)}"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
