"""The log of every AMAPI call the emulator received, for call accounting in tests."""

from __future__ import annotations

import threading
from typing import Any


class RequestLog:
    """Thread-safe list of `{method, httpMethod, path, status, time}` entries, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, method: str | None, http_method: str, path: str, status: int,
               time: str) -> None:
        """Append one call; `method` is the short discovery id, None for an unknown route."""
        with self._lock:
            self._entries.append({"method": method, "httpMethod": http_method, "path": path,
                                  "status": status, "time": time})

    def entries(self) -> list[dict[str, Any]]:
        """A copy of every entry, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
