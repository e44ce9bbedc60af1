"""iTwin IoT Sensor Data Service REST under `/itwin/api`: translation only.

Errors are `{"errors": [{"message", "path"}]}`; a credential error's path is `Authorization`.
"""

from __future__ import annotations

from watershed.api.request import Reply
from watershed.errors import Unauthorized, WatershedError


def error_reply(error: WatershedError) -> Reply:
    path = "Authorization" if isinstance(error, Unauthorized) else (error.field or "")
    return Reply(error.status, {"errors": [{"message": error.message, "path": path}]})
