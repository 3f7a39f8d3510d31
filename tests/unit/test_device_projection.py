"""What the inventory keeps of an AMAPI Device, over a recorded STATUS_REPORT payload."""

import copy

import pytest

from shared.devices import projection
from tests.conftest import fixture_json


@pytest.fixture
def device():
    return fixture_json("device_status_report.json")


def test_a_status_report_is_projected_to_the_inventory_fields(device):
    projected = projection.project(device)
    assert projected["state"] == "ACTIVE" and projected["appliedState"] == "ACTIVE"
    assert projected["managementMode"] == "DEVICE_OWNER"
    assert projected["ownership"] == "COMPANY_OWNED"
    assert projected["apiLevel"] == 34
    assert projected["reportTime"] == "2026-03-09T10:05:47.981Z"
    assert projected["lastStatusReportTime"] == "2026-03-09T10:05:47.981Z"
    assert projected["enrollTime"] == "2026-03-02T08:14:05.512Z"
    assert projected["lastPolicySyncTime"] == "2026-03-09T10:02:11.204Z"
    assert projected["hardware"] == {"manufacturer": "Google", "brand": "google",
                                     "model": "Pixel 7a", "serialNumber": "2B141JEGR07391",
                                     "hardware": "lynx"}
    assert projected["software"] == {"androidVersion": "14", "securityPatchLevel": "2024-09-05",
                                     "androidBuildNumber": "AP2A.240905.003",
                                     "androidDevicePolicyVersionName": "121.47.0"}
    assert projected["network"] == {"imei": "356938035643809",
                                    "wifiMacAddress": "a8:9c:ed:12:34:56"}


def test_compliance_keeps_the_policy_applied_and_why_the_device_is_not_compliant(device):
    compliance = projection.project(device)["compliance"]
    assert compliance["appliedPolicyName"] == device["appliedPolicyName"]
    assert compliance["appliedPolicyVersion"] == "7"
    assert compliance["compliant"] is False
    assert compliance["nonCompliance"] == [
        {"settingName": "applications", "nonComplianceReason": "APP_NOT_INSTALLED",
         "packageName": "com.example.signage", "fieldPath": "applications[1]"},
        {"settingName": "passwordPolicies", "nonComplianceReason": "USER_ACTION",
         "fieldPath": "passwordPolicies[0]",
         "specificNonComplianceReason": "PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT"}]


def test_apps_are_kept_without_their_signatures_or_keyed_states(device):
    assert projection.project(device)["apps"] == [
        {"packageName": "com.example.kiosk", "versionName": "3.4.1", "versionCode": 30401,
         "state": "INSTALLED", "displayName": "Lobby Kiosk"},
        {"packageName": "com.google.android.apps.work.clouddpc", "versionName": "121.47.0",
         "versionCode": 18214, "state": "INSTALLED", "displayName": "Android Device Policy"}]


def test_a_report_without_app_reports_leaves_the_stored_apps_alone(device):
    del device["applicationReports"]
    assert "apps" not in projection.project(device)


def test_unbounded_lists_are_bounded(device):
    app = device["applicationReports"][0]
    device["applicationReports"] = [app] * (projection.MAX_APPS + 50)
    device["nonComplianceDetails"] = device["nonComplianceDetails"] * 100
    projected = projection.project(device)
    assert len(projected["apps"]) == projection.MAX_APPS
    assert len(projected["compliance"]["nonCompliance"]) == projection.MAX_NON_COMPLIANCE


def test_keyed_app_states_are_flattened_with_their_package(device):
    assert projection.keyed_app_states(device) == [
        {"packageName": "com.example.kiosk", "key": "printer", "severity": "ERROR",
         "message": "Receipt printer offline", "data": "usb:0",
         "lastUpdateTime": "2026-03-09T10:04:12.331Z"},
        # No lastUpdateTime: when it was created; no data: empty.
        {"packageName": "com.example.kiosk", "key": "session", "severity": "INFO",
         "message": "Idle", "data": "", "lastUpdateTime": "2026-03-09T10:05:00Z"}]


def test_a_keyed_state_without_a_key_is_ignored(device):
    states = device["applicationReports"][0]["keyedAppStates"]
    states.append({"severity": "INFO", "message": "no key"})
    states.append({"key": "bare"})
    flattened = projection.keyed_app_states(device)
    assert [s["key"] for s in flattened] == ["printer", "session", "bare"]
    assert flattened[-1]["severity"] == "INFO"
    assert flattened[-1]["lastUpdateTime"] == device["lastStatusReportTime"]


def test_the_token_data_the_profile_put_is_read_back(device):
    assert projection.token_data(device) == {"profileId": "lobby-kiosks", "space": "global",
                                             "userName": "front-desk",
                                             "attrs": {"store": "042"}}
    for broken in ("not json", "[1, 2]", ""):
        device["enrollmentTokenData"] = broken
        assert projection.token_data(device) == {}


def test_a_deletion_report_is_recognised(device):
    assert not projection.is_deleted(device)
    assert projection.is_deleted({**device, "appliedState": "DELETED"})
    assert projection.is_deleted({**device, "state": "DELETED"})


def test_only_a_newer_report_replaces_the_stored_one(device):
    stored = projection.report_time(device)
    older = copy.deepcopy(device)
    older["lastStatusReportTime"] = "2026-03-09T10:05:47.98Z"
    assert not projection.is_newer(projection.report_time(older), stored)
    assert projection.is_newer("2026-03-09T11:05:47.981+01:00", stored) is False
    assert projection.is_newer("2026-03-09T10:05:47.981000001Z", stored) is False
    assert projection.is_newer("2026-03-09T10:05:47.982Z", stored)
    assert projection.is_newer(stored, None)
    assert not projection.is_newer("", stored)


def test_an_enrollment_report_is_dated_by_its_enrollment(device):
    del device["lastStatusReportTime"]
    assert projection.report_time(device) == "2026-03-02T08:14:05.512Z"
    assert "lastStatusReportTime" not in projection.project(device)
