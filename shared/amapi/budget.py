"""The project's AMAPI call budget, shared by every function instance through Firestore.

AMAPI allows about 1,000 calls per rolling 100 s per Cloud project. The budget (900 calls per
100 s by default) is cut into `SLICES` slices of a tenth of the window; each slice may hold a
tenth of the calls. A rolling window touches at most 11 slices, so it sees at most 1.1 times
the budget: 990 calls by default.

Every AMAPI request the door makes first `take`s one call. A process takes calls from Firestore
in small batches and spends them locally; a call is only good in the slice it was taken in, so
leftovers are dropped when the slice ends (carrying them over would break the rolling limit).

Two lanes: INTERACTIVE work (device commands, enrollment, inline pushes) may fill a slice;
BACKGROUND work (rollouts, reconcile, token expiry) only up to (1 - reserve) of it, so a LOCK or
WIPE always finds calls left. A caller whose lane is full waits for the next slice instead of
meeting a 429: interactive work at most about one slice (then AMAPI's own 429 and the door's
retry decide), background work as long as `take`'s bounded wait allows.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from shared import logs
from shared.amapi.errors import AmapiQuotaExhausted
from shared.config import settings
from shared.store import amapi_budget
from shared.store.errors import StoreContention, StoreError

INTERACTIVE = "interactive"
BACKGROUND = "background"
LANES = (INTERACTIVE, BACKGROUND)
SLICES = 10
# Calls one process takes per Firestore write at most; fewer as the slice fills, so that the
# leftovers a process drops at the slice's end stay few.
BATCH = 5
# Slice documents stay this long after their slice ended, then a TTL policy may reap them.
KEEP = datetime.timedelta(hours=1)
# When the budget is off, `lane_capacity` still answers with a sensible batch size.
DEFAULT_CALLS = 900


class BudgetExhausted(AmapiQuotaExhausted):
    """A background caller waited its whole bound without getting a call: nothing was sent."""


# Pure arithmetic, unit-tested on its own.


def slice_capacity(calls: int) -> int:
    """Calls one slice may hold."""
    return calls // SLICES


def lane_limit(lane: str, calls: int, reserve_percent: float) -> int:
    """How full a slice may be for `lane` to take from it (background keeps the reserve free;
    it gets at least one call per slice unless the reserve is the whole slice)."""
    capacity = slice_capacity(calls)
    if lane == INTERACTIVE:
        return capacity
    share = math.floor(capacity * (100.0 - reserve_percent) / 100.0 + 1e-9)
    if reserve_percent < 100.0 and capacity > 0:
        share = max(share, 1)
    return share


def slice_of(moment: float, slice_seconds: float) -> int:
    """The number of the slice a Unix time falls in."""
    return math.floor(moment / slice_seconds)


def seconds_left(moment: float, slice_seconds: float) -> float:
    """Time from `moment` to the start of the next slice."""
    return (slice_of(moment, slice_seconds) + 1) * slice_seconds - moment


def grant(counts: Mapping[str, int], limit: int, want: int, at_least: int) -> int:
    """Calls to give a taker that wants `want` (and is no use with fewer than `at_least`)
    while the slice's total, all lanes counted, stays within `limit`."""
    available = limit - sum(counts.get(lane, 0) for lane in LANES)
    if at_least <= 1:
        # A batch shrinks as the slice fills: a quarter of what is left, at least one.
        want = min(want, max(1, available // 4))
    given = min(want, available)
    return given if given >= max(at_least, 1) else 0


# The caller's lane and prepaid calls.


_lane: contextvars.ContextVar[str] = contextvars.ContextVar("amapi_budget_lane",
                                                            default=INTERACTIVE)


@dataclass
class _Prepaid:
    number: int
    left: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spend(self, number: int) -> bool:
        with self.lock:
            if self.number != number or self.left <= 0:
                return False
            self.left -= 1
            return True


_prepaid: contextvars.ContextVar[_Prepaid | None] = contextvars.ContextVar(
    "amapi_budget_prepaid", default=None)


@contextlib.contextmanager
def lane(name: str) -> Iterator[None]:
    """AMAPI calls inside take from lane `name` (INTERACTIVE or BACKGROUND)."""
    if name not in LANES:
        raise ValueError(f"unknown AMAPI budget lane {name!r}")
    token = _lane.set(name)
    try:
        yield
    finally:
        _lane.reset(token)


def current_lane() -> str:
    """The lane AMAPI calls made here take from."""
    return _lane.get()


def lane_capacity(name: str) -> int:
    """Calls per slice lane `name` may use (of the default budget when the budget is off)."""
    config = settings()
    calls = config.amapi_budget_calls or DEFAULT_CALLS
    return lane_limit(name, calls, config.amapi_budget_reserve_percent)


class Budget:
    """One process's view of the budget: the calls it took and has not spent yet."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._number = -1
        self._pool = dict.fromkeys(LANES, 0)
        # One refill per lane at a time: the others wait for it, then spend what it brought.
        self._refills = {name: threading.Lock() for name in LANES}
        self.firestore_takes = 0  # reads + guarded writes made, for overhead accounting

    def take(self, max_wait: float | None = None, method: str = "AMAPI call") -> None:
        """Take one call in the current lane, waiting for a slice with room when the lane is
        full. Interactive callers proceed after about one slice anyway; background callers
        raise BudgetExhausted once `max_wait` (default one budget window) is spent."""
        config = settings()
        if config.amapi_budget_calls <= 0:
            return
        slice_seconds = config.amapi_budget_window_seconds / SLICES
        name = _lane.get()
        prepaid = _prepaid.get()
        if prepaid is not None and prepaid.spend(slice_of(self._clock(), slice_seconds)):
            return
        limit = lane_limit(name, config.amapi_budget_calls, config.amapi_budget_reserve_percent)
        wait = config.amapi_budget_window_seconds if max_wait is None else max_wait
        deadline = self._clock() + wait
        waited = False
        while True:
            number = slice_of(self._clock(), slice_seconds)
            if self._spend(name, number):
                return
            try:
                if self._refill(name, number, slice_seconds, limit):
                    continue
            except StoreContention:
                # The slice's document is busy: try again in a moment, not a slice.
                pause = random.uniform(0.005, 0.02)
            except StoreError as exc:
                # Without Firestore no budget can be kept; AMAPI's own quota still holds.
                logs.log(logging.WARNING, "AMAPI budget unavailable, calling without it",
                         amapiBudget={"lane": name, "error": str(exc)})
                return
            else:
                if name == INTERACTIVE and waited:
                    logs.log(logging.WARNING, "AMAPI budget spent, interactive call proceeds",
                             amapiBudget={"lane": name, "method": method})
                    return
                waited = True
                pause = seconds_left(self._clock(), slice_seconds) + random.uniform(
                    0, slice_seconds / 20)
            now = self._clock()
            if name == BACKGROUND and now + pause > deadline:
                raise BudgetExhausted(method, f"no AMAPI budget within {wait:g} s",
                                      never_executed=True)
            self._sleep(pause)

    def prepay(self, wanted: int, max_wait: float | None = None) -> _Prepaid | None:
        """`wanted` calls of the current lane taken at once (capped at what a slice gives it)
        in one slice, waiting for a slice with room for all of them."""
        config = settings()
        if config.amapi_budget_calls <= 0 or wanted <= 0:
            return None
        slice_seconds = config.amapi_budget_window_seconds / SLICES
        name = _lane.get()
        limit = lane_limit(name, config.amapi_budget_calls, config.amapi_budget_reserve_percent)
        wanted = min(wanted, limit)
        wait = config.amapi_budget_window_seconds if max_wait is None else max_wait
        deadline = self._clock() + wait
        while True:
            number = slice_of(self._clock(), slice_seconds)
            try:
                given = self._take_from_store(name, number, slice_seconds, limit, wanted, wanted)
            except StoreContention:
                given, pause = 0, random.uniform(0.005, 0.02)
            except StoreError as exc:
                logs.log(logging.WARNING, "AMAPI budget unavailable, calling without it",
                         amapiBudget={"lane": name, "error": str(exc)})
                return None
            else:
                pause = seconds_left(self._clock(), slice_seconds) + random.uniform(
                    0, slice_seconds / 20)
            if given:
                return _Prepaid(number, given)
            if self._clock() + pause > deadline:
                raise BudgetExhausted("AMAPI calls", f"{wanted} calls not prepaid within "
                                      f"{wait:g} s", never_executed=True)
            self._sleep(pause)

    def _spend(self, name: str, number: int) -> bool:
        with self._lock:
            if number != self._number:
                self._number = number
                self._pool = dict.fromkeys(LANES, 0)
            # Interactive work may spend what background work took: it is all one slice.
            for source in (name, BACKGROUND) if name == INTERACTIVE else (name,):
                if self._pool[source] > 0:
                    self._pool[source] -= 1
                    return True
            return False

    def _refill(self, name: str, number: int, slice_seconds: float, limit: int) -> bool:
        """True when calls were added to the pool (or another thread just added some)."""
        with self._refills[name]:
            with self._lock:
                if self._number == number and self._pool[name] > 0:
                    return True
            given = self._take_from_store(name, number, slice_seconds, limit, BATCH, 1)
            if given:
                with self._lock:
                    if self._number == number:
                        self._pool[name] += given
            return given > 0

    def _take_from_store(self, name: str, number: int, slice_seconds: float, limit: int,
                  want: int, at_least: int) -> int:
        self.firestore_takes += 1
        end = datetime.datetime.fromtimestamp((number + 1) * slice_seconds, datetime.UTC)
        return amapi_budget.take(slice_seconds, number, name,
                                 lambda counts: grant(counts, limit, want, at_least),
                                 end + KEEP)


_process = Budget()


def process_budget() -> Budget:
    """This process's budget state."""
    return _process


def take(max_wait: float | None = None, method: str = "AMAPI call") -> None:
    """Take one AMAPI call from the project's budget in the current lane (see `Budget.take`)."""
    _process.take(max_wait, method)


@contextlib.contextmanager
def prepaid(calls: int, max_wait: float | None = None) -> Iterator[int]:
    """Take `calls` calls of the current lane up front (capped at what one slice gives the
    lane); door calls inside spend them first. Yields how many were taken. They are good only
    until the slice ends, so prepay right before calling."""
    taken = _process.prepay(calls, max_wait)
    token = _prepaid.set(taken)
    try:
        yield taken.left if taken is not None else 0
    finally:
        _prepaid.reset(token)
