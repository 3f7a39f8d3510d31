"""AMAPI calls a COSU configuration change costs, for 20, 200 and 2,000 enrolled devices."""

from __future__ import annotations

import time
from typing import Any

from bench.emulated import amapi_calls, emulated_backends, emulator_call
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
    with emulated_backends() as backends:
        from shared.access import roles
        from shared.policy import configurations as resources
        from shared.policy import schemas

        server = backends["amapi"]
        print("COSU configuration changes: AMAPI calls (emulator request log) and time")
        print(f"  {'devices':>8} {'distribute: calls':>18} {'ms':>8} "
              f"{'edit: calls':>12} {'ms':>7}")
        for size in SIZES:
            with roles.as_system():
                _measure(backends, server, size, resources, schemas)
        print("  (distributing moves each device once: one devices.patch per device, which "
              "AMAPI has no bulk form of; editing patches one shared policy)")


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
    distribute_ms = (time.perf_counter() - started) * 1000
    distribute_calls = sum(amapi_calls(server).values())
    started = time.perf_counter()
    resources.update(resources.COSU, "global", config["id"],
                     {"lockdown": {"disableKeyguard": True}}, None)
    edit_ms = (time.perf_counter() - started) * 1000
    print(f"  {size:>8} {distribute_calls:>18} {distribute_ms:>8.0f} "
          f"{sum(amapi_calls(server).values()):>12} {edit_ms:>7.0f}")


if __name__ == "__main__":
    main()
