"""AMAPI calls and time of four COSU configuration changes, for 20, 2,000 and 20,000 devices.

The fleet is built straight into the AMAPI emulator (bulk enrollment) and the inventory
(batched writes), already on the policy of an ALL-distributed configuration; only the changes
themselves go through the configuration code, as the policy function runs it. A change whose
plan exceeds the inline limit is answered with a rollout: the bench then runs the rollout worker
in this process, as the rollouts function would, until the rollout ends, and counts every call
the change caused (request and rollout). The emulator runs in this process without a quota and
the AMAPI budget is set wide, so the counts are the raw calls a change makes and the times are
not stretched by pacing (bench/rollout_pacing.py measures the pacing).
"""

from __future__ import annotations

import os
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
# Wide enough that no rollout batch ever waits for budget: the calls are counted, not paced.
WIDE_BUDGET_CALLS = 1_000_000
INLINE_TARGET = 3  # calls for (a), (b), (c) at any fleet size


@dataclass(frozen=True)
class Case:
    """One configuration change, measured from the state the previous cases left."""

    key: str
    title: str
    run: Callable[[dict[str, str]], list[dict[str, Any]]]
    target: Callable[[int], int]  # the most AMAPI calls the change should make on a fleet
    needs: str | None = None  # the case whose state this one starts from


@dataclass
class Result:
    """What one case cost at one fleet size (or what it would, when skipped)."""

    calls: dict[str, int]
    seconds: float | None  # the request(s), until the reply
    rollouts: list[str] | None = None  # each rollout's final state; [] when all was inline
    rollout_seconds: float = 0.0


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


def _edit(ids: dict[str, str]) -> list[dict[str, Any]]:
    from shared.policy import configurations as resources

    return [resources.update(resources.COSU, SPACE, ids["a"],
                             {"lockdown": {"disableKeyguard": True}}, None)]


def _switch(ids: dict[str, str]) -> list[dict[str, Any]]:
    from shared.policy import configurations as resources
    from shared.policy import schemas

    created = resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Lobby v2", "priority": 2, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "ALL"}, "lockdown": {"disableStatusBar": True}}))
    ids["b"] = created["id"]
    return [created]


def _swap(ids: dict[str, str]) -> list[dict[str, Any]]:
    from shared.policy import configurations as resources

    # A PATCH changes one configuration, so a swap is two: the first already moves the fleet
    # back to `a` (ties go to the older configuration), the second settles the order.
    return [resources.update(resources.COSU, SPACE, ids["a"], {"priority": 2}, None),
            resources.update(resources.COSU, SPACE, ids["b"], {"priority": 1}, None)]


def custom_distribution() -> dict[str, Any]:
    """Case (d): a configuration for the devices labelled `pilot` (one in ten) only."""
    from shared.policy import configurations as resources
    from shared.policy import schemas

    return resources.create(resources.COSU, schemas.CosuConfigCreateSchema().load(
        {"name": "Pilot", "priority": 10, "app": {"packageName": "com.example.kiosk"},
         "distribution": {"mode": "CUSTOM", "labels": [PILOT_LABEL]},
         "lockdown": {"disableKeyguard": True}}))


def _custom(ids: dict[str, str]) -> list[dict[str, Any]]:
    created = custom_distribution()
    ids["c"] = created["id"]
    return [created]


def pilots(size: int) -> int:
    """How many devices of a fleet of `size` carry the pilot label."""
    return len(range(0, size, 10))


CASES = (
    Case("a", "(a) content edit: PATCH the lockdown of the COSU configuration every device is "
         "on", _edit, lambda size: INLINE_TARGET),
    Case("b", "(b) switch the fleet to another ALL configuration: create a second one with a "
         "higher priority", _switch, lambda size: INLINE_TARGET),
    Case("c", "(c) swap the two ALL configurations' priorities: PATCH each (two requests)",
         _swap, lambda size: INLINE_TARGET, needs="b"),
    Case("d", "(d) CUSTOM distribution by label to 10 % of the devices: create a configuration "
         "with a higher priority", _custom, lambda size: pilots(size) + INLINE_TARGET),
)


def run_rollout(rollout_id: str) -> str:
    """Run the rollout worker until the rollout ends, as redelivered messages would; its state."""
    from shared.policy import rollout_worker
    from shared.store import rollouts

    while True:
        rollout = rollouts.get(rollout_id) or {}
        if rollout.get("state") not in rollouts.ACTIVE:
            return str(rollout.get("state"))
        rollout_worker.run({"rolloutId": rollout_id})


