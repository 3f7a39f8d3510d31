"""AMAPI calls a COSU configuration change costs, for 20, 200 and 2,000 enrolled devices.

A change too large to push inline is answered with a rollout, which the bench runs to its end
with the worker in this process (AMAPI budget widened so that it is not paced); its calls and
time are counted with the change's.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.emulated import amapi_calls, emulated_backends, emulator_call
from bench.fleet_changes import WIDE_BUDGET_CALLS, run_rollout
from devstack import emulators

SIZES = (20, 200, 2_000)


def _enroll_fleet(server: Any, size: int) -> None:
    from shared.amapi.client import amapi
    from shared.config import settings
    from shared.policy.holding_policy import holding_policy, holding_policy_name
    from shared.store import devices

    holding = holding_policy_name(settings().enterprise, "global")
    amapi().patch_policy(holding, holding_policy())
    token = amapi().create_enrollment_token(settings().enterprise,
                                            {"policyName": holding, "duration": "86400s"})
    for index in range(size):
        device = emulator_call(server, "POST", "/emulator/v1/enroll", {
            "enrollmentToken": token["value"], "apiLevel": 34,
            "hardwareInfo": {"serialNumber": f"B-{index}", "manufacturer": "Zebra",
                             "brand": "Zebra", "model": "TC58"},
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
        devices.put(device["name"], {"name": device["name"], "space": "global",
                                     "userName": "kiosk", "labels": [], "state": "ACTIVE",
                                     "policyName": holding,
                                     "enrollmentDecision": {"result": "ALLOWED"}})


def main() -> None:
    """Print AMAPI calls and wall time of distributing, then changing, a configuration."""
    os.environ["AMAPI_BUDGET_CALLS"] = str(WIDE_BUDGET_CALLS)
    with emulated_backends(with_pubsub=True) as backends:
        from shared.access import roles
        from shared.policy import configurations as resources
        from shared.policy import schemas

        server = backends["amapi"]
        print("COSU configuration changes: AMAPI calls (emulator request log) and time")
        print(f"  {'devices':>8} {'distribute: calls':>18} {'ms':>8} {'pushed':<18} "
              f"{'edit: calls':>12} {'ms':>7}")
        for size in SIZES:
            with roles.as_system():
                _measure(backends, server, size, resources, schemas)
        print("  (distributing moves each device once: one devices.patch per device, which "
              "AMAPI has no bulk form of, beyond the inline limit by a rollout, whose calls and "
              "time are included; editing patches one shared policy)")


def _measure(backends: Any, server: Any, size: int, resources: Any, schemas: Any) -> None:
    """One row: distribute a configuration to `size` devices, then edit it."""
    emulators.clear_firestore(backends["firestore_host"], backends["project"])
    server.reset()
    _enroll_fleet(server, size)
    resources.create(resources.APP, schemas.AppCreateSchema().load(
        {"packageName": "com.example.kiosk", "type": "PUBLIC"}))
    amapi_calls(server)
    started = time.perf_counter()
    config = resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "ALL"}}))
    pushed = "inline"
    if "rollout" in config:
        pushed = "rollout " + run_rollout(config["rollout"]["id"])
    distribute_ms = (time.perf_counter() - started) * 1000
    distribute_calls = sum(amapi_calls(server).values())
    started = time.perf_counter()
    resources.update(resources.COSU, "global", config["id"],
                     {"lockdown": {"disableKeyguard": True}}, None)
    edit_ms = (time.perf_counter() - started) * 1000
    print(f"  {size:>8} {distribute_calls:>18} {distribute_ms:>8.0f} {pushed:<18} "
          f"{sum(amapi_calls(server).values()):>12} {edit_ms:>7.0f}")


if __name__ == "__main__":
    main()
