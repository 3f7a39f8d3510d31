"""Device notifications: inventory, enrollment gating, app feedback, command results."""

import copy
import datetime

import pytest

from shared.clock import rfc3339, utcnow
from shared.config import settings
from shared.store import devices, notification_receipts
from shared.store.client import db
from shared.store.keys import natural_key
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.notification_helpers import deliver


@pytest.fixture
def stack(function_apps, admin_headers, firestore, amapi_emulator):
    enroll = EnrollApi(function_apps["enroll"], admin_headers)
    enroll.user("kiosk-operator")
    enroll.attribute("store")
    profile = enroll.profile(customAttributes=[{"name": "store", "value": "042"}]).get_json()
    return {"apps": function_apps, "enroll": enroll, "profile": profile,
            "server": amapi_emulator, "headers": admin_headers}


def enrolled(stack, serial="SN-1", manufacturer="Zebra", api_level=34, patch="2026-10-01",
             software=True):
    body = {"enrollmentToken": stack["profile"]["token"]["value"], "apiLevel": api_level,
            "hardwareInfo": {"serialNumber": serial, "manufacturer": manufacturer,
                             "brand": manufacturer, "model": "M1"}}
    if software:
        body["softwareInfo"] = {"androidVersion": str(api_level - 20),
                                "securityPatchLevel": patch}
    status, device = emulator_call(stack["server"], "POST", "/emulator/v1/enroll", body)
    assert status == 200, device
    return device


def notify(stack, kind, payload, message_id=None):
    status = deliver(stack["apps"]["notifications"], kind, payload, message_id)
    assert status in (200, 204)


def rules(stack, **body):
    response = stack["enroll"].call("PUT", "/enrollment-rules", body)
    assert response.status_code == 200, response.get_json()


def amapi_device(stack, name):
    return emulator_call(stack["server"], "GET", f"/v1/{name}")


def kiosk_configs(stack, *configs):
    """The kiosk app in the catalog and a COSU configuration for it to ALL devices per
    (name, priority); the created configurations."""
    policy = stack["apps"]["policy"].test_client()
    policy.post("/apps", json={"packageName": "com.example.kiosk", "type": "PUBLIC"},
                headers=stack["headers"])
    created = [policy.post("/cosu-configs", headers=stack["headers"], json={
        "name": name, "priority": priority, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "ALL"}}) for name, priority in configs or (("Lobby", 1),)]
    assert all(c.status_code == 201 for c in created), [c.get_json() for c in created]
    return [c.get_json() for c in created]


def test_enrollment_creates_the_inventory_record(stack):
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    record = devices.get(device["name"])
    assert record["profileId"] == stack["profile"]["id"]
    assert record["userName"] == "kiosk-operator"
    assert record["customAttributes"] == [{"name": "store", "value": "042"}]
    assert record["hardware"]["manufacturer"] == "Zebra"
    assert record["hardware"]["serialNumber"] == "SN-1"
    assert record["enrollmentDecision"]["result"] == "ALLOWED"
    profile = stack["enroll"].call("GET", f"/enrollment-profiles/{stack['profile']['id']}")
    assert profile.get_json()["enrolledDevices"] == 1


def test_allowed_device_moves_to_its_effective_policy(stack):
    kiosk_configs(stack)
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    _, seen = amapi_device(stack, device["name"])
    assert "/policies/cosu-" in seen["policyName"]
    assert devices.get(device["name"])["policyName"] == seen["policyName"]


@pytest.mark.parametrize(("rule", "device_kwargs"), [
    ({"manufacturers": ["Honeywell"]}, {}),
    ({"minAndroidVersion": "15"}, {}),
    ({"minSecurityPatchLevel": "2026-11-01"}, {}),
    ({"allowlist": {"enabled": True, "serialNumbers": ["OTHER"]}}, {}),
])
def test_a_device_breaking_a_rule_is_rejected_and_wiped(stack, rule, device_kwargs):
    rules(stack, **rule)
    device = enrolled(stack, **device_kwargs)
    notify(stack, "ENROLLMENT", device)
    decision = devices.get(device["name"])["enrollmentDecision"]
    assert decision["result"] == "REJECTED"
    assert decision["rule"] == next(iter(rule))
    assert decision["reason"]
    assert amapi_device(stack, device["name"])[0] == 404


def test_a_compliant_device_passes_every_rule(stack):
    rules(stack, manufacturers=["zebra"], minAndroidVersion="13",
          minSecurityPatchLevel="2026-09-01",
          allowlist={"enabled": True, "serialNumbers": ["SN-1"]})
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    assert devices.get(device["name"])["enrollmentDecision"]["result"] == "ALLOWED"
    assert amapi_device(stack, device["name"])[0] == 200


def test_disable_action_keeps_the_device_disabled(stack):
    rules(stack, manufacturers=["Honeywell"], action="DISABLE")
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    status, seen = amapi_device(stack, device["name"])
    assert status == 200 and seen["state"] == "DISABLED"