def _rollout_ids(replies: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for reply in replies:
        for rollout in reply.get("rollouts") or ([reply["rollout"]] if "rollout" in reply
                                                 else []):
            if rollout["id"] not in found:
                found.append(rollout["id"])
    return found


def _estimate(previous: Result, ratio: float) -> Result:
    """What a case would cost on a fleet `ratio` times larger: moves scale, patches do not."""
    return Result({method: round(count * ratio) if method.endswith("devices.patch") else count
                   for method, count in previous.calls.items()},
                  None if previous.seconds is None
                  else (previous.seconds + previous.rollout_seconds) * ratio)


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
        replies = case.run(ids)
        seconds = time.perf_counter() - started
        pushed = _rollout_ids(replies)
        states = [run_rollout(rollout_id) for rollout_id in pushed]
        results[(case.key, size)] = Result(amapi_calls(server), seconds, states,
                                           time.perf_counter() - started - seconds)
        devices_sync.wait_idle(SETTLE_SECONDS)
        amapi_calls(server)  # the simulated devices' syncing is no part of the next case
    return built


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{method} {count}" for method, count in sorted(calls.items())) or "none"


def _how(result: Result) -> str:
    if not result.rollouts:
        return "inline"
    states = ", ".join(result.rollouts)
    return f"rollout {states}" if len(result.rollouts) == 1 else f"rollouts {states}"


def _print(results: dict[tuple[str, int], Result], sizes: list[int],
           previous: dict[int, int | None]) -> None:
    for case in CASES:
        print(f"Fleet change {case.title}: all AMAPI calls it caused (emulator request log: "
              "request + rollout), the reply's time and the rollout's")
        print(f"  {'devices':>8} {'calls':>7} {'target':>7} {'reply s':>8} {'rollout s':>9}  "
              f"{'pushed':<18} by method")
        for size in sizes:
            result = results.get((case.key, size))
            if result is None:
                continue
            total = sum(result.calls.values())
            target = case.target(size)
            if result.seconds is None:
                print(f"  {size:>8} {'-':>7} {'≤' + str(target):>7} {'-':>8} {'-':>9}  "
                      f"{'skipped':<18} est. {total} calls: {_calls_text(result.calls)}, from "
                      f"the {previous[size]:,}-device run")
                continue
            verdict = "" if total <= target else "  OVER TARGET"
            rollout = f"{result.rollout_seconds:.2f}" if result.rollouts else "-"
            print(f"  {size:>8} {total:>7} {'≤' + str(target):>7} {result.seconds:>8.2f} "
                  f"{rollout:>9}  {_how(result):<18} {_calls_text(result.calls)}{verdict}")
    skipped = sum(1 for result in results.values() if result.seconds is None)
    print("  (policies belong to groups of devices: a content edit, a switch between ALL "
          "configurations or a priority swap patches the affected groups' policies in place, "
          "one call per group whatever the fleet's size; a change of whom a configuration "
          "reaches creates the new group's policy and moves only the devices leaving their "
          "group, one devices.patch each. A plan over ROLLOUT_INLINE_LIMIT "
          f"({_inline_limit()}) calls is answered 202 with a rollout, which the bench runs to "
          "its end with the worker in this process; the counts include its calls. In-process "
          "emulator without quota, AMAPI budget widened to "
          f"{WIDE_BUDGET_CALLS:,} calls per window so that no batch waits: the rollout times are "
          "the stack's own, not AMAPI's pacing (see the rollout pacing bench). "
          f"Above {ALWAYS_RUN:,} devices a case is skipped, with an estimate scaled from the "
          f"previous size, when it would take over {CASE_BUDGET_SECONDS:.0f} s: "
          f"{skipped or 'none'} skipped in this run.)")


def _inline_limit() -> int:
    from shared.policy import rollouts

    return rollouts.inline_limit()

def main(sizes: tuple[int, ...] = SIZES) -> None:
    """Print, per change, the AMAPI calls by method and the wall time at each fleet size."""
    results: dict[tuple[str, int], Result] = {}
    previous: dict[int, int | None] = {}
    os.environ["AMAPI_BUDGET_CALLS"] = str(WIDE_BUDGET_CALLS)
    # With Pub/Sub up, a rollout's message is published as deployed (nobody subscribes: the
    # bench runs the worker itself) instead of being retried against a missing emulator.
    with emulated_backends(with_pubsub=True) as backends:
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
