"""One AMAPI call budget for the project, kept in Firestore, against the emulator's quota.

The budget's window is shrunk to 2 s (slices of 0.2 s) and the emulator enforces AMAPI's
rolling quota at 40 calls per 2 s: a budget of 30 calls (3 per slice) stays under it even when
a call reaches AMAPI in the slice after the one it was taken in (12 slices x 3 = 36).
"""

import threading
import time

import pytest

from shared import config
from shared.amapi import budget
from shared.amapi.client import amapi
from shared.store import amapi_budget
from shared.store.client import db
from tests.conftest import ENV
from tests.integration.enroll_helpers import emulator_call

ENTERPRISE = f"enterprises/{ENV.enterprise_id}"
GET = "enterprises.get"


@pytest.fixture
def shrunk_budget(monkeypatch, firestore, amapi_emulator):
    """Set the budget (and a fresh process state); returns the emulator."""

    def apply(calls=30, window=2, reserve=30, quota=(40, 2)):
        monkeypatch.setenv("AMAPI_BUDGET_CALLS", str(calls))
        monkeypatch.setenv("AMAPI_BUDGET_WINDOW_SECONDS", str(window))
        monkeypatch.setenv("AMAPI_BUDGET_RESERVE_PERCENT", str(reserve))
        config.settings.cache_clear()
        monkeypatch.setattr(budget, "_process", budget.Budget())
        if quota:
            status, _ = emulator_call(amapi_emulator, "POST", "/emulator/v1/quota",
                                      {"calls": quota[0], "windowSeconds": quota[1]})
            assert status == 200
        return amapi_emulator

    yield apply
    config.settings.cache_clear()


def statuses(server, method=GET):
    requests = emulator_call(server, "GET", "/emulator/v1/requests")[1]["requests"]
    return [r["status"] for r in requests if r["method"] == method]


def slice_documents():
    return {s.id: s.to_dict() for s in db().collection(amapi_budget.COLLECTION).stream()}


def in_threads(count, work):
    failures = []

    def run(index):
        try:
            work(index)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, failures


def test_background_calls_beyond_the_quota_wait_for_budget_instead_of_meeting_429(
        shrunk_budget):
    server = shrunk_budget(reserve=0)
    done = []

    def background(_index):
        with budget.lane(budget.BACKGROUND):
            for _ in range(12):
                done.append(amapi().get_enterprise(ENTERPRISE)["name"])

    started = time.monotonic()
    threads, failures = in_threads(4, background)
    for thread in threads:
        thread.join(30)

    assert not failures
    assert done == [ENTERPRISE] * 48  # more than the emulator's 40 per 2 s
    assert statuses(server) == [200] * 48  # not one call met a 429
    # 3 calls per 0.2 s slice: 48 calls span 16 slices (the first one partly), few more.
    assert 2.8 < time.monotonic() - started < 8
    assert all(sum(v for k, v in doc.items() if k != "expireTime") <= 3
               for doc in slice_documents().values())


def test_an_interactive_call_gets_through_while_background_work_fills_its_lane(shrunk_budget):
    server = shrunk_budget()  # background may fill 2 of each slice's 3 calls
    stop = threading.Event()
    background_calls = []

    def background(_index):
        with budget.lane(budget.BACKGROUND):
            while not stop.is_set():
                background_calls.append(amapi().get_enterprise(ENTERPRISE))

    threads, failures = in_threads(4, background)
    try:
        time.sleep(0.5)
        waits = []
        for _ in range(5):
            started = time.monotonic()
            amapi().patch_policy(f"{ENTERPRISE}/policies/interactive", {"funDisabled": True})
            waits.append(time.monotonic() - started)
            time.sleep(0.15)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    assert not failures
    assert max(waits) < 0.5, waits  # within about one 0.2 s slice, never a retry's backoff
    assert statuses(server, "enterprises.policies.patch") == [200] * 5
    assert 429 not in statuses(server)
    assert len(background_calls) >= 8  # background kept working meanwhile


