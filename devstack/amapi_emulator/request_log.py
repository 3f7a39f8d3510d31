"""The log of every AMAPI call the emulator received, for call accounting in tests."""

from __future__ import annotations

import threading
from typing import Any


def resource_of(path: str) -> str:
    """The resource a `/v1/...` path names, without its `:verb` (`enterprises/E/devices/D`)."""
    name = path.removeprefix("/v1/")
    last = name.rfind("/")
    verb = name.find(":", last + 1)
    return name if verb < 0 else name[:verb]


class RequestLog:
    """Thread-safe list of `{method, httpMethod, path, name, status, time}` entries, oldest
    first; `name` is the resource the call named, to count calls per device or policy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, method: str | None, http_method: str, path: str, status: int,
               time: str) -> None:
        """Append one call; `method` is the short discovery id, None for an unknown route."""
        with self._lock:
            self._entries.append({"method": method, "httpMethod": http_method, "path": path,
                                  "name": resource_of(path), "status": status, "time": time})

    def entries(self) -> list[dict[str, Any]]:
        """A copy of every entry, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
