"""Exponential backoff with full jitter, bounded by a time budget per call (AMAPI, Pub/Sub)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call may keep retrying, and how its pauses grow."""

    budget_seconds: float
    base_seconds: float
    max_seconds: float

    def delays(self, clock: Callable[[], float] = time.monotonic,
               rand: Callable[[], float] = random.random) -> RetrySchedule:
        """A fresh schedule for one call, starting now."""
        return RetrySchedule(self, clock() + self.budget_seconds, clock, rand)


class RetrySchedule:
    """Yields the next pause, or None once another pause would overrun the budget."""

    def __init__(self, policy: RetryPolicy, deadline: float, clock: Callable[[], float],
                 rand: Callable[[], float]) -> None:
        self._policy = policy
        self._deadline = deadline
        self._clock = clock
        self._rand = rand
        self.attempt = 0

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """The pause before the next attempt, honouring a server's Retry-After when it fits."""
        ceiling = min(self._policy.max_seconds, self._policy.base_seconds * 2 ** self.attempt)
        delay = retry_after if retry_after is not None else ceiling * self._rand()
        self.attempt += 1
        if self._clock() + delay > self._deadline:
            return None
        return delay
