"""The AMAPI door against the emulator: retries inside the budget, errors classified once."""

import json
import time
import urllib.request

import pytest

from shared.amapi import errors
from shared.amapi.client import Amapi, amapi
from shared.retry import RetryPolicy
from tests.conftest import ENV

ENTERPRISE = f"enterprises/{ENV.enterprise_id}"
POLICY = f"{ENTERPRISE}/policies/door-test"


def control(server, method, path, body=None):
    request = urllib.request.Request(f"{server.url}/emulator/v1/{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else {}


def calls_to(server, method):
    return [r for r in control(server, "GET", "requests")["requests"] if r["method"] == method]


def test_policy_upsert_returns_the_stored_policy(amapi_emulator):
    first = amapi().patch_policy(POLICY, {"funDisabled": True})
    second = amapi().patch_policy(POLICY, {"funDisabled": False})
    assert first["name"] == POLICY
    assert int(second["version"]) == int(first["version"]) + 1
    assert amapi().get_policy(POLICY)["funDisabled"] is False


def test_half_of_calls_throttled_still_succeed_inside_the_budget(amapi_emulator):
    control(amapi_emulator, "POST", "faults", {"probability": 0.5, "codes": [429]})
    for i in range(10):
        amapi().patch_policy(f"{POLICY}-{i}", {"funDisabled": True})
    statuses = [r["status"] for r in calls_to(amapi_emulator, "enterprises.policies.patch")]
    assert statuses.count(200) == 10
    assert 429 in statuses  # the door did retry


def test_quota_exhausted_after_the_budget(amapi_emulator):
    control(amapi_emulator, "POST", "faults", {"probability": 1.0, "codes": [429],
                                               "methods": ["enterprises.policies.patch"]})
    started = time.monotonic()
    with pytest.raises(errors.AmapiQuotaExhausted):
        amapi().patch_policy(POLICY, {"funDisabled": True})
    assert time.monotonic() - started < 5  # budget is 3 s in tests
    assert len(calls_to(amapi_emulator, "enterprises.policies.patch")) > 1
    amapi().get_enterprise(ENTERPRISE)  # other methods unaffected


def test_outage_becomes_unavailable(amapi_emulator):
    control(amapi_emulator, "POST", "faults", {"probability": 1.0, "codes": [500, 503]})
    with pytest.raises(errors.AmapiUnavailable):
        amapi().get_enterprise(ENTERPRISE)


def test_non_idempotent_call_is_not_retried_after_a_500(amapi_emulator):
    control(amapi_emulator, "POST", "faults", {"probability": 1.0, "codes": [500],
                                               "methods": ["enterprises.enrollmentTokens.create"]})
    with pytest.raises(errors.AmapiUnavailable):
        amapi().create_enrollment_token(ENTERPRISE, {"policyName": POLICY})
    assert len(calls_to(amapi_emulator, "enterprises.enrollmentTokens.create")) == 1


def test_bad_enum_is_invalid_argument_naming_the_field(amapi_emulator):
    with pytest.raises(errors.AmapiInvalidArgument) as caught:
        amapi().patch_policy(POLICY, {"applications": [{"packageName": "com.example.kiosk",
                                                        "installType": "PINNED"}]})
    assert "install" in caught.value.message.lower()
    assert len(calls_to(amapi_emulator, "enterprises.policies.patch")) == 1  # never retried


def test_unknown_field_and_wrong_type_are_invalid_argument(amapi_emulator):
    for policy in ({"kioskMode": True}, {"funDisabled": "yes"}):
        with pytest.raises(errors.AmapiInvalidArgument):
            amapi().patch_policy(POLICY, policy)


def test_deleting_a_policy_in_use_is_a_failed_precondition(amapi_emulator):
    amapi().patch_policy(POLICY, {"funDisabled": True})
    token = amapi().create_enrollment_token(ENTERPRISE, {"policyName": POLICY})
    control(amapi_emulator, "POST", "enroll", {
        "enrollmentToken": token["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "DOOR-2", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
    with pytest.raises(errors.AmapiFailedPrecondition):
        amapi().delete_policy(POLICY)


def test_missing_resources_are_not_found(amapi_emulator):
    with pytest.raises(errors.AmapiNotFound):
        amapi().get_device(f"{ENTERPRISE}/devices/ffffffffffffffff")
    amapi().delete_device(f"{ENTERPRISE}/devices/ffffffffffffffff")  # already gone: fine
    amapi().delete_enrollment_token(f"{ENTERPRISE}/enrollmentTokens/nope")


def test_tokens_and_commands_round_trip(amapi_emulator):
    amapi().patch_policy(POLICY, {"funDisabled": True})
    token = amapi().create_enrollment_token(ENTERPRISE, {
        "policyName": POLICY, "duration": "86400s",
        "allowPersonalUsage": "PERSONAL_USAGE_DISALLOWED_USERLESS"})
    assert token["value"] and token["qrCode"]
    device = control(amapi_emulator, "POST", "enroll", {
        "enrollmentToken": token["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "DOOR-1", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
    operation = amapi().issue_command(device["name"], {"type": "LOCK"})
    assert operation["name"].startswith(device["name"] + "/operations/")
    deadline = time.monotonic() + 5
    while not amapi().get_operation(operation["name"]).get("done"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    devices, _ = amapi().list_devices(ENTERPRISE)
    assert [d["name"] for d in devices] == [device["name"]]


def test_unreachable_endpoint_is_unavailable():
    from devstack import emulators
    from shared.config import settings

    dead = Amapi(service=lambda: _service_at(f"http://127.0.0.1:{emulators.free_port()}",
                                             settings()),
                 policy=RetryPolicy(0.5, 0.05, 0.1))
    with pytest.raises(errors.AmapiUnavailable):
        dead.get_enterprise(ENTERPRISE)


def _service_at(url, config):
    from dataclasses import replace

    from shared.amapi.client import build_service

    return build_service(replace(config, amapi_endpoint=url))


def test_background_calls_are_not_retried_once_throttled(amapi_emulator):
    from shared.amapi.client import amapi_background

    control(amapi_emulator, "POST", "faults", {"probability": 1.0, "codes": [429],
                                               "methods": ["enterprises.policies.patch"]})
    with amapi_background() as run:
        with pytest.raises(errors.AmapiQuotaExhausted) as caught:
            amapi().patch_policy(POLICY, {"funDisabled": True})
        assert caught.value.never_executed
        # The quota is the project's: the rest of the run does not call AMAPI at all.
        with pytest.raises(errors.AmapiQuotaExhausted):
            amapi().get_enterprise(ENTERPRISE)
    assert run.throttled and run.skipped == 1
    assert len(calls_to(amapi_emulator, "enterprises.policies.patch")) == 1
    assert calls_to(amapi_emulator, "enterprises.get") == []
    # Interactive calls, outside the run, still spend their retry budget.
    with pytest.raises(errors.AmapiQuotaExhausted):
        amapi().patch_policy(POLICY, {"funDisabled": True})
    assert len(calls_to(amapi_emulator, "enterprises.policies.patch")) > 2
    amapi().get_enterprise(ENTERPRISE)



def test_a_background_run_whose_time_is_spent_leaves_its_calls_for_the_next(amapi_emulator):
    from shared.amapi.client import amapi_background

    with amapi_background(run_seconds=0) as run, pytest.raises(errors.AmapiUnavailable) as caught:
        amapi().get_enterprise(ENTERPRISE)
    assert caught.value.never_executed and run.skipped == 1
    assert calls_to(amapi_emulator, "enterprises.get") == []
