"""AMAPI calls and time of four COSU configuration changes, for 20, 2,000 and 20,000 devices.

The fleet is built straight into the AMAPI emulator (bulk enrollment) and the inventory
(batched writes), already on the policy of an ALL-distributed configuration; only the changes
themselves go through the configuration code, as the policy function runs it. The emulator runs
in this process without a quota, so the counts are the raw calls a change makes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.emulated import (
    amapi_calls,
    emulated_backends,
    emulator_call,
    write_all,
)
from devstack import emulators

SIZES = (20, 2_000, 20_000)
# The largest fleet size whose every case runs; above it a case runs only when the time the
# previous size took, scaled by the fleet, stays within CASE_BUDGET_SECONDS.
ALWAYS_RUN = 2_000
CASE_BUDGET_SECONDS = 90.0
ENROLL_BATCH = 1_000
SETTLE_SECONDS = 120.0  # for the simulated devices to apply a change before the next one
PILOT_LABEL = "pilot"  # carried by one device in ten: the CUSTOM distribution's target
SPACE = "global"


@dataclass(frozen=True)
class Case:
    """One configuration change, measured from the state the previous cases left."""

    key: str
    title: str
    run: Callable[[dict[str, str]], None]
    needs: str | None = None  # the case whose state this one starts from


@dataclass
class Result:
    """What one case cost at one fleet size (or what it would, when skipped)."""

    calls: dict[str, int]
    seconds: float | None


def _device_entry(index: int) -> dict[str, Any]:
    return {"hardwareInfo": {"serialNumber": f"F-{index}", "manufacturer": "Zebra",
                             "brand": "Zebra", "model": "TC58"},
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"},
            "apiLevel": 34}


def _inventory(device: dict[str, Any], index: int, policy: dict[str, Any]) -> dict[str, Any]:
    return {"name": device["name"], "space": SPACE, "userName": "kiosk",
            "labels": [PILOT_LABEL] if index % 10 == 0 else [], "state": "ACTIVE",
            "enrollmentDecision": {"result": "ALLOWED"}, **policy}


def _build_fleet(server: Any, size: int) -> dict[str, str]:
    """`size` devices on the policy of configuration `a` (ALL, priority 1); returns ids."""
    from shared.amapi.client import amapi
    from shared.config import settings
    from shared.policy import configurations as resources
    from shared.policy import push, schemas
    from shared.policy.holding_policy import holding_policy, holding_policy_name
    from shared.store import devices

    enterprise = settings().enterprise
    holding = holding_policy_name(enterprise, SPACE)
    amapi().patch_policy(holding, holding_policy())
    resources.create(resources.APP, schemas.AppCreateSchema().load(
        {"packageName": "com.example.kiosk", "type": "PUBLIC"}))
    config = resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "ALL"}}))

    def enroll(token: dict[str, Any], first: int, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = emulator_call(server, "POST", "/emulator/v1/enroll:batch", {
            "enrollmentToken": token["value"],
            "devices": [_device_entry(i) for i in range(first, first + count)]})["devices"]
        return found

    # The first device enrolls the way the enrollment path does it, which creates the
    # configuration's effective policy; the rest enroll straight onto that policy.
    welcome = amapi().create_enrollment_token(enterprise, {"policyName": holding,
                                                           "duration": "86400s"})
    first = enroll(welcome, 0, 1)[0]
    record = _inventory(first, 0, {"policyName": holding})
    devices.put(first["name"], record)
    placed = push.assign_device({"id": devices.device_id(first["name"]), **record}, SPACE)
    devices.put(first["name"], placed)
    token = amapi().create_enrollment_token(enterprise, {"policyName": placed["policyName"],
                                                         "duration": "86400s"})
    for start in range(1, size, ENROLL_BATCH):
        batch = enroll(token, start, min(ENROLL_BATCH, size - start))
        write_all(devices.COLLECTION, (
            (devices.device_id(device["name"]), _inventory(device, start + offset, placed))
            for offset, device in enumerate(batch)))
    return {"a": config["id"]}


def _edit(ids: dict[str, str]) -> None:
    from shared.policy import configurations as resources

    resources.update(resources.COSU, SPACE, ids["a"], {"lockdown": {"disableKeyguard": True}},
                     None)


def _switch(ids: dict[str, str]) -> None:
    from shared.policy import configurations as resources
    from shared.policy import schemas

    ids["b"] = resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Lobby v2", "priority": 2, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "ALL"}, "lockdown": {"disableStatusBar": True}}))["id"]


def _swap(ids: dict[str, str]) -> None:
    from shared.policy import configurations as resources

    # A PATCH changes one configuration, so a swap is two: the first already moves the fleet
    # back to `a` (ties go to the older configuration), the second settles the order.
    resources.update(resources.COSU, SPACE, ids["a"], {"priority": 2}, None)
    resources.update(resources.COSU, SPACE, ids["b"], {"priority": 1}, None)


def _custom(ids: dict[str, str]) -> None:
    from shared.policy import configurations as resources
    from shared.policy import schemas

    ids["c"] = resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Pilot", "priority": 10, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "CUSTOM", "labels": [PILOT_LABEL]},
         "lockdown": {"disableKeyguard": True}}))["id"]


CASES = (
    Case("a", "(a) content edit: PATCH the lockdown of the COSU configuration every device is "
         "on", _edit),
    Case("b", "(b) switch the fleet to another ALL configuration: create a second one with a "
         "higher priority", _switch),
    Case("c", "(c) swap the two ALL configurations' priorities: PATCH each (two requests)",
         _swap, needs="b"),
    Case("d", "(d) CUSTOM distribution by label to 10 % of the devices: create a configuration "
         "with a higher priority", _custom),
)


def _estimate(previous: Result, ratio: float) -> Result:
    """What a case would cost on a fleet `ratio` times larger: moves scale, patches do not."""
    return Result({method: round(count * ratio) if method.endswith("devices.patch") else count
                   for method, count in previous.calls.items()},
                  None if previous.seconds is None else previous.seconds * ratio)


def _measure_size(backends: dict[str, Any], size: int,
                  results: dict[tuple[str, int], Result], previous_size: int | None) -> float:
    """Build a fleet of `size` and run every case on it; returns the build's seconds."""
    server = backends["amapi"]
    emulators.clear_firestore(backends["firestore_host"], backends["project"])
    server.reset()
    devices_sync = backends["devices_sync"]
    started = time.perf_counter()
    ids = _build_fleet(server, size)
    built = time.perf_counter() - started
    devices_sync.wait_idle(SETTLE_SECONDS)
    amapi_calls(server)
    for case in CASES:
        earlier = results.get((case.key, previous_size or 0))
        estimate = (_estimate(earlier, size / previous_size)
                    if earlier is not None and previous_size else None)
        skip = (estimate is not None and size > ALWAYS_RUN
                and (estimate.seconds is None or estimate.seconds > CASE_BUDGET_SECONDS))
        if case.needs and results[(case.needs, size)].seconds is None:
            skip = True  # it starts from the state the skipped case would have left
        if skip and estimate is not None:
            results[(case.key, size)] = Result(estimate.calls, None)
            continue
        started = time.perf_counter()
        case.run(ids)
        seconds = time.perf_counter() - started
        results[(case.key, size)] = Result(amapi_calls(server), seconds)
        devices_sync.wait_idle(SETTLE_SECONDS)
        amapi_calls(server)  # the simulated devices' syncing is no part of the next case
    return built


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{method} {count}" for method, count in sorted(calls.items())) or "none"


