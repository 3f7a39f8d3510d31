"""Fault injection and the AMAPI request log."""

from __future__ import annotations

import collections
import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ENTERPRISE, ControlClient

POLICY = f"{ENTERPRISE}/policies/p"


def test_certain_429_on_one_method_leaves_others_alone(
        amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "faults", {"probability": 1, "codes": [429],
                                  "methods": ["enterprises.policies.patch"]})

    with pytest.raises(HttpError) as caught:
        amapi.enterprises().policies().patch(name=POLICY, body={"funDisabled": True}).execute()
    enterprise = amapi.enterprises().get(name=ENTERPRISE).execute()

    assert caught.value.status_code == 429
    error = json.loads(caught.value.content)["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in error["message"]
    assert enterprise["name"] == ENTERPRISE


def test_failed_call_changes_nothing(amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "faults", {"probability": 1.0, "codes": [503]})
    with pytest.raises(HttpError):
        amapi.enterprises().policies().patch(name=POLICY, body={}).execute()

    control.ok("DELETE", "faults")
    created = amapi.enterprises().policies().patch(name=POLICY, body={}).execute()

    assert created["version"] == "1"


def test_codes_are_drawn_from_the_list(amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "faults", {"probability": 1, "codes": [500, 503]})
    seen = set()
    for _ in range(40):
        with pytest.raises(HttpError) as caught:
            amapi.enterprises().get(name=ENTERPRISE).execute()
        seen.add(caught.value.status_code)

    assert seen == {500, 503}


def test_zero_probability_injects_nothing(amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "faults", {"probability": 0, "codes": [500]})

    assert amapi.enterprises().get(name=ENTERPRISE).execute()["name"] == ENTERPRISE


@pytest.mark.parametrize("body", [
    {"probability": 2, "codes": [429]},
    {"probability": 0.5, "codes": []},
    {"probability": 0.5, "codes": [200]},
    {"probability": 0.5, "codes": [429], "methods": ["policies.patch"]},
    {"probability": 0.5, "codes": [429], "colour": "red"},
])
def test_bad_fault_rules_are_400(control: ControlClient, body: dict[str, Any]) -> None:
    status, payload = control.call("POST", "faults", body)

    assert status == 400
    assert payload["error"]["message"]
    assert control.ok("GET", "faults") == {}


def test_request_log_records_every_amapi_call_with_its_status(
        amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "faults", {"probability": 1, "codes": [429],
                                  "methods": ["enterprises.policies.patch"]})
    with pytest.raises(HttpError):
        amapi.enterprises().policies().patch(name=POLICY, body={}).execute()
    amapi.enterprises().get(name=ENTERPRISE).execute()
    with pytest.raises(HttpError):
        amapi.enterprises().policies().get(name=f"{ENTERPRISE}/policies/none").execute()

    requests = control.ok("GET", "requests")["requests"]

    assert [(r["method"], r["httpMethod"], r["path"], r["status"]) for r in requests] == [
        ("enterprises.policies.patch", "PATCH", f"/v1/{POLICY}", 429),
        ("enterprises.get", "GET", f"/v1/{ENTERPRISE}", 200),
        ("enterprises.policies.get", "GET", f"/v1/{ENTERPRISE}/policies/none", 404),
    ]
    assert all(r["time"].endswith("Z") for r in requests)


def test_request_log_can_be_cleared_and_skips_control_calls(
        amapi: Any, control: ControlClient) -> None:
    amapi.enterprises().get(name=ENTERPRISE).execute()

    control.ok("DELETE", "requests")
    control.ok("GET", "healthz")

    assert control.ok("GET", "requests") == {"requests": []}


def test_reset_clears_faults_log_and_resources(amapi: Any, control: ControlClient) -> None:
    amapi.enterprises().policies().patch(name=POLICY, body={}).execute()
    control.ok("POST", "faults", {"probability": 1, "codes": [500]})
    control.ok("POST", "clock", {"offsetSeconds": 3600})

    control.ok("POST", "reset")

    assert control.ok("GET", "requests") == {"requests": []}
    assert control.ok("GET", "clock")["offsetSeconds"] == 0
    assert amapi.enterprises().policies().list(parent=ENTERPRISE).execute() == {}


def test_control_api_errors(control: ControlClient) -> None:
    assert control.call("GET", "no-such-route")[0] == 404
    assert control.call("PUT", "faults", {})[0] == 405
    assert control.call("POST", "clock", {"offsetSeconds": "soon"})[0] == 400
    assert control.ok("GET", "healthz") == {"status": "ok"}


def test_request_log_counts_device_patches_per_device(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    first = control.enroll(token["value"], serial="S-1")["name"]
    second = control.enroll(token["value"], serial="S-2")["name"]
    devices = amapi.enterprises().devices()
    for name in (first, second, first):
        devices.patch(name=name, updateMask="state",
                      body={"state": "DISABLED"}).execute()
    amapi.enterprises().devices().issueCommand(
        name=first, body={"type": "LOCK"}).execute()

    requests = control.ok("GET", "requests")["requests"]
    patches = collections.Counter(r["name"] for r in requests
                                  if r["method"] == "enterprises.devices.patch")

    assert patches == {first: 2, second: 1}
    [command] = [r for r in requests if r["method"] == "enterprises.devices.issueCommand"]
    assert command["name"] == first  # the resource, without the `:issueCommand` verb
