"""AMAPI failures, classified once at the door; the rest of the code speaks only in these.

They carry no HTTP status: what a failure means for a caller of this suite's API is decided
by the HTTP layer (`shared/http/router.py`), what it means for a command by `never_executed`.
"""

from __future__ import annotations

import json


class AmapiError(Exception):
    """Base of every classified AMAPI failure; `status` is its google.rpc code name."""

    status = "UNKNOWN"

    def __init__(self, method: str, message: str, *, never_executed: bool = False) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.message = message
        # True when AMAPI certainly did not act on the request (it throttled it, was not
        # serving, or was never reached): even a non-idempotent call may be sent again.
        self.never_executed = never_executed


class AmapiNotFound(AmapiError):
    """The resource does not exist (or no longer does) in AMAPI."""

    status = "NOT_FOUND"


class AmapiInvalidArgument(AmapiError):
    """AMAPI refused the request's content; retrying the same request cannot help."""

    status = "INVALID_ARGUMENT"


class AmapiFailedPrecondition(AmapiError):
    """AMAPI refused because of the resource's state (e.g. deleting a policy still in use)."""

    status = "FAILED_PRECONDITION"


class AmapiPermissionDenied(AmapiError):
    """Our credentials may not act on this enterprise (a deployment problem, not the caller's)."""

    status = "PERMISSION_DENIED"


class AmapiQuotaExhausted(AmapiError):
    """Still throttled (429) when the retry budget ran out, or at once in background mode."""

    status = "RESOURCE_EXHAUSTED"


class AmapiUnavailable(AmapiError):
    """5xx or unreachable when the retry budget ran out."""

    status = "UNAVAILABLE"


def status_of(content: bytes | str | None) -> tuple[str, str]:
    """The `error.status` and `error.message` of a google.rpc.Status body (or the raw text)."""
    if not content:
        return "", ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    try:
        body = json.loads(text)
    except ValueError:
        return "", text[:500]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return str(error.get("status", "")), str(error.get("message", ""))[:1000]
    return "", text[:500]


def classify(method: str, status: int, message: str, rpc_status: str = "") -> AmapiError:
    """Map one AMAPI failure to its class (500 "not found" is AMAPI's 404 quirk)."""
    # AMAPI answers 429 and 503 before acting on a request.
    never_executed = status in (429, 503)
    if status == 404 or (status == 500 and "not found" in message.lower()):
        return AmapiNotFound(method, message)
    if rpc_status == "FAILED_PRECONDITION":
        return AmapiFailedPrecondition(method, message)
    if status == 400:
        return AmapiInvalidArgument(method, message)
    if status in (409, 412):
        return AmapiFailedPrecondition(method, message)
    if status in (401, 403):
        return AmapiPermissionDenied(method, message)
    if status == 429:
        return AmapiQuotaExhausted(method, message, never_executed=True)
    return AmapiUnavailable(method, message, never_executed=never_executed)
