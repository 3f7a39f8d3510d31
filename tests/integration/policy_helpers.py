"""Shared steps of the policy function's tests: managed devices and AMAPI call accounting."""

from __future__ import annotations

import threading
from typing import Any

from shared.amapi.client import amapi
from shared.clock import utcnow
from shared.config import settings
from shared.policy import push
from shared.policy.effective_policy import choose
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.store import devices, effective_policies
from tests.integration.enroll_helpers import emulator_call, enroll_device


def managed_device(server: Any, serial: str, labels: list[str] | None = None,
                   user: str = "kiosk-operator", space: str = "global") -> dict[str, Any]:
    """A device enrolled on the holding policy and vetted, as notifications leave it."""
    holding = holding_policy_name(settings().enterprise, space)
    amapi().patch_policy(holding, holding_policy())
    token = amapi().create_enrollment_token(settings().enterprise, {"policyName": holding})
    status, device = enroll_device(server, token["value"], serial)
    assert status == 200, device
    record = {"name": device["name"], "space": space, "userName": user,
              "labels": labels or [], "state": "ACTIVE", "policyName": holding,
              "enrollmentDecision": {"result": "ALLOWED", "reason": ""},
              "enrollTime": utcnow()}
    devices.put(device["name"], record)
    return {"id": device["name"].rsplit("/", 1)[1], **record}


def amapi_calls(server: Any) -> list[dict[str, Any]]:
    """Every AMAPI call the emulator received since the log was last cleared."""
    return emulator_call(server, "GET", "/emulator/v1/requests")[1]["requests"]


def clear_calls(server: Any) -> None:
    """Start counting AMAPI calls afresh."""
    emulator_call(server, "DELETE", "/emulator/v1/requests")


def amapi_device(server: Any, name: str) -> dict[str, Any]:
    """The device as AMAPI sees it."""
    status, body = emulator_call(server, "GET", f"/v1/{name}")
    assert status == 200, body
    return dict(body)


def amapi_policy(server: Any, name: str) -> dict[str, Any]:
    """A policy as AMAPI stores it."""
    status, body = emulator_call(server, "GET", f"/v1/{name}")
    assert status == 200, body
    return dict(body)


def at_once(*calls):
    """Run the calls in threads released together; their responses in order."""
    start = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def request(app, method, path, body, headers):
    """A call to make later, each on its own test client (one per thread)."""
    def call():
        return app.test_client().open(path, method=method, json=body, headers=headers)
    return call


def assert_amapi_matches_the_stores(server, space="global"):
    """Every managed device is where the stored configurations put it, with that content."""
    inputs = push.load_space(space)
    groups = effective_policies.in_space(space)
    for device in devices.managed_in_space(space):
        choice = choose(device, inputs)
        group = groups.get(device.get("effectivePolicy") or "")
        assert (group or {}).get("choiceKey") == choice.key, device["name"]
        if group:
            assert device["policyName"] == group["name"], device["name"]
        assert amapi_device(server, device["name"])["policyName"] == device["policyName"]
        if choice.key:
            pushed = amapi_policy(server, device["policyName"])
            expected = push.compile_choice(choice, inputs)
            assert {k: v for k, v in pushed.items() if k in expected} == expected
