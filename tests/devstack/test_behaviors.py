"""Simulated devices that misbehave on a policy: non-compliance, app errors, never applying."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.amapi_emulator.clock import parse_timestamp

from .harness import ENTERPRISE, ControlClient, Recorder

KIOSK = f"{ENTERPRISE}/policies/kiosk"
NEXT = f"{ENTERPRISE}/policies/next"
NOT_COMPLIANT = [{"settingName": "funDisabled", "nonComplianceReason": "INVALID_VALUE"},
                 {"settingName": "applications", "nonComplianceReason": "APP_NOT_INSTALLED",
                  "packageName": "com.example.kiosk", "fieldPath": "applications[0]"}]
APP_ERROR = {"packageName": "com.example.kiosk", "key": "server_url",
             "message": "Cannot reach https://k.example"}


def device_id(device: dict[str, Any]) -> str:
    return str(device["name"]).rsplit("/", 1)[-1]


def patch_policy(amapi: Any, name: str, **body: Any) -> str:
    """Patch (or create) a policy; the new version."""
    policy = amapi.enterprises().policies().patch(name=name, body=body).execute()
    return str(policy["version"])


def move(amapi: Any, device: dict[str, Any], policy: str) -> None:
    amapi.enterprises().devices().patch(name=device["name"], updateMask="policyName",
                                        body={"policyName": policy}).execute()


def get(amapi: Any, device: dict[str, Any]) -> dict[str, Any]:
    fetched: dict[str, Any] = amapi.enterprises().devices().get(name=device["name"]).execute()
    return fetched


def reports_after(recorder: Recorder, names: set[str], since: int,
                  timeout: float = 5.0) -> dict[str, dict[str, Any]]:
    """The first STATUS_REPORT of each device among the messages after index `since`."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, dict[str, Any]] = {}
        for message in recorder.messages()[since:]:
            if message.type == "STATUS_REPORT" and message.payload["name"] in names:
                found.setdefault(message.payload["name"], message.payload)
        if len(found) == len(names) or time.monotonic() > deadline:
            assert set(found) == names, f"{len(names) - len(found)} devices did not report"
            return found
        time.sleep(0.01)


def report_after(recorder: Recorder, device: dict[str, Any], since: int) -> dict[str, Any]:
    return reports_after(recorder, {device["name"]}, since)[device["name"]]


def app_states(device: dict[str, Any], package: str) -> list[dict[str, Any]]:
    report = next((r for r in device.get("applicationReports", [])
                   if r["packageName"] == package), {})
    states: list[dict[str, Any]] = report.get("keyedAppStates", [])
    return states


def test_non_compliance_is_reported_once_the_device_applies_the_policy(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "kiosk",
                                     "nonCompliance": NOT_COMPLIANT})
    assert get(amapi, device)["policyCompliant"] is True  # nothing until it applies the policy
    since = len(recorder.messages())

    version = patch_policy(amapi, KIOSK, funDisabled=False)

    report = report_after(recorder, device, since)
    assert report["appliedPolicyVersion"] == version == "2"
    assert report["policyCompliant"] is False
    assert report["nonComplianceDetails"] == NOT_COMPLIANT
    assert get(amapi, device) == report


def test_app_error_is_a_keyed_app_state_in_the_device_and_its_report(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device["name"]], "policy": KIOSK,
                                     "appError": APP_ERROR})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=False)

    report = report_after(recorder, device, since)
    assert report["appliedPolicyVersion"] == "2"
    assert report["policyCompliant"] is True
    [app] = report["applicationReports"]
    assert app["packageName"] == APP_ERROR["packageName"]
    assert app["keyedAppStates"] == [{
        "key": "server_url", "severity": "ERROR", "message": APP_ERROR["message"],
        "createTime": report["lastStatusReportTime"],
        "lastUpdateTime": report["lastStatusReportTime"]}]
    assert get(amapi, device) == report


