"""The discovery-schema validator (also used to check compiled policies elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.amapi_emulator import SchemaValidationError, validate, validate_or_raise
from devstack.amapi_emulator.discovery import match, method_by_short_id
from devstack.amapi_emulator.validation import validate_query, validate_update_mask


def test_a_conforming_device_has_no_problems() -> None:
    device = {
        "name": "enterprises/LC00local/devices/0123456789abcdef",
        "apiLevel": 34, "appliedPolicyVersion": "3", "state": "ACTIVE",
        "memoryInfo": {"totalRam": "4000000000", "totalInternalStorage": 64000000000},
        "enrollmentTime": "2026-11-20T10:15:02.123456789Z",
        "systemProperties": {"ro.build.type": "user"},
        "nonComplianceDetails": [{"settingName": "applications", "currentValue": [1, "x"]}],
        "powerManagementEvents": [{"eventType": "BATTERY_LEVEL_COLLECTED", "batteryLevel": 87}],
        "softwareInfo": None,
    }

    assert validate("Device", device) == []


@pytest.mark.parametrize(("schema", "value", "expected"), [
    ("Policy", {"fooBar": 1},
     "Invalid JSON payload received. Unknown name \"fooBar\" at 'policy': Cannot find field."),
    ("Policy", {"funDisabled": "yes"},
     "Invalid value at 'policy.funDisabled' (TYPE_BOOL), \"yes\""),
    ("Policy", {"applications": [{"installType": "NOPE"}]},
     "Invalid value at 'policy.applications[0].installType' "
     "(type.googleapis.com/google.android.devicemanagement.v1.InstallType), \"NOPE\""),
    ("Policy", {"minimumApiLevel": 2**31},
     "Invalid value at 'policy.minimumApiLevel' (TYPE_INT32)"),
    ("Policy", {"minimumApiLevel": "30"}, "'policy.minimumApiLevel' (TYPE_INT32)"),
    ("Policy", {"maximumTimeToLock": "1e3"}, "'policy.maximumTimeToLock' (TYPE_INT64)"),
    ("Policy", {"maximumTimeToLock": 2**63}, "'policy.maximumTimeToLock' (TYPE_INT64)"),
    ("EnrollmentToken", {"duration": "3600"}, "'enrollmentToken.duration'"),
    ("EnrollmentToken", {"duration": "1.0000000001s"}, "'enrollmentToken.duration'"),
    ("EnrollmentToken", {"expirationTimestamp": "2026-13-01T00:00:00Z"},
     "'enrollmentToken.expirationTimestamp'"),
    ("EnrollmentToken", {"expirationTimestamp": "2026-11-01 00:00:00"},
     "'enrollmentToken.expirationTimestamp'"),
    ("Device", {"systemProperties": {"a": 1}}, "'device.systemProperties[\"a\"]' (TYPE_STRING)"),
    ("Device", {"powerManagementEvents": [{"batteryLevel": True}]},
     "'device.powerManagementEvents[0].batteryLevel' (TYPE_FLOAT)"),
    ("Policy", {"applications": {"packageName": "a"}}, "'policy.applications' (list)"),
    ("Device", "not an object", "'device' (type.googleapis.com/"),
])
def test_each_kind_of_problem_names_the_field_path(
        schema: str, value: Any, expected: str) -> None:
    problems = validate(schema, value)

    assert len(problems) == 1
    assert expected in problems[0]


def test_every_problem_is_reported() -> None:
    problems = validate("Policy", {"a": 1, "b": 2, "funDisabled": 0})

    assert len(problems) == 3


def test_any_typed_fields_accept_anything() -> None:
    policy = {"applications": [{"managedConfiguration": {"x": [1, {"y": None}], "z": "s"}}],
              "openNetworkConfiguration": {"NetworkConfigurations": []}}
    operation = {"metadata": {"@type": "t", "anything": [1]}, "response": {"k": {}}}

    assert validate("Policy", policy) == []
    assert validate("Operation", operation) == []


def test_validate_or_raise() -> None:
    validate_or_raise("Policy", {"funDisabled": True})
    with pytest.raises(SchemaValidationError) as caught:
        validate_or_raise("Policy", {"funDisabled": "no"}, root="compiled")
    assert caught.value.errors == ["Invalid value at 'compiled.funDisabled' (TYPE_BOOL), \"no\""]


def test_unknown_schema_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        validate("NoSuchSchema", {})


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_int64_accepts_numbers_and_decimal_strings_in_range(number: int) -> None:
    assert validate("Policy", {"maximumTimeToLock": number}) == []
    assert validate("Policy", {"maximumTimeToLock": str(number)}) == []


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=999))
def test_durations_in_seconds_with_fractions_are_valid(seconds: int, millis: int) -> None:
    assert validate("EnrollmentToken", {"duration": f"{seconds}s"}) == []
    assert validate("EnrollmentToken", {"duration": f"{seconds}.{millis:03d}s"}) == []


def test_query_parameters() -> None:
    delete = method_by_short_id()["enterprises.devices.delete"]

    assert validate_query(delete, {"wipeDataFlags": ["WIPE_ESIMS", "WIPE_EXTERNAL_STORAGE"],
                                   "alt": ["json"]}) == []
    assert "wipeDataFlags[1]" in validate_query(delete, {"wipeDataFlags": ["WIPE_ESIMS", "X"]})[0]
    assert 'Unknown name "force"' in validate_query(delete, {"force": ["true"]})[0]
    listing = method_by_short_id()["enterprises.devices.list"]
    assert "(TYPE_INT32)" in validate_query(listing, {"pageSize": ["ten"]})[0]


def test_update_mask_paths_must_be_fields() -> None:
    assert validate_update_mask("Policy", "funDisabled, kioskCustomization.statusBar") == []
    assert len(validate_update_mask("Policy", "funDisabled,nope,kioskCustomization.nope")) == 2


def test_routes_come_from_the_discovery_document() -> None:
    found = match("PATCH", "/v1/enterprises/LC1/policies/kiosk")
    command = match("POST", "/v1/enterprises/LC1/devices/abc:issueCommand")

    assert found is not None and found[0].short_id == "enterprises.policies.patch"
    assert found[1] == {"enterprisesId": "LC1", "policiesId": "kiosk"}
    assert command is not None and command[0].short_id == "enterprises.devices.issueCommand"
    assert match("PUT", "/v1/enterprises/LC1/policies/kiosk") is None
    assert match("GET", "/v1/enterprises/LC1/policies/kiosk/extra") is None
