"""ORing PaaS v4 REST under `/oring/v4`: translation only.

Errors are `{"code": "UNAUTHORIZED_ERROR", "message": ...}`: the seed's upper-case codes, here
our code upper-cased with `_ERROR`; `field` is added where known (ORing clients ignore it).
"""

from __future__ import annotations

from typing import Any

from watershed.api.request import Reply
from watershed.errors import WatershedError


def error_code(error: WatershedError) -> str:
    return f"{error.code.upper()}_ERROR"


def error_reply(error: WatershedError) -> Reply:
    body: dict[str, Any] = {"code": error_code(error), "message": error.message}
    if error.field:
        body["field"] = error.field
    return Reply(error.status, body)
