"""AMAPI's per-project request quota: at most `calls` AMAPI calls in any rolling window.

Every call of the AMAPI surface (`/v1/...`) that the emulator routes to a method counts against
the one project it serves, whatever its outcome (a 400 or an injected 5xx was still served). The
control API never counts, nor does a call served while no limit is set. A call refused for quota
is answered 429 RESOURCE_EXHAUSTED, is not executed and does not consume quota itself: a client
that keeps retrying is let through as soon as the oldest counted call leaves the window (the
conservative reading; a refused retry never makes the wait longer).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.amapi_emulator import errors

AMAPI_CALLS = 1000
AMAPI_WINDOW_SECONDS = 100
MAX_CALLS = 10_000_000
MAX_WINDOW_SECONDS = 86_400
SERVICE = "androidmanagement.googleapis.com"


@dataclass(frozen=True)
class QuotaLimit:
    """At most `calls` AMAPI calls per rolling `window_seconds`."""

    calls: int
    window_seconds: int

    def as_json(self) -> dict[str, Any]:
        """The limit as the control API shows it."""
        return {"calls": self.calls, "windowSeconds": self.window_seconds}


AMAPI_DEFAULT = QuotaLimit(AMAPI_CALLS, AMAPI_WINDOW_SECONDS)


def _positive_int(value: Any, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise errors.bad_request(f"{field} must be an integer between 1 and {maximum}.")
    return value


def parse_limit(body: Any) -> QuotaLimit:
    """A QuotaLimit from a control API body `{calls, windowSeconds}`, or a 400."""
    if not isinstance(body, dict):
        raise errors.bad_request('Expected {"calls": n, "windowSeconds": s}.')
    unknown = sorted(set(body) - {"calls", "windowSeconds"})
    if unknown:
        raise errors.bad_request(f"Unknown field(s): {', '.join(unknown)}.")
    return QuotaLimit(_positive_int(body.get("calls"), "calls", MAX_CALLS),
                      _positive_int(body.get("windowSeconds"), "windowSeconds",
                                    MAX_WINDOW_SECONDS))


def parse_setting(text: str) -> QuotaLimit | None:
    """`CALLS/SECONDS` (e.g. `1000/100`) or `off` (None), as the CLI and environment say it."""
    if text.strip().lower() == "off":
        return None
    calls, slash, seconds = text.partition("/")
    try:
        if not slash:
            raise ValueError(text)
        return parse_limit({"calls": int(calls), "windowSeconds": int(seconds)})
    except (ValueError, errors.ApiError) as exc:
        raise ValueError(f"expected CALLS/SECONDS (e.g. 1000/100) or off, got {text!r}") \
            from exc


def exceeded(limit: QuotaLimit, project: str) -> errors.ApiError:
    """The 429 Google answers once a project's quota is spent."""
    metric = f"{SERVICE}/default"
    message = (f"Quota exceeded for quota metric 'Queries' and limit 'Queries per "
               f"{limit.window_seconds} seconds' of service '{SERVICE}' for consumer "
               f"'project:{project}'.")
    details = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
         "reason": "RATE_LIMIT_EXCEEDED",
         "domain": "googleapis.com",
         "metadata": {"service": SERVICE, "consumer": f"projects/{project}",
                      "quota_metric": metric, "quota_limit": "defaultPerProject",
                      "quota_limit_value": str(limit.calls), "quota_location": "global"}},
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Request a higher quota limit.",
                    "url": "https://cloud.google.com/docs/quotas/help/request_increase"}]},
    ]
    return errors.ApiError(429, message, "RESOURCE_EXHAUSTED", details)


class Quota:
    """The project's quota: the limit in force and the times of the calls it counted."""

    def __init__(self, default: QuotaLimit | None, now: Callable[[], float]) -> None:
        self.default = default
        self._now = now
        self._lock = threading.Lock()
        self._limit = default
        self._served: deque[float] = deque()

    @property
    def limit(self) -> QuotaLimit | None:
        """The limit in force; None when calls are not limited."""
        with self._lock:
            return self._limit

    def set(self, limit: QuotaLimit | None) -> None:
        """Enforce `limit` from now on; calls already counted stay in the window."""
        with self._lock:
            self._limit = limit

    def reset(self) -> None:
        """The starting limit and an empty window."""
        with self._lock:
            self._limit = self.default
            self._served.clear()

    def admit(self) -> QuotaLimit | None:
        """Count one call; the limit it would exceed (the call is then not counted), or None."""
        with self._lock:
            now = self._now()
            if self._served and now < self._served[-1]:
                self._served.clear()  # the emulator's clock was moved back
            if self._limit is None:
                return None
            self._forget_before(now - self._limit.window_seconds)
            if len(self._served) >= self._limit.calls:
                return self._limit
            self._served.append(now)
            return None

    def usage(self) -> dict[str, Any]:
        """The limit in force and the calls counted in its current window."""
        with self._lock:
            now = self._now()
            if self._limit is None:
                return {"enabled": False, "default": _json(self.default)}
            self._forget_before(now - self._limit.window_seconds)
            answer: dict[str, Any] = {"enabled": True, **self._limit.as_json(),
                                      "used": len(self._served),
                                      "remaining": max(0, self._limit.calls - len(self._served)),
                                      "default": _json(self.default)}
            if self._served:
                answer["windowFreesInSeconds"] = round(
                    self._served[0] + self._limit.window_seconds - now, 3)
            return answer

    def _forget_before(self, cutoff: float) -> None:
        while self._served and self._served[0] <= cutoff:
            self._served.popleft()


def _json(limit: QuotaLimit | None) -> dict[str, Any] | None:
    return limit.as_json() if limit else None
