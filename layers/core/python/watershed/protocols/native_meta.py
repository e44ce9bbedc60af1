"""Native API v1 operations about the API itself (routes `native_meta:<name>`)."""

from __future__ import annotations

from functools import cache
from typing import Any

from watershed.api.request import Reply, Request


@cache
def _document() -> dict[str, Any]:
    """Built once per container: the route table does not change while it runs."""
    from watershed.api import openapi

    return openapi.build()


def openapi_document(request: Request) -> Reply:
    """The OpenAPI 3.0 description of every /v1 route; public, like the health check."""
    return Reply(200, _document())