def test_never_apply_keeps_reporting_the_previous_policy_and_version(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    patch_policy(amapi, NEXT, funDisabled=True)
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "next",
                                     "neverApply": True})
    since = len(recorder.messages())

    move(amapi, device, "next")

    moved = report_after(recorder, device, since)
    assert moved["policyName"] == NEXT
    assert (moved["appliedPolicyName"], moved["appliedPolicyVersion"]) == (KIOSK, "1")
    assert moved["lastStatusReportTime"] > device["lastStatusReportTime"]
    since = len(recorder.messages())

    patch_policy(amapi, NEXT, funDisabled=False)

    patched = report_after(recorder, device, since)
    assert (patched["appliedPolicyName"], patched["appliedPolicyVersion"]) == (KIOSK, "1")
    assert get(amapi, device) == patched


def test_never_apply_on_the_current_policy_keeps_the_old_version(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": KIOSK,
                                     "neverApply": True})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=False)

    assert report_after(recorder, device, since)["appliedPolicyVersion"] == "1"


def expected_bucket(name: str) -> float:
    """The documented pick: SHA-256 of the device name, first 8 bytes, modulo 10,000, in %."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 / 100


def enroll_many(control: ControlClient, token: str, count: int) -> list[dict[str, Any]]:
    entries = [{"hardwareInfo": {"serialNumber": f"P-{i}", "manufacturer": "Zebra",
                                 "brand": "Zebra", "model": "TC58"},
                "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-09-01"},
                "apiLevel": 33} for i in range(count)]
    devices: list[dict[str, Any]] = control.ok(
        "POST", "enroll:batch", {"enrollmentToken": token, "devices": entries})["devices"]
    return devices


def non_compliant_after_patch(amapi: Any, recorder: Recorder, names: set[str]) -> set[str]:
    since = len(recorder.messages())
    patch_policy(amapi, KIOSK, funDisabled=False)
    reports = reports_after(recorder, names, since)
    return {name for name, report in reports.items() if report["policyCompliant"] is False}


def test_percent_picks_a_stable_share_by_device_name_and_a_larger_share_includes_it(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    devices = enroll_many(control, token["value"], 60)
    names = {d["name"] for d in devices}
    control.ok("POST", "behaviors", {"percent": 50, "policy": "kiosk",
                                     "nonCompliance": NOT_COMPLIANT[:1]})

    first = non_compliant_after_patch(amapi, recorder, names)
    second = non_compliant_after_patch(amapi, recorder, names)
    control.ok("DELETE", "behaviors")
    control.ok("POST", "behaviors", {"percent": 20, "policy": "kiosk",
                                     "nonCompliance": NOT_COMPLIANT[:1]})
    smaller = non_compliant_after_patch(amapi, recorder, names)

    assert first == second == {n for n in names if expected_bucket(n) < 50}
    assert 15 <= len(first) <= 45
    assert smaller == {n for n in names if expected_bucket(n) < 20}
    assert smaller < first


@pytest.mark.parametrize(("percent", "count"), [(0, 0), (100, 12)])
def test_percent_bounds_pick_none_or_every_device(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder,
        percent: int, count: int) -> None:
    names = {d["name"] for d in enroll_many(control, token["value"], 12)}
    control.ok("POST", "behaviors", {"percent": percent, "policy": KIOSK,
                                     "nonCompliance": NOT_COMPLIANT[:1]})

    assert len(non_compliant_after_patch(amapi, recorder, names)) == count


def test_a_behaviour_applies_only_on_its_policy_and_moving_away_clears_it(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    device = control.enroll(token["value"], serial="MOVER")
    patch_policy(amapi, NEXT, funDisabled=True)
    bystander_token = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"policyName": "next"}).execute()
    bystander = control.enroll(bystander_token["value"], serial="BYSTANDER")
    for effect in ({"nonCompliance": NOT_COMPLIANT}, {"appError": APP_ERROR}):
        control.ok("POST", "behaviors", {"percent": 100, "policy": "kiosk", **effect})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=False)
    patch_policy(amapi, NEXT, funDisabled=False)

    reports = reports_after(recorder, {device["name"], bystander["name"]}, since)
    assert reports[device["name"]]["policyCompliant"] is False
    assert app_states(reports[device["name"]], "com.example.kiosk") != []
    assert reports[bystander["name"]]["policyCompliant"] is True
    assert "applicationReports" not in reports[bystander["name"]]
    since = len(recorder.messages())

    move(amapi, device, NEXT)

    moved = report_after(recorder, device, since)
    assert moved["appliedPolicyName"] == NEXT
    assert moved["policyCompliant"] is True
    assert "nonComplianceDetails" not in moved
    assert "applicationReports" not in moved
    assert get(amapi, device) == moved
    since = len(recorder.messages())

    move(amapi, device, KIOSK)

    back = report_after(recorder, device, since)
    assert back["policyCompliant"] is False
    assert app_states(back, "com.example.kiosk")[0]["severity"] == "ERROR"


def test_a_behaviour_on_any_policy_follows_the_device_to_a_policy_created_later(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "*",
                                     "appError": APP_ERROR})
    canary = f"{ENTERPRISE}/policies/canary-1"  # a name nobody could know in advance
    patch_policy(amapi, canary, funDisabled=True)
    since = len(recorder.messages())

    move(amapi, device, canary)

    report = report_after(recorder, device, since)
    assert report["appliedPolicyName"] == canary
    assert app_states(report, "com.example.kiosk")[0]["severity"] == "ERROR"
    listed = control.ok("GET", "behaviors")["behaviors"]
    assert [b["policy"] for b in listed] == ["*"]


def test_the_app_own_states_survive_a_simulated_error_coming_and_going(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    own_state = {"key": "battery", "severity": "INFO", "message": "ok",
                 "createTime": "2026-01-01T00:00:00.000Z",
                 "lastUpdateTime": "2026-01-01T00:00:00.000Z"}
    control.ok("POST", f"{device['name']}:report", {"applicationReports": [
        {"packageName": "com.example.kiosk", "versionName": "1.2", "keyedAppStates": [own_state]}]})
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "kiosk",
                                     "appError": APP_ERROR})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=False)

    with_error = report_after(recorder, device, since)
    assert [s["key"] for s in app_states(with_error, "com.example.kiosk")] == [
        "battery", "server_url"]
    control.ok("DELETE", "behaviors")
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=True)

    healed = report_after(recorder, device, since)
    assert healed["applicationReports"] == [
        {"packageName": "com.example.kiosk", "versionName": "1.2", "keyedAppStates": [own_state]}]


def test_an_app_entry_the_device_reported_on_since_stays_when_the_error_goes(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "kiosk",
                                     "appError": APP_ERROR})
    since = len(recorder.messages())
    patch_policy(amapi, KIOSK, funDisabled=False)
    report_after(recorder, device, since)
    reported = {"packageName": "com.example.kiosk", "state": "INSTALLED", "versionName": "2.0"}
    control.ok("POST", f"{device['name']}:report", {"applicationReports": [reported]})
    control.ok("DELETE", "behaviors")
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=True)

    assert report_after(recorder, device, since)["applicationReports"] == [reported]


def test_list_clear_and_reset(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    added = control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "kiosk",
                                             "nonCompliance": NOT_COMPLIANT})
    control.ok("POST", "behaviors", {"percent": 12.5, "policy": NEXT, "neverApply": True})

    listed = control.ok("GET", "behaviors")["behaviors"]

    assert added == {"devices": [device["name"]], "policy": "kiosk",
                     "nonCompliance": NOT_COMPLIANT}
    assert listed == [added, {"percent": 12.5, "policy": NEXT, "neverApply": True}]
    since = len(recorder.messages())
    patch_policy(amapi, KIOSK, funDisabled=False)
    assert report_after(recorder, device, since)["policyCompliant"] is False

    assert control.ok("DELETE", "behaviors") == {}
    assert control.ok("GET", "behaviors") == {"behaviors": []}
    since = len(recorder.messages())
    patch_policy(amapi, KIOSK, funDisabled=True)
    healed = report_after(recorder, device, since)
    assert healed["policyCompliant"] is True
    assert "nonComplianceDetails" not in healed

    control.ok("POST", "behaviors", {"percent": 100, "policy": "kiosk", "neverApply": True})
    control.ok("POST", "reset")
    assert control.ok("GET", "behaviors") == {"behaviors": []}


def test_report_times_follow_the_emulator_clock(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "behaviors", {"devices": [device_id(device)], "policy": "kiosk",
                                     "appError": APP_ERROR})
    control.ok("POST", "clock", {"offsetSeconds": 3600})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=False)

    first = report_after(recorder, device, since)
    [state] = app_states(first, "com.example.kiosk")
    ahead = parse_timestamp(first["lastStatusReportTime"]) - datetime.now(UTC)
    assert 3590 < ahead.total_seconds() <= 3600
    assert state["createTime"] == state["lastUpdateTime"] == first["lastStatusReportTime"]
    control.ok("POST", "clock", {"offsetSeconds": 7200})
    since = len(recorder.messages())

    patch_policy(amapi, KIOSK, funDisabled=True)

    later = report_after(recorder, device, since)
    [still] = app_states(later, "com.example.kiosk")
    ahead = parse_timestamp(later["lastStatusReportTime"]) - datetime.now(UTC)
    assert 7190 < ahead.total_seconds() <= 7200
    assert still["createTime"] == state["createTime"]  # the same error, still there
    assert still["lastUpdateTime"] == later["lastStatusReportTime"]


@pytest.mark.parametrize(("body", "message"), [
    (["kiosk"], "Expected a JSON object"),
    ({"percent": 5, "policy": "kiosk", "neverApply": True, "sticky": 1},
     "Unknown field(s): sticky"),
    ({"percent": 5, "neverApply": True}, '"policy" is required'),
    ({"percent": 5, "policy": "policies/kiosk", "neverApply": True}, '"policy" must be'),
    ({"percent": 5, "policy": "", "neverApply": True}, '"policy" must be'),
    ({"devices": ["ID"], "percent": 5, "policy": "kiosk", "neverApply": True},
     'exactly one of "devices"'),
    ({"policy": "kiosk", "neverApply": True}, 'exactly one of "devices"'),
    ({"devices": [], "policy": "kiosk", "neverApply": True}, '"devices" must be'),
    ({"devices": ["no-such-device"], "policy": "kiosk", "neverApply": True},
     "Unknown device(s): no-such-device"),
    ({"percent": -1, "policy": "kiosk", "neverApply": True}, '"percent" must be'),
    ({"percent": 100.5, "policy": "kiosk", "neverApply": True}, '"percent" must be'),
    ({"percent": "50", "policy": "kiosk", "neverApply": True}, '"percent" must be'),
    ({"percent": True, "policy": "kiosk", "neverApply": True}, '"percent" must be'),
    ({"percent": 5, "policy": "kiosk"}, "exactly one effect"),
    ({"percent": 5, "policy": "kiosk", "neverApply": True, "appError": APP_ERROR},
     "(got appError, neverApply)"),
    ({"percent": 5, "policy": "kiosk", "neverApply": False}, '"neverApply" must be true'),
    ({"percent": 5, "policy": "kiosk", "nonCompliance": []}, '"nonCompliance" must be'),
    ({"percent": 5, "policy": "kiosk",
      "nonCompliance": [{"settingName": "funDisabled", "nonComplianceReason": "BROKEN"}]},
     "nonCompliance[0].nonComplianceReason"),
    ({"percent": 5, "policy": "kiosk", "nonCompliance": [{"settingName": "funDisabled"}]},
     "Missing field at 'nonCompliance[0].nonComplianceReason'"),
    ({"percent": 5, "policy": "kiosk", "nonCompliance": [
        {"settingName": "funDisabled", "nonComplianceReason": "PENDING", "why": "x"}]},
     'Unknown name "why"'),
    ({"percent": 5, "policy": "kiosk", "appError": {"packageName": "a"}}, "appError.key"),
    ({"percent": 5, "policy": "kiosk", "appError": {**APP_ERROR, "severity": "INFO"}},
     "Unknown field(s) in appError: severity"),
])
def test_bad_behaviour_is_400_with_a_clear_message_and_adds_nothing(
        control: ControlClient, device: dict[str, Any], body: Any, message: str) -> None:
    status, payload = control.call("POST", "behaviors", body)

    assert status == 400, payload
    assert payload["error"]["status"] == "INVALID_ARGUMENT"
    assert message in payload["error"]["message"]
    assert control.ok("GET", "behaviors") == {"behaviors": []}
