"""Delayed work (a device applying a policy, acknowledging a command) from a small thread pool.

A policy change schedules one report per device on it: tens of thousands at once for a large
fleet. A thread per report would exhaust the process; instead every pending callback waits in
one heap ordered by due time, and a fixed pool of daemon workers runs each when it is due.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
import traceback
from collections.abc import Callable

# Enough for callbacks that publish over HTTP to overlap, as separate timers once did.
WORKERS = 4


class Scheduler:
    """Runs callbacks after a delay; `cancel_all` drops everything still pending."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._size = workers
        self._ready = threading.Condition()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()  # equal due times run in the order scheduled
        self._running = 0
        self._epoch = 0  # workers of an earlier epoch were closed and leave
        self._started = 0  # workers started in this epoch

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` once, `delay` seconds from now, on one of the pool's threads."""
        with self._ready:
            heapq.heappush(self._queue, (time.monotonic() + max(delay, 0.0),
                                         next(self._sequence), callback))
            # Threads start with the first callback: an idle emulator holds none.
            while self._started < self._size:
                self._started += 1
                threading.Thread(target=self._work, args=(self._epoch,), daemon=True,
                                 name=f"amapi-emulator-scheduler-{self._started}").start()
            self._ready.notify()

    def cancel_all(self) -> None:
        """Drop every callback that has not started yet."""
        with self._ready:
            self._queue.clear()
            self._ready.notify_all()

    def pending(self) -> int:
        """Callbacks scheduled and not started yet."""
        with self._ready:
            return len(self._queue)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or running; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(remaining)
        return True

    def close(self) -> None:
        """Drop what is pending and stop the pool (a later `call_later` starts a new one)."""
        with self._ready:
            self._epoch += 1
            self._started = 0
            self._queue.clear()
            self._ready.notify_all()

    def _next(self, epoch: int) -> Callable[[], None] | None:
        """The next due callback, waiting for it; None once the pool of `epoch` is closed."""
        with self._ready:
            while epoch == self._epoch:
                if self._queue:
                    wait = self._queue[0][0] - time.monotonic()
                    if wait <= 0:
                        self._running += 1
                        return heapq.heappop(self._queue)[2]
                else:
                    wait = None
                self._ready.wait(wait)
            return None

    def _work(self, epoch: int) -> None:
        while (callback := self._next(epoch)) is not None:
            try:
                callback()
            except Exception:  # a failing simulation step must not kill the emulator
                traceback.print_exc(file=sys.stderr)
            finally:
                with self._ready:
                    self._running -= 1
                    self._ready.notify_all()
