"""Simulated enrollment through the control API, and the ENROLLMENT notification."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from .harness import ENTERPRISE, TOPIC, ControlClient, Recorder

HARDWARE = {"serialNumber": "R52W1234ABC", "manufacturer": "samsung", "brand": "samsung",
            "model": "SM-X200"}


def enroll_body(token: str, **hardware: str) -> dict[str, Any]:
    return {"enrollmentToken": token, "hardwareInfo": {**HARDWARE, **hardware}, "apiLevel": 34,
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-09-01"}}


def test_enroll_creates_the_device_on_the_tokens_policy(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    device = control.ok("POST", "enroll", enroll_body(token["value"], imei="356938035643809"))

    assert re.fullmatch(r"enterprises/LC00local/devices/[0-9a-f]{16}", device["name"])
    assert device["policyName"] == f"{ENTERPRISE}/policies/kiosk"
    assert device["appliedPolicyVersion"] == "1"
    assert device["enrollmentTokenName"] == token["name"]
    assert device["enrollmentTokenData"] == '{"profileId":"p1"}'
    assert device["managementMode"] == "DEVICE_OWNER"
    assert device["ownership"] == "COMPANY_OWNED"
    assert (device["state"], device["appliedState"]) == ("ACTIVE", "ACTIVE")
    assert device["hardwareInfo"] == HARDWARE
    assert device["networkInfo"] == {"imei": "356938035643809"}
    assert device["softwareInfo"]["securityPatchLevel"] == "2026-09-01"
    for field in ("enrollmentTime", "lastPolicySyncTime", "lastStatusReportTime"):
        assert device[field].endswith("Z")
    assert "previousDeviceNames" not in device
    assert amapi.enterprises().devices().get(name=device["name"]).execute() == device


def test_enroll_publishes_enrollment_with_the_device(
        control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    device = control.enroll(token["value"])

    [message] = recorder.messages("ENROLLMENT")
    assert message.topic == TOPIC
    assert message.attributes == {"notificationType": "ENROLLMENT"}
    decoded = json.loads(base64.b64decode(base64.b64encode(message.data)).decode("utf-8"))
    assert decoded == device


def test_enroll_accepts_the_token_name_too(control: ControlClient, token: dict[str, Any]) -> None:
    device = control.enroll(token["name"])

    assert device["enrollmentTokenName"] == token["name"]


def test_re_enrolled_serial_lists_previous_devices(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    first = control.enroll(token["value"], serial="SAME")
    amapi.enterprises().devices().delete(name=first["name"]).execute()
    second = control.enroll(token["value"], serial="SAME")
    third = control.enroll(token["value"], serial="SAME")

    assert second["previousDeviceNames"] == [first["name"]]
    assert third["previousDeviceNames"] == [first["name"], second["name"]]


def test_enroll_refuses_unknown_token(control: ControlClient, recorder: Recorder) -> None:
    status, body = control.call("POST", "enroll", enroll_body("NOSUCHTOKENXXXXXXXXX"))

    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"
    assert recorder.messages() == []


def test_enroll_refuses_deleted_token(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    amapi.enterprises().enrollmentTokens().delete(name=token["name"]).execute()

    status, _ = control.call("POST", "enroll", enroll_body(token["value"]))

    assert status == 400
    assert amapi.enterprises().devices().list(parent=ENTERPRISE).execute() == {}
    assert recorder.messages("ENROLLMENT") == []


def test_enroll_refuses_token_expired_by_the_emulator_clock(
        amapi: Any, control: ControlClient) -> None:
    created = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"duration": "600s"}).execute()
    control.ok("POST", "clock", {"offsetSeconds": 599})
    control.enroll(created["value"], serial="BEFORE-EXPIRY")

    clock = control.ok("POST", "clock", {"offsetSeconds": 601})
    status, body = control.call("POST", "enroll", enroll_body(created["value"]))

    assert clock["offsetSeconds"] == 601
    assert status == 400
    assert "expired" in body["error"]["message"]
    listed = amapi.enterprises().devices().list(parent=ENTERPRISE).execute()["devices"]
    assert [d["hardwareInfo"]["serialNumber"] for d in listed] == ["BEFORE-EXPIRY"]


def test_one_time_token_enrolls_one_device_only(amapi: Any, control: ControlClient) -> None:
    created = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"oneTimeOnly": True}).execute()
    control.enroll(created["value"], serial="FIRST")

    status, body = control.call("POST", "enroll", enroll_body(created["value"]))

    assert status == 400
    assert "already used" in body["error"]["message"]


def test_enroll_without_the_policy_leaves_no_applied_version(
        amapi: Any, control: ControlClient) -> None:
    created = amapi.enterprises().enrollmentTokens().create(parent=ENTERPRISE, body={}).execute()

    device = control.enroll(created["value"])

    assert device["policyName"] == f"{ENTERPRISE}/policies/default"
    assert "appliedPolicyVersion" not in device


def test_enroll_validates_its_input(control: ControlClient, token: dict[str, Any]) -> None:
    missing_serial = {"enrollmentToken": token["value"], "hardwareInfo": {"model": "X"}}
    unknown_field = {**enroll_body(token["value"]), "hardwareInfo": {**HARDWARE, "colour": "red"}}

    assert control.call("POST", "enroll", {})[0] == 400
    assert control.call("POST", "enroll", missing_serial)[0] == 400
    status, body = control.call("POST", "enroll", unknown_field)
    assert status == 400
    assert "device.hardwareInfo" in body["error"]["message"]
