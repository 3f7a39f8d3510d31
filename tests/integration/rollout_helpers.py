"""Fleets built in bulk, and the counting of what a rollout did in AMAPI."""

from __future__ import annotations

import collections
from typing import Any

from shared.amapi.client import amapi
from shared.clock import utcnow
from shared.config import settings
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.store import devices
from tests.integration.enroll_helpers import emulator_call


def bulk_fleet(server: Any, size: int, space: str = "global",
               labels: list[str] | None = None) -> list[dict[str, Any]]:
    """`size` vetted devices on the space's holding policy, enrolled in bulk."""
    holding = holding_policy_name(settings().enterprise, space)
    amapi().patch_policy(holding, holding_policy())
    token = amapi().create_enrollment_token(settings().enterprise, {"policyName": holding})
    fleet: list[dict[str, Any]] = []
    for start in range(0, size, 500):
        status, body = emulator_call(server, "POST", "/emulator/v1/enroll:batch", {
            "enrollmentToken": token["value"],
            "devices": [{"hardwareInfo": {"serialNumber": f"B-{i}", "manufacturer": "Zebra",
                                          "brand": "Zebra", "model": "TC58"},
                         "softwareInfo": {"androidVersion": "14",
                                          "securityPatchLevel": "2026-10-01"},
                         "apiLevel": 34} for i in range(start, min(start + 500, size))]})
        assert status == 200, body
        fleet += body["devices"]
    records = []
    for device in fleet:
        record = {"name": device["name"], "space": space, "userName": "kiosk",
                  "labels": labels or [], "state": "ACTIVE", "policyName": holding,
                  "enrollmentDecision": {"result": "ALLOWED", "reason": ""},
                  "enrollTime": utcnow()}
        devices.put(device["name"], record)
        records.append({"id": devices.device_id(device["name"]), **record})
    return records


def device_patches(server: Any) -> collections.Counter[str]:
    """How many times each device was successfully moved, from the emulator's request log."""
    status, body = emulator_call(server, "GET", "/emulator/v1/requests")
    assert status == 200
    return collections.Counter(
        r["path"].removeprefix("/v1/") for r in body["requests"]
        if r["method"] == "enterprises.devices.patch" and r["status"] == 200)


def throttled(server: Any) -> int:
    """How many calls the emulator answered 429."""
    status, body = emulator_call(server, "GET", "/emulator/v1/requests")
    assert status == 200
    return sum(1 for r in body["requests"] if r["status"] == 429)
