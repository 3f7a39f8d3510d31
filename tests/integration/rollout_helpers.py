"""Fleets built in bulk, and the counting of what a rollout did in AMAPI."""

from __future__ import annotations

import collections
from typing import Any

from shared.access import roles
from shared.amapi.client import amapi
from shared.clock import utcnow
from shared.config import settings
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.store import devices
from tests.integration.enroll_helpers import emulator_call


def work(rollout_id: str) -> None:
    """What the rollouts function does with the rollout's message."""
    from shared.policy import rollout_worker

    with roles.as_system():
        rollout_worker.run({"rolloutId": rollout_id})


def one_batch(rollout_id: str, size: int = 100) -> bool:
    """Run one batch of the rollout as the worker would, under its space's lease."""
    from shared.policy import push as policy_push
    from shared.policy import rollouts as domain
    from shared.store import rollouts

    with roles.as_system():
        space = str(rollouts.get(rollout_id)["space"])
        with policy_push.serialized([space]):
            return domain.advance(rollout_id, size, amapi())


def work_into_an_outage(server: Any, rollout_id: str, moves: int) -> None:
    """Run the rollout's worker until AMAPI goes down (every call 503) once `moves` devices
    were moved; the worker must fail, as it does before Pub/Sub redelivers its message."""
    import threading
    import time

    import pytest

    def outage() -> None:
        deadline = time.monotonic() + 30
        while sum(device_patches(server).values()) < moves:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        emulator_call(server, "POST", "/emulator/v1/faults", {"probability": 1, "codes": [503]})

    watcher = threading.Thread(target=outage)
    watcher.start()
    with pytest.raises(Exception):  # noqa: B017 - the worker fails; Pub/Sub redelivers
        work(rollout_id)
    watcher.join()


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
