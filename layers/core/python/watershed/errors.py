"""Error types and their HTTP mapping: every error says code, message and, where known, the field."""

from __future__ import annotations

from typing import Any


class WatershedError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.extra)
        return body


class ValidationError(WatershedError):
    status = 400
    code = "invalid_request"


class Unauthorized(WatershedError):
    status = 401
    code = "unauthorized"


class MissingCredential(Unauthorized):
    """No credential in a scheme the route accepts (some dialects word this case apart)."""


class Forbidden(WatershedError):
    status = 403
    code = "forbidden"


class NotFound(WatershedError):
    status = 404
    code = "not_found"


class Conflict(WatershedError):
    status = 409
    code = "conflict"


class PayloadTooLarge(WatershedError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(WatershedError):
    status = 415
    code = "unsupported_media_type"


class Unavailable(WatershedError):
    status = 503
    code = "unavailable"