def test_two_processes_together_never_take_more_than_a_slice_holds(shrunk_budget):
    shrunk_budget(calls=100, window=1, reserve=0, quota=None)  # 10 calls per 0.1 s slice
    processes = [budget.Budget(), budget.Budget()]
    taken = [0, 0]
    deadline = time.time() + 1.0
    lock = threading.Lock()

    def spend(index):
        process = processes[index % 2]
        with budget.lane(budget.BACKGROUND):
            while time.time() < deadline:
                process.take(max_wait=2)
                with lock:
                    taken[index % 2] += 1

    threads, failures = in_threads(6, spend)
    for thread in threads:
        thread.join(10)

    assert not failures
    documents = slice_documents()
    counted = [doc.get(budget.BACKGROUND, 0) for doc in documents.values()]
    assert max(counted) <= 10
    assert sum(taken) <= sum(counted)  # every call spent was counted in Firestore
    assert all(taken)  # both processes got calls
    assert sum(taken) >= 30  # and they did keep the slices busy
    # No more than a slice's capacity per slice: at most 11 slices touched in 1 s.
    assert sum(taken) <= 10 * (len(documents))


def test_a_disabled_budget_never_touches_firestore(shrunk_budget, monkeypatch):
    shrunk_budget(calls=0, quota=None)

    def no_firestore(*_args, **_kwargs):
        raise AssertionError("the disabled budget read Firestore")

    monkeypatch.setattr(amapi_budget, "take", no_firestore)
    monkeypatch.setattr(amapi_budget, "counts", no_firestore)

    for _ in range(20):
        amapi().get_enterprise(ENTERPRISE)
    with budget.lane(budget.BACKGROUND), budget.prepaid(10) as taken:
        amapi().get_enterprise(ENTERPRISE)

    assert taken == 0
    assert slice_documents() == {}


def test_prepaid_calls_are_taken_at_once_and_spent_without_firestore(shrunk_budget):
    shrunk_budget(calls=100, window=20, quota=None)  # 10 per 2 s slice, background 7
    process = budget.process_budget()
    assert budget.lane_capacity(budget.BACKGROUND) == 7
    # Start at a fresh slice so all the calls fall in the one the prepayment was made in.
    time.sleep(budget.seconds_left(time.time(), 2.0) + 0.01)

    with budget.lane(budget.BACKGROUND), budget.prepaid(50) as taken:
        before = process.firestore_takes
        for _ in range(taken):
            amapi().get_enterprise(ENTERPRISE)
        spent_without_firestore = process.firestore_takes - before

    assert taken == 7  # capped at the lane's share of a slice
    assert spent_without_firestore == 0
    [document] = slice_documents().values()
    assert document[budget.BACKGROUND] == 7


def test_a_background_caller_gives_up_with_a_clear_error_after_its_wait(shrunk_budget):
    shrunk_budget(calls=100, window=20, quota=None)
    time.sleep(budget.seconds_left(time.time(), 2.0) + 0.01)
    other_process = budget.Budget()
    with budget.lane(budget.BACKGROUND):
        assert other_process.prepay(7) is not None  # the background lane of this slice
        started = time.monotonic()
        with pytest.raises(budget.BudgetExhausted) as caught:
            budget.take(max_wait=0.3, method=GET)

    assert time.monotonic() - started < 0.5
    assert caught.value.never_executed
    assert "no AMAPI budget" in str(caught.value)
    amapi().get_enterprise(ENTERPRISE)  # interactive work still has the reserve


def test_scheduled_reconcile_takes_its_calls_from_the_background_lane(
        shrunk_budget, function_apps, admin_headers):
    from tests.integration.test_background_runs import pending_command, reconcile
    from tests.integration.test_device_commands import Fleet

    fleet = Fleet(function_apps, admin_headers, shrunk_budget(calls=900, window=100,
                                                              quota=None))
    device = fleet.device("SN-budget")
    interactive_before = sum(d.get(budget.INTERACTIVE, 0) for d in slice_documents().values())
    pending_command(device)

    assert reconcile(fleet)["sent"] == 1

    documents = slice_documents().values()
    assert sum(d.get(budget.BACKGROUND, 0) for d in documents) >= 1
    assert sum(d.get(budget.INTERACTIVE, 0) for d in documents) == interactive_before
