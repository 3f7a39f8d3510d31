"""A simulated enrollment travels AMAPI emulator → Pub/Sub emulator → /notifications → inventory."""

import json
import threading
import time
import urllib.request

import pytest
from werkzeug.serving import make_server

from devstack import emulators
from devstack.gateway import build_gateway
from shared.store import devices, notification_receipts
from tests.conftest import ENV, token_for


def call(url, method="GET", body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def gateway(gcp_emulators):
    server = make_server("127.0.0.1", 0, build_gateway(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    subscription = f"projects/{ENV.project}/subscriptions/e2e-push"
    emulators.ensure_subscription(ENV.pubsub_host, subscription, ENV.topic,
                                  push_endpoint=f"{url}/notifications/{ENV.topic}")
    emulators.ensure_subscription(ENV.pubsub_host, f"{subscription}-rollouts", ENV.rollout_topic,
                                  push_endpoint=f"{url}/rollouts/{ENV.rollout_topic}",
                                  ack_deadline=600)
    yield url
    server.shutdown()


def enrolled_fleet(gateway, amapi_emulator, admin, name, serial_prefix, space=None, size=40):
    """`size` devices enrolled in bulk with a fresh profile, once each is in the inventory."""
    where = {"space": space} if space else {}
    user = f"kiosk-{name.lower()}"
    call(f"{gateway}/enroll/users", "POST", {"userName": user, **where}, admin)
    profile = call(f"{gateway}/enroll/enrollment-profiles", "POST", {
        "name": name, "userName": user, "validityDays": 7, **where}, admin)
    fleet = call(f"{amapi_emulator.url}/emulator/v1/enroll:batch", "POST", {
        "enrollmentToken": profile["token"]["value"],
        "devices": [{"apiLevel": 34,
                     "hardwareInfo": {"serialNumber": f"{serial_prefix}{i}",
                                      "manufacturer": "Zebra", "brand": "Zebra",
                                      "model": "TC58"},
                     "softwareInfo": {"androidVersion": "14",
                                      "securityPatchLevel": "2026-10-01"}}
                    for i in range(size)]})["devices"]
    deadline = time.monotonic() + 30
    while not all((devices.get(d["name"]) or {}).get("enrollmentDecision") for d in fleet):
        assert time.monotonic() < deadline, "the enrollments never reached the inventory"
        time.sleep(0.1)
    return fleet


def test_enrollment_reaches_the_inventory_through_pubsub(gateway, amapi_emulator, firestore):
    admin = token_for("admin@example.com")
    call(f"{gateway}/enroll/users", "POST", {"userName": "kiosk-lobby"}, admin)
    call(f"{gateway}/enroll/device-attributes", "POST", {"name": "store"}, admin)
    profile = call(f"{gateway}/enroll/enrollment-profiles", "POST", {
        "name": "Lobby", "userName": "kiosk-lobby", "validityDays": 7,
        "customAttributes": [{"name": "store", "value": "042"}]}, admin)
    started = time.monotonic()
    device = call(f"{amapi_emulator.url}/emulator/v1/enroll", "POST", {
        "enrollmentToken": profile["token"]["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "E2E-1", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
    record = None
    while time.monotonic() - started < 10:
        record = devices.get(device["name"])
        if record and record.get("enrollmentDecision"):
            break
        time.sleep(0.05)
    latency = time.monotonic() - started
    assert record is not None, "the enrollment never reached the inventory"
    assert record["userName"] == "kiosk-lobby" and record["profileId"] == profile["id"]
    assert record["customAttributes"] == [{"name": "store", "value": "042"}]
    assert record["hardware"]["model"] == "TC58"
    assert record["enrollmentDecision"]["result"] == "ALLOWED"
    receipts = notification_receipts.receipts_for(device["name"])
    assert any(r["source"].endswith(ENV.topic) for r in receipts)
    print(f"enrollment → inventory through Pub/Sub: {latency:.2f}s")
    assert latency < 10


def test_a_large_change_is_pushed_by_its_rollout_through_pubsub(gateway, amapi_emulator,
                                                                 firestore):
    admin = token_for("admin@example.com")
    fleet = enrolled_fleet(gateway, amapi_emulator, admin, "Hall", "E2E-R")

    call(f"{gateway}/policy/apps", "POST", {"packageName": "com.example.kiosk",
                                            "type": "PUBLIC"}, admin)
    request = urllib.request.Request(
        f"{gateway}/policy/cosu-configs", method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin}"},
        data=json.dumps({"name": "Hall", "priority": 1, "distribution": {"mode": "ALL"},
                         "app": {"packageName": "com.example.kiosk"}}).encode())
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 202
        location = response.headers["Location"]
        rollout = json.loads(response.read())["rollout"]
    assert location.endswith(f"/policy/rollouts/{rollout['id']}")

    deadline = time.monotonic() + 60
    while rollout["state"] != "SUCCEEDED":
        assert time.monotonic() < deadline, rollout
        time.sleep(0.2)
        rollout = call(f"{gateway}/policy/rollouts/{rollout['id']}", token=admin)
    assert rollout["done"]["moved"] == 40 and rollout["percent"] == 100
    policies = {call(f"{amapi_emulator.url}/v1/{d['name']}")["policyName"] for d in fleet}
    assert policies == {devices.get(fleet[0]["name"])["policyName"]}
    assert not any(p.endswith("holding-global") for p in policies)


def test_a_staged_change_rolls_itself_back_through_the_stack(gateway, amapi_emulator,
                                                             firestore):
    """Worker messages and device reports travel through Pub/Sub; the soak ends through the
    scheduled target's rollout clock; canary app errors roll the change back."""
    from shared.policy.staging import canary_rank

    admin = token_for("admin@example.com")
    # A space of its own: what earlier tests' devices still report lands elsewhere.
    call(f"{gateway}/policy/spaces", "POST", {"id": "gate", "displayName": "Gate",
                                              "parent": "global"}, admin)
    fleet = enrolled_fleet(gateway, amapi_emulator, admin, "Gate", "E2E-S", space="gate")
    call(f"{gateway}/policy/apps", "POST", {"packageName": "com.example.kiosk",
                                            "type": "PUBLIC", "space": "gate"}, admin)
    config = call(f"{gateway}/policy/cosu-configs", "POST", {
        "name": "Gate", "priority": 1, "distribution": {"mode": "ALL"}, "space": "gate",
        "app": {"packageName": "com.example.kiosk"}}, admin)

    def rollout_until(rollout_id, done, timeout=60):
        deadline = time.monotonic() + timeout
        while not done(found := call(f"{gateway}/policy/rollouts/{rollout_id}", token=admin)):
            assert time.monotonic() < deadline, found
            time.sleep(0.2)
        return found

    rollout_until(config["rollout"]["id"], lambda r: r["state"] == "SUCCEEDED")
    before = {d["name"]: call(f"{amapi_emulator.url}/v1/{d['name']}")["policyName"]
              for d in fleet}
    [canary, _] = sorted(fleet, key=lambda d: canary_rank(d["name"].rsplit("/", 1)[1]))[:2]
    call(f"{amapi_emulator.url}/emulator/v1/behaviors", "POST", {
        "devices": [canary["name"]], "policy": "*", "appError": {
            "packageName": "com.example.kiosk", "key": "server_url", "message": "unreachable"}})

    staged = call(f"{gateway}/policy/cosu-configs/{config['id']}", "PATCH", {
        "lockdown": {"disableKeyguard": True},
        "rollout": {"stages": [{"percent": 5}, {"percent": 100}],
                    "gate": {"soakSeconds": 600, "minAppliedPercent": 100}}}, admin)
    rollout_id = staged["rollout"]["id"]
    rollout_until(rollout_id, lambda r: r["stages"][0]["state"] == "SOAKING")
    deadline = time.monotonic() + 30
    while not any(s["severity"] == "ERROR" for s in call(
            f"{gateway}/policy/apps/com.example.kiosk/feedback", token=admin)["states"]):
        assert time.monotonic() < deadline, "the canary's app error never reached the inventory"
        time.sleep(0.1)

    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert call(f"{gateway}/reconcile-commands/", "POST", {"now": later},
                admin)["rolloutGatesRead"] == 1
    done = rollout_until(rollout_id, lambda r: r["state"] == "ROLLED_BACK")
    assert done["stages"][0]["appErrorDevices"] == 1 and done["stages"][0]["devices"] == 2
    assert done["failures"][0]["deviceId"] == canary["name"].rsplit("/", 1)[1]
    assert {d["name"]: call(f"{amapi_emulator.url}/v1/{d['name']}")["policyName"]
            for d in fleet} == before
    stored = call(f"{gateway}/policy/cosu-configs/{config['id']}", token=admin)
    assert stored["lockdown"]["disableKeyguard"] is False and "pendingChange" not in stored
