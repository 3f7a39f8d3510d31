"""Delayed device behaviour at fleet scale: a bounded pool of threads, every report delivered."""

from __future__ import annotations

import threading
import time
from typing import Any

from devstack.amapi_emulator.scheduler import WORKERS, Scheduler

from .harness import ENTERPRISE, ControlClient, Recorder
from .test_enrollment_batch import batch


def test_twenty_thousand_delayed_reports_run_on_a_few_threads() -> None:
    scheduler = Scheduler()
    threads_before = threading.active_count()
    ran: list[tuple[int, float, float]] = []
    lock = threading.Lock()

    def report(i: int, due: float) -> None:
        with lock:
            ran.append((i, due, time.monotonic()))

    for i in range(20_000):
        delay = 0.2 + (i % 10) * 0.01
        due = time.monotonic() + delay
        scheduler.call_later(delay, lambda i=i, due=due: report(i, due))
    threads_while_pending = threading.active_count()
    try:
        assert scheduler.wait_idle(30)
    finally:
        scheduler.close()

    assert threads_while_pending - threads_before <= WORKERS
    assert sorted(i for i, _, _ in ran) == list(range(20_000))
    assert all(at >= due for _, due, at in ran), "a report ran before its delay"


def test_equal_delays_run_in_the_order_scheduled() -> None:
    scheduler = Scheduler(workers=1)
    order: list[int] = []
    for i in range(50):
        scheduler.call_later(0.05, lambda i=i: order.append(i))
    assert scheduler.wait_idle(5)
    scheduler.close()
    assert order == list(range(50))


def test_cancel_all_drops_what_has_not_run_and_close_ends_the_threads() -> None:
    scheduler = Scheduler()
    ran: list[int] = []
    threads_before = set(threading.enumerate())
    for i in range(100):
        scheduler.call_later(5, lambda i=i: ran.append(i))
    scheduler.cancel_all()
    assert scheduler.pending() == 0

    scheduler.call_later(0, lambda: ran.append(-1))
    assert scheduler.wait_idle(5)
    scheduler.close()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.01)

    assert ran == [-1]
    assert set(threading.enumerate()) - threads_before == set()


def test_a_failing_callback_does_not_stop_the_others() -> None:
    scheduler = Scheduler(workers=1)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("simulated step failed")

    scheduler.call_later(0, broken)
    scheduler.call_later(0.01, lambda: ran.append("next"))
    assert scheduler.wait_idle(5)
    scheduler.close()
    assert ran == ["next"]


def test_a_policy_change_on_a_large_fleet_reports_every_device_on_few_threads(
        amapi: Any, server: Any, control: ControlClient, token: dict[str, Any],
        recorder: Recorder) -> None:
    size = 20_000
    for start in range(0, size, 1000):
        control.ok("POST", "enroll:batch", batch(token["value"], 1000, f"F{start}"))
    threads_before = threading.active_count()

    changed = amapi.enterprises().policies().patch(
        name=f"{ENTERPRISE}/policies/kiosk", body={"funDisabled": False}).execute()
    threads_after_change = threading.active_count()
    assert server.app.simulation.scheduler.wait_idle(30)

    reports = recorder.messages("STATUS_REPORT")
    assert threads_after_change - threads_before <= WORKERS
    assert len(reports) == size
    assert len({m.payload["name"] for m in reports}) == size
    assert {m.payload["appliedPolicyVersion"] for m in reports} == {changed["version"]}