def _print(results: dict[tuple[str, int], Result], sizes: list[int],
           previous: dict[int, int | None]) -> None:
    for case in CASES:
        print(f"Fleet change {case.title}: AMAPI calls (emulator request log) and wall time")
        print(f"  {'devices':>8} {'calls':>7} {'s':>8}  by method")
        for size in sizes:
            result = results.get((case.key, size))
            if result is None:
                continue
            total = sum(result.calls.values())
            if result.seconds is None:
                print(f"  {size:>8} {'-':>7} {'-':>8}  skipped (est. {total} calls: "
                      f"{_calls_text(result.calls)}, from the {previous[size]:,}-device run)")
            else:
                print(f"  {size:>8} {total:>7} {result.seconds:>8.2f}  "
                      f"{_calls_text(result.calls)}")
    skipped = sum(1 for result in results.values() if result.seconds is None)
    print("  (today's costs, in-process emulator without quota: a change of whom a "
          "configuration reaches moves each device with its own devices.patch, so calls grow "
          "per device, not per group of devices sharing a policy; a content edit patches each "
          f"shared policy once. Above {ALWAYS_RUN:,} devices a case is skipped, with an "
          "estimate scaled from the previous size, when it would take over "
          f"{CASE_BUDGET_SECONDS:.0f} s: {skipped or 'none'} skipped in this run.)")

def main(sizes: tuple[int, ...] = SIZES) -> None:
    """Print, per change, the AMAPI calls by method and the wall time at each fleet size."""
    results: dict[tuple[str, int], Result] = {}
    previous: dict[int, int | None] = {}
    with emulated_backends() as backends:
        from shared.access import roles

        # Between cases the simulated devices finish applying what changed, so that one
        # case's aftermath is not timed as part of the next.
        backends["devices_sync"] = backends["amapi"].app.simulation.scheduler

        builds = []
        prior: int | None = None
        for size in sizes:
            previous[size] = prior
            with roles.as_system():
                builds.append((size, _measure_size(backends, size, results, prior)))
            prior = size
    _print(results, list(sizes), previous)
    print("  (fleets built straight into the emulator and the inventory in "
          + ", ".join(f"{seconds:.1f} s for {size:,}" for size, seconds in builds) + ")")


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