def test_patch_level_arriving_with_the_first_status_report_is_evaluated_then(stack):
    rules(stack, minSecurityPatchLevel="2026-11-01")
    device = enrolled(stack, software=False)
    notify(stack, "ENROLLMENT", device)
    assert devices.get(device["name"])["enrollmentDecision"]["result"] == "PENDING"
    assert amapi_device(stack, device["name"])[0] == 200
    status, report = emulator_call(stack["server"], "POST",
                                   f"/emulator/v1/{device['name']}:report",
                                   {"softwareInfo": {"androidVersion": "14",
                                                     "securityPatchLevel": "2026-06-01"}})
    assert status == 200
    notify(stack, "STATUS_REPORT", report)
    decision = devices.get(device["name"])["enrollmentDecision"]
    assert decision["result"] == "REJECTED" and decision["rule"] == "minSecurityPatchLevel"


def test_keyed_app_state_reaches_device_apps_and_app_feedback(stack):
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    status, report = emulator_call(stack["server"], "POST",
                                   f"/emulator/v1/{device['name']}:report", {
        "applicationReports": [{"packageName": "com.example.kiosk", "versionName": "1.2.0",
                                "state": "INSTALLED", "keyedAppStates": [
                                    {"key": "server_url", "severity": "ERROR",
                                     "message": "unreachable", "data": "HTTP 503",
                                     "lastUpdateTime": "2026-11-21T10:00:00Z"}]}]})
    assert status == 200, report
    notify(stack, "STATUS_REPORT", report)
    record = devices.get(device["name"])
    assert record["apps"][0]["packageName"] == "com.example.kiosk"
    policy_client = stack["apps"]["policy"].test_client()
    policy_client.post("/apps", json={"packageName": "com.example.kiosk", "type": "PUBLIC"},
                       headers=stack["headers"])
    feedback = policy_client.get("/apps/com.example.kiosk/feedback",
                                 headers=stack["headers"]).get_json()
    assert feedback["bySeverity"]["ERROR"] == 1
    assert feedback["states"][0]["deviceId"] == devices.device_id(device["name"])


def test_an_older_report_changes_nothing(stack):
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    newer = {**device, "lastStatusReportTime": rfc3339(utcnow() + datetime.timedelta(hours=2)),
             "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-11-01"}}
    older = {**device, "lastStatusReportTime": rfc3339(utcnow() + datetime.timedelta(hours=1)),
             "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-01-01"}}
    notify(stack, "STATUS_REPORT", newer)
    notify(stack, "STATUS_REPORT", older)
    assert devices.get(device["name"])["software"]["securityPatchLevel"] == "2026-11-01"


def test_deletion_report_marks_the_device_deleted(stack):
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    notify(stack, "STATUS_REPORT", {"name": device["name"], "state": "DELETED",
                                    "appliedState": "DELETED",
                                    "lastStatusReportTime": rfc3339(
                                        utcnow() + datetime.timedelta(minutes=5))})
    assert devices.get(device["name"])["state"] == "DELETED"


def test_a_report_for_an_unknown_device_creates_it(stack):
    device = enrolled(stack)
    notify(stack, "STATUS_REPORT", device)  # its ENROLLMENT was lost
    record = devices.get(device["name"])
    assert record["profileId"] == stack["profile"]["id"]
    assert record["enrollmentDecision"]["result"] == "ALLOWED"


def test_reenrolled_device_keeps_its_labels(stack):
    first = enrolled(stack, serial="SN-9")
    notify(stack, "ENROLLMENT", first)
    devices.put(first["name"], {"labels": ["lobby"]})
    second = enrolled(stack, serial="SN-9")
    assert second["previousDeviceNames"] == [first["name"]]
    notify(stack, "ENROLLMENT", second)
    record = devices.get(second["name"])
    assert record["labels"] == ["lobby"]
    assert record["previousDeviceNames"] == [first["name"]]


def _operation(device_name, done=True, **extra):
    return {"name": f"{device_name}/operations/1786048723669", "done": done,
            "metadata": {"@type": "type.googleapis.com/google.android.devicemanagement.v1.Command",
                         "type": "REBOOT", "createTime": "2026-11-21T10:00:00Z"}, **extra}


def test_command_result_settles_the_command(stack):
    operation = _operation("enterprises/LC00tests/devices/aa")
    db().collection("commands").document("c1").set(
        {"operationName": operation["name"], "state": "SENT"})
    notify(stack, "COMMAND", operation)
    assert db().collection("commands").document("c1").get().get("state") == "SUCCEEDED"


def test_command_result_before_the_operation_name_is_kept(stack):
    failed = _operation("enterprises/LC00tests/devices/bb",
                        error={"code": 2, "message": "Command failed"})
    failed["metadata"]["errorCode"] = "API_LEVEL"
    notify(stack, "COMMAND", failed)
    kept = db().collection("operationResults").document(natural_key(failed["name"])).get()
    assert kept.get("state") == "FAILED"
    assert "API_LEVEL" in kept.get("error")["message"]


