"""Commands reach AMAPI at most once, whatever fails, and their secrets do not outlive the send.

AMAPI faults are injected through the emulator's control API; what reached AMAPI is read back
from the emulator (the device's operations and the request log).
"""

import datetime
import threading
import time

import pytest

from shared.amapi.client import amapi
from shared.clock import utcnow
from shared.devices import commands as device_commands
from shared.store.client import db
from shared.store.keys import new_id
from tests.conftest import ENV
from tests.integration.enroll_helpers import emulator_call
from tests.integration.test_device_commands import Fleet

ISSUE = "enterprises.devices.issueCommand"


@pytest.fixture
def fleet(function_apps, admin_headers, firestore, amapi_emulator):
    return Fleet(function_apps, admin_headers, amapi_emulator)


def device_name(device_id):
    return f"enterprises/{ENV.enterprise_id}/devices/{device_id}"


def faults(fleet, codes, probability=1.0, after_effect=False):
    rule = {"probability": probability, "codes": codes, "methods": [ISSUE]}
    if after_effect:
        rule["afterEffect"] = True
    assert emulator_call(fleet.server, "POST", "/emulator/v1/faults", rule)[0] == 200


def no_faults(fleet):
    emulator_call(fleet.server, "DELETE", "/emulator/v1/faults")


def operations(fleet, device_id):
    """Every command AMAPI holds for the device (what actually reached it)."""
    status, body = emulator_call(fleet.server, "GET",
                                 f"/v1/{device_name(device_id)}/operations?pageSize=100")
    assert status == 200
    return body.get("operations", [])


def issue_calls(fleet, device_id):
    return [r for r in emulator_call(fleet.server, "GET", "/emulator/v1/requests")[1]["requests"]
            if r["method"] == ISSUE and device_name(device_id) in r["path"]]


