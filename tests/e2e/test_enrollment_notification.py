"""A simulated enrollment travels AMAPI emulator → Pub/Sub emulator → /notifications."""

import json
import threading
import time
import urllib.request

import pytest
from werkzeug.serving import make_server

from devstack import emulators
from devstack.gateway import build_gateway
from shared.amapi.client import amapi
from shared.store import notification_receipts
from tests.conftest import ENV

ENTERPRISE = f"enterprises/{ENV.enterprise_id}"


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


def test_enrollment_reaches_the_notifications_function(gateway, amapi_emulator, firestore):
    policy = amapi().patch_policy(f"{ENTERPRISE}/policies/e2e", {"funDisabled": True})
    token = amapi().create_enrollment_token(ENTERPRISE, {
        "policyName": policy["name"], "duration": "3600s",
        "allowPersonalUsage": "PERSONAL_USAGE_DISALLOWED_USERLESS"})
    request = urllib.request.Request(
        f"{amapi_emulator.url}/emulator/v1/enroll", method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"enrollmentToken": token["value"], "apiLevel": 34,
                         "hardwareInfo": {"serialNumber": "E2E-1", "manufacturer": "Zebra",
                                          "brand": "Zebra", "model": "TC58"},
                         "softwareInfo": {"androidVersion": "14",
                                          "securityPatchLevel": "2026-10-01"}}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        device = json.loads(response.read())
    deadline = time.monotonic() + 10
    receipts = []
    while time.monotonic() < deadline:
        receipts = notification_receipts.receipts_for(device["name"])
        if any(r["notificationType"] == "ENROLLMENT" for r in receipts):
            break
        time.sleep(0.1)
    enrollment = [r for r in receipts if r["notificationType"] == "ENROLLMENT"]
    assert len(enrollment) == 1, receipts
    assert enrollment[0]["source"].endswith(ENV.topic)
