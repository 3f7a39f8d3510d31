"""Time, in one place: UTC datetimes and RFC 3339 text."""

from __future__ import annotations

import datetime


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    """`2026-11-21T10:00:00Z` (microseconds kept when present)."""
    text = moment.astimezone(datetime.UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime.datetime:
    """Parse an RFC 3339 timestamp (with `Z` or an offset, up to nanoseconds) into UTC."""
    cleaned = text.strip().replace("z", "Z")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    head, sep, tail = cleaned.partition(".")
    if sep:
        digits = tail[:len(tail) - len(tail.lstrip("0123456789"))]
        zone = tail[len(digits):]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = datetime.datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp has no timezone: {text!r}")
    return moment.astimezone(datetime.UTC)