def reconcile(fleet):
    response = fleet.apps["reconcile_commands"].test_client().post("/", headers=fleet.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stored(command_id):
    return db().collection("commands").document(command_id).get().to_dict()


def test_reconcile_leaves_a_command_whose_first_send_is_still_retrying(fleet):
    device = fleet.device("SN-1")
    faults(fleet, [429])
    answers = []
    sender = threading.Thread(target=lambda: answers.append(
        fleet.command(device, {"type": "LOCK"}).get_json()))
    sender.start()
    deadline = time.monotonic() + 5
    while not issue_calls(fleet, device) and time.monotonic() < deadline:
        time.sleep(0.02)
    runs = []
    reconciling = threading.Thread(target=lambda: runs.append(reconcile(fleet)))
    reconciling.start()  # while the request is still retrying its send
    time.sleep(0.3)
    no_faults(fleet)  # ... after which any retry gets through
    sender.join()
    reconciling.join()
    assert runs[0]["sent"] == 0
    assert answers[0]["state"] == "SENT"
    assert reconcile(fleet)["sent"] == 0
    assert len(operations(fleet, device)) == 1


@pytest.mark.parametrize("reached_amapi", [True, False])
def test_an_ambiguous_failure_is_looked_up_in_amapi_before_any_resend(fleet, reached_amapi):
    device = fleet.device("SN-1")
    faults(fleet, [500], after_effect=reached_amapi)
    command = fleet.command(device, {"type": "LOCK"}).get_json()
    assert command["state"] == "PENDING"
    assert len(operations(fleet, device)) == (1 if reached_amapi else 0)
    no_faults(fleet)
    assert reconcile(fleet)["sent"] == 1
    assert len(operations(fleet, device)) == 1
    sent = fleet.state_of(device, command["id"])
    assert sent["state"] in ("SENT", "SUCCEEDED")  # the device may have run it already
    assert sent["operationName"] == operations(fleet, device)[0]["name"]
    assert len([c for c in issue_calls(fleet, device) if c["status"] == 200]) == (
        0 if reached_amapi else 1)
    fleet.relay.deliver_all()
    assert fleet.state_of(device, command["id"])["state"] == "SUCCEEDED"


def test_the_lookup_waits_while_amapi_cannot_answer_it(fleet):
    device = fleet.device("SN-1")
    faults(fleet, [500], after_effect=True)
    command = fleet.command(device, {"type": "LOCK"}).get_json()
    emulator_call(fleet.server, "POST", "/emulator/v1/faults", {
        "probability": 1.0, "codes": [503], "methods": ["enterprises.devices.operations.list"]})
    assert reconcile(fleet)["sent"] == 0
    assert fleet.state_of(device, command["id"])["state"] == "PENDING"
    no_faults(fleet)
    assert reconcile(fleet)["sent"] == 1
    assert len(operations(fleet, device)) == 1


def _crashed_send(device_id, lease_until, reached_amapi):
    """What a worker that died during the send left: the leased record, maybe an operation."""
    now = utcnow()
    command_id = new_id()
    params = {"packageNames": ["com.example.kiosk"]}
    db().collection("commands").document(command_id).set({
        "deviceId": device_id, "deviceName": device_name(device_id), "space": "global",
        "type": "CLEAR_APP_DATA", "params": params, "state": "PENDING", "createTime": now,
        "updateTime": now, "expireTime": now + datetime.timedelta(minutes=10),
        "requestedBy": "admin@example.com", "sendAttempts": 0, "leaseUntil": lease_until})
    if reached_amapi:
        amapi().issue_command(device_name(device_id), device_commands.amapi_command(
            "CLEAR_APP_DATA", params, command_id))
    return command_id


@pytest.mark.parametrize("reached_amapi", [True, False])
def test_a_crashed_send_is_taken_over_once_its_lease_expired(fleet, reached_amapi):
    device = fleet.device("SN-1")
    past = utcnow() - datetime.timedelta(seconds=1)
    command_id = _crashed_send(device, past, reached_amapi)
    assert reconcile(fleet)["sent"] == 1
    assert len(operations(fleet, device)) == 1
    assert fleet.state_of(device, command_id)["operationName"] == \
        operations(fleet, device)[0]["name"]
    assert reconcile(fleet)["sent"] == 0
    assert len(operations(fleet, device)) == 1


def test_a_live_lease_is_left_alone(fleet):
    device = fleet.device("SN-1")
    command_id = _crashed_send(device, utcnow() + datetime.timedelta(minutes=1), False)
    assert reconcile(fleet)["sent"] == 0
    assert operations(fleet, device) == []
    assert stored(command_id)["state"] == "PENDING"


def test_the_lease_outlives_the_amapi_retry_budget():
    from shared.config import settings

    config = settings()
    assert device_commands.send_lease().total_seconds() > 2 * (
        config.amapi_retry_budget_seconds + config.amapi_timeout_seconds)


@pytest.mark.parametrize(("codes", "after_effect"), [([429, 503], False), ([500, 504], True)])
def test_concurrent_sends_and_reconciliation_reach_amapi_once_per_command(
        fleet, codes, after_effect):
    devices = [fleet.device(f"SN-{i}") for i in range(3)]
    faults(fleet, codes, probability=0.2, after_effect=after_effect)
    issued = {}
    lock = threading.Lock()

    def client(index):
        app = fleet.apps["commands"].test_client()
        for round_ in range(4):
            package = f"com.example.c{index}r{round_}"  # tells the operations apart
            device = devices[(index + round_) % len(devices)]
            response = app.post(f"/devices/{device}/commands", headers=fleet.headers, json={
                "type": "CLEAR_APP_DATA", "params": {"packageNames": [package]}})
            assert response.status_code == 202, response.get_json()
            with lock:
                issued[package] = (device, response.get_json()["id"])

    done = threading.Event()

    def reconciler():
        while not done.is_set():
            reconcile(fleet)

    clients = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    running = threading.Thread(target=reconciler)
    running.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    done.set()
    running.join()
    no_faults(fleet)
    for _ in range(3):
        reconcile(fleet)
    reached: dict[str, int] = {}
    for device in devices:
        for operation in operations(fleet, device):
            package = operation["metadata"]["clearAppsDataParams"]["packageNames"][0]
            reached[package] = reached.get(package, 0) + 1
    assert len(issued) == 24
    for package, (device, command_id) in issued.items():
        state = fleet.state_of(device, command_id)["state"]
        assert reached.get(package, 0) <= 1, (package, state)
        if state in ("SENT", "SUCCEEDED"):
            assert reached.get(package) == 1, (package, state)
    assert all(fleet.state_of(d, c)["state"] in ("SENT", "SUCCEEDED")
               for d, c in issued.values())


def test_a_new_password_is_dropped_once_amapi_has_it(fleet):
    device = fleet.device("SN-1")
    command = fleet.command(device, {"type": "RESET_PASSWORD",
                                     "params": {"newPassword": "correct-horse"}}).get_json()
    assert command["state"] == "SENT"
    assert command["params"] == {"newPassword": "********"}
    after_send = stored(command["id"])
    assert "newPassword" not in after_send["params"]
    assert after_send["params"]["passwordSet"] is True
    assert "correct-horse" not in str(after_send)
    fleet.relay.deliver_all()
    settled = stored(command["id"])
    assert settled["state"] == "SUCCEEDED" and "correct-horse" not in str(settled)
    assert fleet.state_of(device, command["id"])["params"] == {"newPassword": "********"}


def test_a_pending_password_is_kept_until_the_resend_and_dropped_after(fleet):
    device = fleet.device("SN-1")
    faults(fleet, [429])
    command = fleet.command(device, {"type": "RESET_PASSWORD",
                                     "params": {"newPassword": "correct-horse"}}).get_json()
    assert command["state"] == "PENDING"
    assert stored(command["id"])["params"]["newPassword"] == "correct-horse"  # needed to re-send
    no_faults(fleet)
    assert reconcile(fleet)["sent"] == 1
    assert "correct-horse" not in str(stored(command["id"]))
    fleet.relay.deliver_all()
    assert fleet.state_of(device, command["id"])["state"] == "SUCCEEDED"


@pytest.mark.parametrize("ending", ["refused", "expired"])
def test_a_password_goes_when_the_command_settles_without_amapi(fleet, ending):
    device = fleet.device("SN-1")
    faults(fleet, [400] if ending == "refused" else [429])
    command = fleet.command(device, {"type": "RESET_PASSWORD",
                                     "params": {"newPassword": "correct-horse"}}).get_json()
    if ending == "expired":
        no_faults(fleet)
        db().collection("commands").document(command["id"]).update(
            {"expireTime": utcnow() - datetime.timedelta(seconds=1)})
        assert reconcile(fleet)["expired"] == 1
    settled = stored(command["id"])
    assert settled["state"] == ("FAILED" if ending == "refused" else "EXPIRED")
    assert "correct-horse" not in str(settled) and settled["params"]["passwordSet"] is True


def test_concurrent_commands_and_their_notifications_all_settle(fleet):
    from concurrent.futures import ThreadPoolExecutor

    from devstack import emulators
    from shared.store import notification_receipts

    devices = [fleet.device(f"SN-{i}") for i in range(2)]
    statuses, issued = [], []
    lock = threading.Lock()

    def client(index):
        app = fleet.apps["commands"].test_client()
        for round_ in range(4):
            device = devices[(index + round_) % len(devices)]
            response = app.post(f"/devices/{device}/commands", headers=fleet.headers,
                                json={"type": "LOCK"})
            with lock:
                statuses.append(response.status_code)
                issued.append((device, response.get_json()["id"]))

    def push(message):
        envelope = {"message": message, "subscription": fleet.relay.subscription}
        return fleet.relay.app.test_client().post(f"/{fleet.relay.topic}",
                                                  json=envelope).status_code

    clients = [threading.Thread(target=client, args=(i,)) for i in range(10)]
    for thread in clients:
        thread.start()
    pushed = []
    with ThreadPoolExecutor(10) as pool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
                any(t.is_alive() for t in clients) or len(pushed) < len(issued)):
            messages = emulators.pull(fleet.relay.pubsub_host, fleet.relay.subscription)
            pushed += [m for m in messages
                       if m.get("attributes", {}).get("notificationType") == "COMMAND"]
            assert all(s in (200, 204) for s in pool.map(push, messages))
            if not messages:
                time.sleep(0.05)
    for thread in clients:
        thread.join()
    assert statuses == [202] * 40
    assert notification_receipts.malformed() == []
    assert [fleet.state_of(d, c)["state"] for d, c in issued] == ["SUCCEEDED"] * 40
