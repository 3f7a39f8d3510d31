"""enterprises.policies through the real client: upsert, versions, masks, validation."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ENTERPRISE, ControlClient, Recorder

POLICY = f"{ENTERPRISE}/policies/store-42"


def policies(amapi: Any) -> Any:
    return amapi.enterprises().policies()


def patch_error(amapi: Any, body: dict[str, Any]) -> HttpError:
    with pytest.raises(HttpError) as caught:
        policies(amapi).patch(name=POLICY, body=body).execute()
    return caught.value


def test_patch_creates_then_increments_the_version(amapi: Any) -> None:
    created = policies(amapi).patch(name=POLICY, body={"funDisabled": True}).execute()
    updated = policies(amapi).patch(name=POLICY, body={"funDisabled": False}).execute()

    assert created == {"name": POLICY, "version": "1", "funDisabled": True}
    assert updated["version"] == "2"
    assert policies(amapi).get(name=POLICY).execute() == updated


def test_patch_without_mask_replaces_every_field(amapi: Any) -> None:
    policies(amapi).patch(name=POLICY, body={"funDisabled": True, "keyguardDisabled": True}
                          ).execute()

    replaced = policies(amapi).patch(name=POLICY, body={"setWallpaperDisabled": True}).execute()

    assert replaced == {"name": POLICY, "version": "2", "setWallpaperDisabled": True}


def test_patch_with_mask_changes_only_the_masked_fields(amapi: Any) -> None:
    policies(amapi).patch(name=POLICY, body={"funDisabled": True, "keyguardDisabled": True,
                                             "maximumTimeToLock": "60000"}).execute()

    masked = policies(amapi).patch(
        name=POLICY, updateMask="keyguardDisabled,maximumTimeToLock,setWallpaperDisabled",
        body={"keyguardDisabled": False, "setWallpaperDisabled": True, "funDisabled": False},
    ).execute()

    assert masked == {"name": POLICY, "version": "2", "funDisabled": True,
                      "keyguardDisabled": False, "setWallpaperDisabled": True}


def test_patch_rejects_a_mask_naming_no_field(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        policies(amapi).patch(name=POLICY, updateMask="noSuchField", body={}).execute()
    assert caught.value.status_code == 400
    assert "noSuchField" in caught.value.reason


def test_patch_accepts_a_realistic_kiosk_policy(amapi: Any) -> None:
    body = {
        "applications": [{
            "packageName": "com.example.kiosk", "installType": "REQUIRED_FOR_SETUP",
            "roles": [{"roleType": "KIOSK"}],
            "managedConfiguration": {"server_url": "https://k.example", "retries": [1, 2]},
        }],
        "kioskCustomization": {"statusBar": "SYSTEM_INFO_ONLY",
                               "deviceSettings": "SETTINGS_ACCESS_BLOCKED"},
        "stayOnPluggedModes": ["AC", "USB"],
        "maximumTimeToLock": 0,
        "systemUpdate": {"type": "WINDOWED", "startMinutes": 120, "endMinutes": 240,
                         "freezePeriods": [{"startDate": {"month": 11, "day": 20},
                                            "endDate": {"month": 1, "day": 10}}]},
        "openNetworkConfiguration": {"NetworkConfigurations": [{"GUID": "w", "Type": "WiFi"}]},
    }

    stored = policies(amapi).patch(name=POLICY, body=body).execute()

    assert stored["applications"] == body["applications"]
    assert stored["openNetworkConfiguration"] == body["openNetworkConfiguration"]


def test_unknown_field_is_400_naming_the_field_and_its_path(amapi: Any) -> None:
    error = patch_error(amapi, {"applications": [{"packageName": "a", "fooBar": 1}]})

    assert error.status_code == 400
    assert 'Unknown name "fooBar"' in error.reason
    assert "'policy.applications[0]'" in error.reason


def test_bad_enum_value_is_400_naming_the_field_path(amapi: Any) -> None:
    error = patch_error(amapi, {"applications": [{"packageName": "a", "installType": "NOPE"}]})

    assert error.status_code == 400
    assert "policy.applications[0].installType" in error.reason
    assert '"NOPE"' in error.reason


@pytest.mark.parametrize(("body", "path"), [
    ({"funDisabled": "yes"}, "policy.funDisabled"),
    ({"minimumApiLevel": "thirty"}, "policy.minimumApiLevel"),
    ({"maximumTimeToLock": "soon"}, "policy.maximumTimeToLock"),
    ({"stayOnPluggedModes": "AC"}, "policy.stayOnPluggedModes"),
    ({"kioskCustomization": "locked"}, "policy.kioskCustomization"),
    ({"systemUpdate": {"startMinutes": 1.5}}, "policy.systemUpdate.startMinutes"),
])
def test_wrong_json_type_is_400_naming_the_field_path(
        amapi: Any, body: dict[str, Any], path: str) -> None:
    error = patch_error(amapi, body)

    assert error.status_code == 400
    assert f"'{path}'" in error.reason
    assert json.loads(error.content)["error"]["status"] == "INVALID_ARGUMENT"


def test_rejected_patch_changes_nothing(amapi: Any) -> None:
    policies(amapi).patch(name=POLICY, body={"funDisabled": True}).execute()
    patch_error(amapi, {"funDisabled": "no"})

    assert policies(amapi).get(name=POLICY).execute()["version"] == "1"


def test_list_and_delete(amapi: Any) -> None:
    policies(amapi).patch(name=POLICY, body={}).execute()
    policies(amapi).patch(name=f"{ENTERPRISE}/policies/other", body={}).execute()

    listed = policies(amapi).list(parent=ENTERPRISE).execute()["policies"]
    policies(amapi).delete(name=POLICY).execute()

    assert [p["name"] for p in listed] == [f"{ENTERPRISE}/policies/other", POLICY]
    with pytest.raises(HttpError) as caught:
        policies(amapi).get(name=POLICY).execute()
    assert caught.value.status_code == 404


def test_delete_is_refused_while_a_device_uses_the_policy(
        amapi: Any, device: dict[str, Any]) -> None:
    with pytest.raises(HttpError) as caught:
        policies(amapi).delete(name=device["policyName"]).execute()

    assert caught.value.status_code == 400
    assert json.loads(caught.value.content)["error"]["status"] == "FAILED_PRECONDITION"
    amapi.enterprises().devices().delete(name=device["name"]).execute()
    assert policies(amapi).delete(name=device["policyName"]).execute() == {}


def test_devices_on_a_patched_policy_apply_it_and_report(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    on_policy = control.enroll(token["value"], serial="ON-POLICY")
    other_token = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"policyName": "elsewhere"}).execute()
    control.enroll(other_token["value"], serial="ELSEWHERE")
    recorder.clear()

    patched = policies(amapi).patch(name=on_policy["policyName"],
                                    body={"funDisabled": False}).execute()

    report = recorder.wait_for(lambda m: m.type == "STATUS_REPORT")
    assert patched["version"] == "2"
    assert report.payload["name"] == on_policy["name"]
    assert report.payload["appliedPolicyVersion"] == "2"
    assert report.payload["appliedPolicyName"] == on_policy["policyName"]
    assert report.payload["lastStatusReportTime"] > on_policy["lastStatusReportTime"]
    fetched = amapi.enterprises().devices().get(name=on_policy["name"]).execute()
    assert fetched == report.payload
    time.sleep(0.2)  # the device on another policy would have reported by now
    assert len(recorder.messages("STATUS_REPORT")) == 1
