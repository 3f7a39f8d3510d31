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
    yield url
    server.shutdown()


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