def test_usage_logs_are_kept_bounded_and_deduplicated(stack):
    device = enrolled(stack)
    notify(stack, "ENROLLMENT", device)
    name = device["name"]
    events = [{"eventId": str(i), "eventTime": f"2026-11-21T10:{i // 60:02d}:{i % 60:02d}Z",
               "eventType": "KEYGUARD_DISMISSED", "keyguardDismissedEvent": {}}
              for i in range(150)]
    notify(stack, "USAGE_LOGS", {"device": name, "usageLogEvents": events[:100]})
    notify(stack, "USAGE_LOGS", {"device": name, "usageLogEvents": events[50:]})
    kept = devices.get(name)["usageEvents"]
    assert len(kept) == 100
    assert [e["eventId"] for e in kept] == [str(i) for i in range(50, 150)]


def test_foreign_and_shapeless_messages_are_acknowledged(stack):
    notify(stack, "ENROLLMENT", {"name": "enterprises/OTHER/devices/x"}, "f1")
    notify(stack, "STATUS_REPORT", {"state": "ACTIVE"}, "f2")
    notify(stack, "ENROLLMENT", {"name": "enterprises/LC00tests/devices/x",
                                 "hardwareInfo": "not an object"}, "f3")
    assert devices.get("enterprises/OTHER/devices/x") is None
    reasons = [m["reason"] for m in notification_receipts.malformed()]
    assert any("device name" in r for r in reasons)
    assert any("could not be applied" in r for r in reasons)
    healthy = enrolled(stack)
    notify(stack, "ENROLLMENT", healthy)
    assert devices.get(healthy["name"])["enrollmentDecision"]["result"] == "ALLOWED"


def test_duplicates_have_one_effect(stack):
    device = enrolled(stack)
    for _ in range(3):
        notify(stack, "ENROLLMENT", copy.deepcopy(device), "same-id")
    profile = stack["enroll"].call("GET", f"/enrollment-profiles/{stack['profile']['id']}")
    assert profile.get_json()["enrolledDevices"] == 1


def test_enrollments_racing_a_distribution_change_land_where_the_stores_say(stack):
    from tests.integration.notification_helpers import push_envelope
    from tests.integration.policy_helpers import (
        assert_amapi_matches_the_stores,
        at_once,
        request,
    )

    policy = stack["apps"]["policy"]
    configs = kiosk_configs(stack, ("Base", 1), ("Override", 5))
    topic = f"/{settings().pubsub_topic}"
    for trial in range(4):
        device = enrolled(stack, serial=f"RACE-{trial}")
        mode = "NONE" if trial % 2 == 0 else "ALL"
        notified, changed = at_once(
            request(stack["apps"]["notifications"], "POST", topic,
                    push_envelope("ENROLLMENT", device), {}),
            request(policy, "PATCH", f"/cosu-configs/{configs[1]['id']}",
                    {"distribution": {"mode": mode}}, stack["headers"]))
        assert notified.status_code in (200, 204), notified.get_data(as_text=True)
        assert changed.status_code == 200, changed.get_json()
        assert_amapi_matches_the_stores(stack["server"])


def test_enrolling_onto_an_unchanged_policy_pushes_no_policy(stack):
    from tests.integration.policy_helpers import amapi_calls, clear_calls

    kiosk_configs(stack)
    first = enrolled(stack, serial="FIRST")
    notify(stack, "ENROLLMENT", first)
    clear_calls(stack["server"])
    fleet = [enrolled(stack, serial=f"MORE-{i}") for i in range(20)]
    for device in fleet:
        notify(stack, "ENROLLMENT", device)
    methods = [c["method"] for c in amapi_calls(stack["server"])
               if c["method"] != "enterprises.enrollmentTokens.create"]
    assert methods.count("enterprises.policies.patch") == 0
    assert methods.count("enterprises.devices.patch") == 20
    on = {amapi_device(stack, d["name"])[1]["policyName"] for d in [first, *fleet]}
    assert len(on) == 1 and "/policies/cosu-" in on.pop()


def test_a_policy_no_device_uses_any_more_is_pushed_again_before_a_device_lands_on_it(stack):
    from tests.integration.policy_helpers import amapi_calls, clear_calls

    kiosk_configs(stack)
    first = enrolled(stack, serial="GONE")
    notify(stack, "ENROLLMENT", first)
    devices.put(first["name"], {"state": "DELETED"})  # AMAPI may reap a policy nobody uses
    clear_calls(stack["server"])
    notify(stack, "ENROLLMENT", enrolled(stack, serial="NEXT"))
    methods = [c["method"] for c in amapi_calls(stack["server"])]
    assert methods.count("enterprises.policies.patch") == 1
