"""Bitpool API v2 under `/bitpool` (../shared/wire/bitpool.md): translation only.

Errors are ASP.NET's shape, `{"Message": ..., "Errors": {"Field": ["reason"]}}`.
"""

from __future__ import annotations

from watershed.api.request import Reply
from watershed.errors import WatershedError


def error_reply(error: WatershedError) -> Reply:
    errors = {error.field: [error.message]} if error.field else {}
    return Reply(error.status, {"Message": error.message, "Errors": errors})
