"""Errors the emulator answers with, shaped like Google's google.rpc.Status JSON."""

from __future__ import annotations

import re
from typing import Any

STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# What Google says when it fails a request for its own reasons (used by fault injection).
FAULT_MESSAGES = {
    429: ("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service "
          "'androidmanagement.googleapis.com' for consumer 'project_number:000000000000'."),
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}
FIELD_IN_MESSAGE = re.compile(r"at '([^']*)'")
NOT_FOUND_MESSAGE = "Requested entity was not found."


class ApiError(Exception):
    """An error response: HTTP code, google.rpc status name, message and optional details."""

    def __init__(self, code: int, message: str, status: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The JSON body Google APIs return for this error."""
        error: dict[str, Any] = {"code": self.code, "message": self.message,
                                 "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(messages: list[str]) -> ApiError:
    """A 400 INVALID_ARGUMENT carrying every message, each also as a BadRequest violation."""
    violations = []
    for message in messages:
        found = FIELD_IN_MESSAGE.search(message)
        violations.append({"field": found.group(1) if found else "", "description": message})
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": violations}]
    return ApiError(400, "\n".join(messages), "INVALID_ARGUMENT", details)


def bad_request(message: str) -> ApiError:
    """A 400 INVALID_ARGUMENT with one message."""
    return ApiError(400, message, "INVALID_ARGUMENT")


def failed_precondition(message: str) -> ApiError:
    """A 400 FAILED_PRECONDITION (Google maps this status to HTTP 400)."""
    return ApiError(400, message, "FAILED_PRECONDITION")


def not_found(message: str = NOT_FOUND_MESSAGE) -> ApiError:
    """A 404 NOT_FOUND."""
    return ApiError(404, message, "NOT_FOUND")


def fault(code: int) -> ApiError:
    """The error an injected fault answers with, worded as Google would."""
    return ApiError(code, FAULT_MESSAGES.get(code, "Injected fault."))
