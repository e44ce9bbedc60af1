"""Custom Stream (MK Data Hub API Factory) under `/customstream`: translation only.

Every error body is plain text; a 401 carries `WWW-Authenticate: Basic realm="Realm"` as the
original's does.
"""

from __future__ import annotations

from watershed.api.request import Reply
from watershed.errors import MissingCredential, Unauthorized, WatershedError

TEXT = "text/plain; charset=utf-8"
MISSING_KEY = "Dataset key must be provided as HTTP Basic Auth username"


def error_reply(error: WatershedError) -> Reply:
    headers = {"Content-Type": TEXT}
    message = error.message
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Basic realm="Realm"'
        message = MISSING_KEY if isinstance(error, MissingCredential) else "Invalid dataset key"
    elif error.field:
        message = f"{message} ({error.field})"
    return Reply(error.status, headers=headers, raw=message.encode("utf-8"))
