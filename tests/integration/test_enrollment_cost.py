"""What enrolling devices costs in AMAPI calls through the notifications path, at fleet volume."""

import pytest

from shared.store import devices
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.notification_helpers import deliver
from tests.integration.policy_helpers import amapi_calls, clear_calls


@pytest.fixture
def stack(function_apps, admin_headers, firestore, amapi_emulator):
    enroll = EnrollApi(function_apps["enroll"], admin_headers)
    enroll.user("kiosk-operator")
    profile = enroll.profile().get_json()
    return {"apps": function_apps, "profile": profile, "server": amapi_emulator,
            "headers": admin_headers}


def enroll_batch(stack, count, prefix):
    status, body = emulator_call(stack["server"], "POST", "/emulator/v1/enroll:batch", {
        "enrollmentToken": stack["profile"]["token"]["value"],
        "devices": [{"apiLevel": 34,
                     "hardwareInfo": {"serialNumber": f"{prefix}-{i}", "manufacturer": "Zebra",
                                      "brand": "Zebra", "model": "TC58"},
                     "softwareInfo": {"androidVersion": "14",
                                      "securityPatchLevel": "2026-10-01"}}
                    for i in range(count)]})
    assert status == 200, body
    return body["devices"]


def enrolled_through_notifications(stack, fleet):
    for device in fleet:
        assert deliver(stack["apps"]["notifications"], "ENROLLMENT", device) in (200, 204)
        assert devices.get(device["name"])["enrollmentDecision"]["result"] == "ALLOWED"


def methods(stack):
    return [c["method"] for c in amapi_calls(stack["server"])]


def test_a_hundred_enrollments_on_an_unchanged_configuration_patch_no_policy(stack):
    policy = stack["apps"]["policy"].test_client()
    policy.post("/apps", json={"packageName": "com.example.kiosk", "type": "PUBLIC"},
                headers=stack["headers"])
    created = policy.post("/cosu-configs", headers=stack["headers"], json={
        "name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "ALL"}})
    assert created.status_code == 201, created.get_json()
    enrolled_through_notifications(stack, enroll_batch(stack, 1, "FIRST"))
    clear_calls(stack["server"])

    fleet = enroll_batch(stack, 100, "MORE")
    enrolled_through_notifications(stack, fleet)

    called = methods(stack)
    assert called.count("enterprises.policies.patch") == 0
    assert called.count("enterprises.devices.patch") == 100
    assert len({devices.get(d["name"])["policyName"] for d in fleet}) == 1


def test_a_vetted_device_with_nothing_distributed_stays_on_the_holding_policy_at_no_cost(stack):
    fleet = enroll_batch(stack, 10, "WAIT")
    clear_calls(stack["server"])

    enrolled_through_notifications(stack, fleet)

    assert methods(stack) == []
    assert {devices.get(d["name"])["policyName"] for d in fleet} == {
        fleet[0]["policyName"]}
    assert fleet[0]["policyName"].endswith("/policies/holding-global")
