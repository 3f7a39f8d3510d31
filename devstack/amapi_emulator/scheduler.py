"""Delayed work (a device applying a policy, acknowledging a command) on daemon timers."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable


class Scheduler:
    """Runs callbacks after a delay; `cancel_all` drops everything still pending."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` once, `delay` seconds from now, on a daemon thread."""
        timer: threading.Timer

        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
            try:
                callback()
            except Exception:  # a failing simulation step must not kill the emulator
                traceback.print_exc(file=sys.stderr)

        timer = threading.Timer(max(delay, 0.0), run)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def cancel_all(self) -> None:
        """Cancel every callback that has not started yet."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

