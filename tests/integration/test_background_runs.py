"""Scheduled runs fail fast on AMAPI quota: a throttled call waits for the next run.

The emulator throttles one method (429); the run must complete at once, make a single call
to the throttled method (no retry loop, no further calls once throttled), report what it left,
and leave it where the next run finds it.
"""

import datetime
import time

import pytest

from shared.clock import utcnow
from shared.config import settings
from shared.enrollment import token_expiry
from shared.store import token_revocations
from shared.store.client import db
from shared.store.keys import new_id
from tests.conftest import ENV
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.test_device_commands import Fleet

ISSUE = "enterprises.devices.issueCommand"
DELETE_TOKEN = "enterprises.enrollmentTokens.delete"


def throttle(server, method):
    rule = {"probability": 1.0, "codes": [429], "methods": [method]}
    assert emulator_call(server, "POST", "/emulator/v1/faults", rule)[0] == 200


def calls_to(server, method):
    requests = emulator_call(server, "GET", "/emulator/v1/requests")[1]["requests"]
    return [r for r in requests if r["method"] == method]


def timed(run):
    started = time.monotonic()
    result = run()
    return result, time.monotonic() - started


@pytest.fixture
def fleet(function_apps, admin_headers, firestore, amapi_emulator):
    return Fleet(function_apps, admin_headers, amapi_emulator)


def pending_command(device_id):
    """A command whose first send AMAPI throttled: PENDING, unleased, certainly not sent."""
    now = utcnow()
    command_id = new_id()
    db().collection("commands").document(command_id).set({
        "deviceId": device_id, "deviceName": f"enterprises/{ENV.enterprise_id}/devices/"
                                             f"{device_id}",
        "space": "global", "type": "LOCK", "params": {}, "state": "PENDING", "createTime": now,
        "updateTime": now, "expireTime": now + datetime.timedelta(minutes=10),
        "requestedBy": "admin@example.com", "sendAttempts": 1})
    return command_id


def reconcile(fleet):
    response = fleet.apps["reconcile_commands"].test_client().post("/", headers=fleet.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_throttled_reconcile_run_leaves_the_commands_for_the_next_run(fleet):
    devices = [fleet.device(f"SN-{i}") for i in range(3)]
    command_ids = [pending_command(device) for device in devices]
    throttle(fleet.server, ISSUE)
    before = len(calls_to(fleet.server, ISSUE))

    run, elapsed = timed(lambda: reconcile(fleet))

    assert run["sent"] == 0 and run["deferred"] == 3
    assert len(calls_to(fleet.server, ISSUE)) - before == 1  # throttled once, then no call
    assert elapsed < settings().amapi_retry_budget_seconds  # less than one interactive call
    for command_id in command_ids:
        stored = db().collection("commands").document(command_id).get().to_dict()
        assert stored["state"] == "PENDING"
        assert "leaseUntil" not in stored and not stored.get("maybeSent")

    emulator_call(fleet.server, "DELETE", "/emulator/v1/faults")
    run = reconcile(fleet)
    assert run["sent"] == 3 and run["deferred"] == 0


def test_a_throttled_expiry_run_defers_the_revocations(function_apps, admin_headers, firestore,
                                                       amapi_emulator):
    api = EnrollApi(function_apps["enroll"], admin_headers)
    api.user("kiosk-operator")
    tokens = {api.profile(f"Lobby {i}", 1).get_json()["token"]["name"] for i in range(3)}
    throttle(amapi_emulator, DELETE_TOKEN)
    later = utcnow() + datetime.timedelta(days=2)

    run, elapsed = timed(lambda: token_expiry.expire_tokens(later))

    assert (run.expired, run.revoked, run.deferred) == (3, 0, 3)
    assert len(calls_to(amapi_emulator, DELETE_TOKEN)) == 1
    assert elapsed < settings().amapi_retry_budget_seconds
    assert {t["tokenName"] for t in token_revocations.pending(10)} == tokens

    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    run = token_expiry.expire_tokens(later)
    assert (run.expired, run.revoked, run.deferred) == (0, 3, 0)
    assert token_revocations.pending(10) == []
