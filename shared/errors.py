"""The error envelope of every HTTP function (AIP-193 shape) and the exceptions that produce it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldViolation:
    """One reason a request was refused, naming the field at fault."""

    field: str
    reason: str

    def to_json(self) -> dict[str, str]:
        """The `details[]` entry of the error envelope."""
        return {"field": self.field, "reason": self.reason}


class ApiError(Exception):
    """An error the HTTP layer turns into the contract's error envelope."""

    http_status = 500
    status = "INTERNAL"

    def __init__(self, message: str, details: list[FieldViolation] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def to_json(self) -> dict[str, Any]:
        """The body `{"error": {...}}` sent to the caller; `details` is `[]` when there are none."""
        return {"error": {"code": self.http_status, "status": self.status,
                          "message": self.message,
                          "details": [d.to_json() for d in self.details]}}


class InvalidArgument(ApiError):
    """400: the request fails validation."""

    http_status = 400
    status = "INVALID_ARGUMENT"

    @classmethod
    def field(cls, field: str, reason: str) -> InvalidArgument:
        """A 400 about one field."""
        return cls(f"{field}: {reason}", [FieldViolation(field, reason)])


class Unauthenticated(ApiError):
    """401: missing or invalid credentials."""

    http_status = 401
    status = "UNAUTHENTICATED"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="amapi-cosu"'})


class PermissionDenied(ApiError):
    """403: authenticated but not allowed."""

    http_status = 403
    status = "PERMISSION_DENIED"


class NotFound(ApiError):
    """404: unknown resource, or one the caller may not see."""

    http_status = 404
    status = "NOT_FOUND"


class MethodNotAllowed(ApiError):
    """405: the path exists but not with this HTTP method."""

    http_status = 405
    status = "METHOD_NOT_ALLOWED"


class AlreadyExists(ApiError):
    """409: a unique name is taken, or an idempotent request is still running."""

    http_status = 409
    status = "ALREADY_EXISTS"


class FailedPrecondition(ApiError):
    """412: stale If-Match, or the resource's state forbids the operation."""

    http_status = 412
    status = "FAILED_PRECONDITION"


class ResourceExhausted(ApiError):
    """429: AMAPI's quota is exhausted after retries."""

    http_status = 429
    status = "RESOURCE_EXHAUSTED"


class Unavailable(ApiError):
    """503: AMAPI or Firestore unreachable after retries; nothing was half-written."""

    http_status = 503
    status = "UNAVAILABLE"
