"""The emulator's clock (real UTC time plus an adjustable offset) and time formats."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

# protobuf's Timestamps.MAX_VALUE: AMAPI coerces token expiry that would overflow it.
MAX_TIMESTAMP = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


class EmulatorClock:
    """UTC now, shifted by an offset that tests move forward to expire tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    @property
    def offset_seconds(self) -> float:
        """The current shift from real time, in seconds."""
        with self._lock:
            return self._offset

    def set_offset(self, seconds: float) -> None:
        """Shift the clock to real time + `seconds`."""
        with self._lock:
            self._offset = float(seconds)

    def now(self) -> datetime:
        """The emulator's current time (timezone-aware UTC)."""
        return datetime.now(UTC) + timedelta(seconds=self.offset_seconds)

    def seconds(self) -> float:
        """Monotonic seconds, shifted by the offset (for measuring windows, not for dates)."""
        return time.monotonic() + self.offset_seconds

    def timestamp(self) -> str:
        """The emulator's current time in RFC 3339."""
        return format_timestamp(self.now())


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a `Z`, as Google APIs write timestamps."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """A timezone-aware datetime from an RFC 3339 string (nanoseconds truncated)."""
    head, _, rest = text.partition(".")
    if rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))


def duration_seconds(text: str) -> Decimal:
    """The seconds of a google-duration string such as `3600s` or `1.5s`."""
    return Decimal(text.removesuffix("s"))


def add_capped(moment: datetime, seconds: Decimal) -> datetime:
    """`moment + seconds`, coerced to MAX_TIMESTAMP instead of overflowing."""
    room = Decimal((MAX_TIMESTAMP - moment).total_seconds())
    if seconds >= room:
        return MAX_TIMESTAMP
    return moment + timedelta(seconds=float(seconds))
