"""AMAPI failures, classified once at the door; the rest of the code speaks only in these."""

from __future__ import annotations

import json

from shared import errors


class AmapiError(Exception):
    """Base of every classified AMAPI failure."""

    def __init__(self, method: str, message: str, http_status: int = 0) -> None:
        super().__init__(f"{method}: {message}")
        self.method = method
        self.message = message
        self.http_status = http_status


class AmapiNotFound(AmapiError):
    """The resource does not exist (or no longer does) in AMAPI."""


class AmapiInvalidArgument(AmapiError):
    """AMAPI refused the request's content; retrying the same request cannot help."""


class AmapiFailedPrecondition(AmapiError):
    """AMAPI refused because of the resource's state (e.g. deleting a policy still in use)."""


class AmapiPermissionDenied(AmapiError):
    """Our credentials may not act on this enterprise (a deployment problem, not the caller's)."""


class AmapiQuotaExhausted(AmapiError):
    """Still throttled (429) when the retry budget ran out."""


class AmapiUnavailable(AmapiError):
    """5xx or unreachable when the retry budget ran out."""


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
    if status == 404 or (status == 500 and "not found" in message.lower()):
        return AmapiNotFound(method, message, status)
    if rpc_status == "FAILED_PRECONDITION":
        return AmapiFailedPrecondition(method, message, status)
    if status == 400:
        return AmapiInvalidArgument(method, message, status)
    if status in (409, 412):
        return AmapiFailedPrecondition(method, message, status)
    if status in (401, 403):
        return AmapiPermissionDenied(method, message, status)
    if status == 429:
        return AmapiQuotaExhausted(method, message, status)
    return AmapiUnavailable(method, message, status)


def to_api_error(exc: BaseException) -> errors.ApiError | None:
    """The contract status an unhandled AMAPI failure becomes at the HTTP edge."""
    if not isinstance(exc, AmapiError):
        return None
    if isinstance(exc, AmapiNotFound):
        return errors.NotFound(f"not found in the Android Management API: {exc.message}")
    if isinstance(exc, AmapiInvalidArgument):
        return errors.InvalidArgument(f"the Android Management API refused: {exc.message}")
    if isinstance(exc, AmapiFailedPrecondition):
        return errors.FailedPrecondition(f"the Android Management API refused: {exc.message}")
    if isinstance(exc, AmapiQuotaExhausted):
        return errors.ResourceExhausted(
            "the Android Management API quota is exhausted: retry later",
            headers={"Retry-After": "60"})
    if isinstance(exc, AmapiPermissionDenied):
        return errors.Unavailable("the Android Management API denied this service's credentials")
    return errors.Unavailable("the Android Management API is unavailable: retry later")
