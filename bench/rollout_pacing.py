"""Rollout pacing: rollouts in a 20,000-device fleet under AMAPI's quota and the project's AMAPI
budget, while LOCK commands go through the commands function. Two scenarios: a CUSTOM
distribution to 10 % (2,000 moves), and the first configuration of a fleet waiting on the
holding policy (20,000 moves).

Production's figures (AMAPI: 1,000 calls per rolling 100 s; budget: 900 per 100 s in ten
slices, 30 % of each kept for interactive work) run here with every duration divided by
the scenario's time scale (5, and 25 for the 20,000 moves): same call counts, a shorter window,
so the ratios are production's and each rollout ends in a minute or two instead of about seven
(2,000 moves) or fifty (20,000). Shares of the budget carry over to
production as they are; durations tied to the budget (a LOCK that would wait for the next
slice) are that many times shorter here.

The AMAPI emulator, the policy function and the commands function each run in a process of
their own; the change is POSTed to the policy function, answered 202, and its rollout is run by
the worker in this process, as the rollouts function runs it on its Pub/Sub message.
"""

from __future__ import annotations

import datetime
import math
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.commands import _call, _function, _percentile
from bench.emulated import emulated_backends, emulator_call, write_all
from bench.fleet_changes import (
    ENROLL_BATCH,
    PILOT_LABEL,
    SPACE,
    _build_fleet,
    _device_entry,
    _inventory,
    pilots,
    run_rollout,
)
from devstack import local_auth

FLEET = 20_000
QUOTA_CALLS = 1_000  # AMAPI's per-project quota, per window
BUDGET_CALLS = 900  # the budget's default, per window
RESERVE_PERCENT = 30.0


@dataclass(frozen=True)
class Scenario:
    """One rollout to pace: how the fleet waits, what change starts it, how time is scaled."""

    title: str
    time_scale: int  # every production duration divided by this
    on_holding: bool  # the fleet waits on the holding policy (else on configuration `a`)
    distribution: dict[str, Any]
    moved: int

    @property
    def window_seconds(self) -> int:
        """The quota's and the budget's window here (whole seconds, as the emulator takes)."""
        return 100 // self.time_scale


SCENARIOS = (
    Scenario(f"a CUSTOM distribution to the {pilots(FLEET):,} devices labelled "
             f"'{PILOT_LABEL}' (case (d) at {FLEET:,})", 5, False,
             {"mode": "CUSTOM", "labels": [PILOT_LABEL]}, pilots(FLEET)),
    Scenario(f"the first configuration for all {FLEET:,} devices, vetted and waiting on the "
             "holding policy (every device moves)", 25, True, {"mode": "ALL"}, FLEET),
)
SLICES = 10
LOCK_EVERY_SECONDS = 5.0
SEND_TIMEOUT_SECONDS = 60.0


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _lock(base: str, device_id: str, headers: dict[str, str],
          statuses: list[int]) -> float | None:
    """Seconds from POST …/commands LOCK until the command reads SENT (or later); None if never."""
    started = time.perf_counter()
    status, command = _call(f"{base}/devices/{device_id}/commands", {"type": "LOCK"}, headers)
    statuses.append(status)
    if status != 202:
        return None
    while command.get("state") == "PENDING":
        if time.perf_counter() - started > SEND_TIMEOUT_SECONDS:
            return None
        time.sleep(0.05)
        status, command = _call(f"{base}/devices/{device_id}/commands/{command['id']}",
                                headers=headers, method="GET")
        statuses.append(status)
    return time.perf_counter() - started


def _peak(times: list[float], window: float) -> int:
    """The most calls in any rolling `window` seconds."""
    peak, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def _busiest_slice(times: list[float], slice_seconds: float) -> int:
    """The most calls in one of the budget's slices (aligned on Unix time, as the budget's)."""
    counts = Counter(math.floor(moment / slice_seconds) for moment in times)
    return max(counts.values(), default=0)


def main(which: list[str]) -> None:
    """Print, per scenario, the rollout's share of the budget, the 429s seen and LOCK-to-SENT
    latencies; each scenario in a process of its own (fresh emulators, fresh clients)."""
    if which:
        _pace(SCENARIOS[int(which[0])])
        return
    import subprocess

    failed = [index for index in range(len(SCENARIOS))
              if subprocess.run([sys.executable, "-m", "bench.rollout_pacing", str(index)],
                                check=False).returncode != 0]
    if failed:
        sys.exit(f"rollout pacing scenarios failed: {failed}")


def _build_waiting_fleet(server: Any, size: int) -> None:
    """`size` vetted devices on the holding policy, nothing distributed to them yet."""
    from shared.amapi.client import amapi
    from shared.config import settings
    from shared.policy import configurations as resources
    from shared.policy import schemas
    from shared.policy.holding_policy import holding_policy, holding_policy_name
    from shared.store import devices

    enterprise = settings().enterprise
    holding = holding_policy_name(enterprise, SPACE)
    amapi().patch_policy(holding, holding_policy())
    resources.create(resources.APP, schemas.AppCreateSchema().load(
        {"packageName": "com.example.kiosk", "type": "PUBLIC"}))
    token = amapi().create_enrollment_token(enterprise, {"policyName": holding,
                                                         "duration": "86400s"})
    for start in range(0, size, ENROLL_BATCH):
        batch = emulator_call(server, "POST", "/emulator/v1/enroll:batch", {
            "enrollmentToken": token["value"],
            "devices": [_device_entry(i)
                        for i in range(start, min(start + ENROLL_BATCH, size))]})["devices"]
        write_all(devices.COLLECTION, (
            (devices.device_id(device["name"]),
             _inventory(device, start + offset, {"policyName": holding}))
            for offset, device in enumerate(batch)))


def _pace(scenario: Scenario) -> None:
    keys = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-"))
    private_key, public_key = local_auth.ensure_keys(keys)
    os.environ.update({"AMAPI_BUDGET_CALLS": str(BUDGET_CALLS),
                       "AMAPI_BUDGET_WINDOW_SECONDS": f"{scenario.window_seconds:g}",
                       "AMAPI_BUDGET_RESERVE_PERCENT": f"{RESERVE_PERCENT:g}",
                       "LOCAL_AUTH_PUBLIC_KEY_FILE": str(public_key)})
    with emulated_backends(with_pubsub=True, amapi_process=True) as backends:
        from shared.access import roles
        from shared.amapi import budget
        from shared.config import settings
        from shared.store import access_control, rollouts
        from shared.store.client import db

        server = backends["amapi"]
        emulator_call(server, "POST", "/emulator/v1/quota",
                      {"calls": QUOTA_CALLS, "windowSeconds": scenario.window_seconds})
        access_control.put_binding({"principal": "bench@example.com", "role": "ADMIN",
                                    "space": "global"})
        built = time.perf_counter()
        with roles.as_system():
            if scenario.on_holding:
                _build_waiting_fleet(server, FLEET)
            else:
                _build_fleet(server, FLEET)
        built = time.perf_counter() - built
        targets = [str((s.to_dict() or {})["name"]).rsplit("/", 1)[1]
                   for s in db().collection("devices").limit(200).stream()]
        policy, commands = (_function(name, "http", keys) for name in ("policy", "commands"))
        statuses: list[int] = []
        latencies: list[float | None] = []
        try:
            headers = {"Authorization": "Bearer " + local_auth.issue_token(
                private_key, "bench@example.com")}
            _lock(commands.url, targets[-1], headers, [])  # warm-up
            emulator_call(server, "DELETE", "/emulator/v1/requests")
            began = time.time()
            status, body = _call(f"{policy.url}/cosu-configs", {
                "name": "Pilot", "priority": 10, "app": {"packageName": "com.example.kiosk"},
                "distribution": scenario.distribution,
                "lockdown": {"disableKeyguard": True}}, headers)
            statuses.append(status)
            if status != 202:
                sys.exit(f"POST /cosu-configs answered {status}, not 202 with a rollout: {body}")
            rollout_id = body["rollout"]["id"]
            outcome: dict[str, Any] = {}

            def work() -> None:
                outcome["started"] = time.time()
                try:
                    with roles.as_system():
                        outcome["state"] = run_rollout(rollout_id)
                except Exception as exc:  # reported below, with what the rollout did
                    outcome["state"] = f"raised {type(exc).__name__}: {exc}"
                outcome["ended"] = time.time()

            worker = threading.Thread(target=work)
            worker.start()
            index = 0
            while worker.is_alive():
                time.sleep(LOCK_EVERY_SECONDS)
                if worker.is_alive():
                    latencies.append(_lock(commands.url, targets[index % len(targets)],
                                           headers, statuses))
                    index += 1
            worker.join()
            log = emulator_call(server, "GET", "/emulator/v1/requests")["requests"]
            rollout = rollouts.get(rollout_id) or {}
        finally:
            commands.process.stop()
            policy.process.stop()
        config = settings()
        _report(scenario, log, rollout, outcome, began, statuses, latencies, built, config)
        print(f"  (budget lane arithmetic: {budget.slice_capacity(BUDGET_CALLS)} calls per "
              f"{scenario.window_seconds / SLICES:g} s slice, "
              f"{budget.lane_limit(budget.BACKGROUND, BUDGET_CALLS, RESERVE_PERCENT)} of them "
              "for background work; a rollout batch is the lane's share of one slice (at most "
              f"ROLLOUT_BATCH_SIZE={config.rollout_batch_size}), prepaid within that slice)")


def _report(scenario: Scenario, log: list[dict[str, Any]], rollout: dict[str, Any],
            outcome: dict[str, Any], began: float, statuses: list[int],
            latencies: list[float | None], built: float, config: Any) -> None:
    from shared.amapi import budget

    time_scale, window = scenario.time_scale, scenario.window_seconds
    slice_seconds = window / SLICES
    lane_slice = budget.lane_limit(budget.BACKGROUND, BUDGET_CALLS, RESERVE_PERCENT)
    budget_rate = BUDGET_CALLS / window
    lane_rate = lane_slice / slice_seconds
    start, end = outcome["started"], outcome["ended"]
    times = sorted(_seconds(e["time"]) for e in log)
    # The LOCKs' own calls (issueCommand, operations) are the interactive lane's, not the
    # rollout's.
    worker_calls = [e for e in log if start <= _seconds(e["time"]) <= end
                    and "issueCommand" not in str(e["method"])
                    and "operations" not in str(e["method"])]
    duration = end - start
    rate = len(worker_calls) / duration
    throttled = sum(1 for e in log if e["status"] == 429)
    refused = sorted(s for s in statuses if s in (429, 503))
    sent = [s for s in latencies if s is not None]
    print(f"Rollout pacing: a fleet of {FLEET:,} devices (built in {built:.0f} s); POST "
          f"/cosu-configs, {scenario.title} -> 202, its rollout run by the worker in "
          "process; LOCKs POSTed to the commands function meanwhile")
    print(f"  time scaled 1/{time_scale}: AMAPI quota {QUOTA_CALLS:,} calls per "
          f"{window:g} s (production {QUOTA_CALLS:,} per 100 s), budget "
          f"AMAPI_BUDGET_CALLS={BUDGET_CALLS} per AMAPI_BUDGET_WINDOW_SECONDS="
          f"{window:g} (production {BUDGET_CALLS} per 100), reserve "
          f"{RESERVE_PERCENT:g} %: the budget allows {budget_rate:.1f} calls/s, its background "
          f"lane {lane_rate:.1f} calls/s (production {budget_rate / time_scale:.1f} and "
          f"{lane_rate / time_scale:.1f})")
    print(f"  rollout {rollout.get('state')} (worker: {outcome['state']}): moved "
          f"{(rollout.get('done') or {}).get('moved')} devices, {len(worker_calls)} AMAPI calls in "
          f"{duration:.1f} s (production: {duration * time_scale:.0f} s) = {rate:.1f} calls/s"
          f" = {rate / budget_rate:.0%} of the budget, {rate / lane_rate:.0%} of the background "
          "lane")
    methods = Counter(str(e["method"]) for e in worker_calls)
    print("  the rollout's calls: " + ", ".join(f"{m} {n}" for m, n in sorted(methods.items())))
    print(f"  busiest rolling {window:g} s: {_peak(times, window)} calls (quota "
          f"{QUOTA_CALLS:,}, budget {BUDGET_CALLS}); busiest {slice_seconds:g} s budget slice: "
          f"{_busiest_slice(times, slice_seconds)} calls in all (slice {BUDGET_CALLS // SLICES}),"
          f" {_busiest_slice([_seconds(e['time']) for e in worker_calls], slice_seconds)} of the "
          f"rollout (background lane {lane_slice} per slice)")
    busiest = _busiest_slice([_seconds(e["time"]) for e in worker_calls], slice_seconds)
    if busiest <= config.rollout_batch_size < lane_slice:
        # A batch is prepaid whole within one slice: after one batch the lane's remainder is
        # smaller than a batch, so the next batch waits for the next slice.
        print(f"  (no slice carried more than one batch of {config.rollout_batch_size}: "
              f"{lane_slice - config.rollout_batch_size} of the background lane's {lane_slice} "
              "calls per slice went unused)")
    print(f"  429s: {throttled} answered by AMAPI (emulator request log, {len(log):,} calls "
          f"since the POST); callers' HTTP 429/503: {len(refused)} of {len(statuses)} answers "
          f"{refused if refused else ''}".rstrip())
    if sent:
        print(f"  LOCK POST -> SENT, {len(latencies)} LOCKs every {LOCK_EVERY_SECONDS:g} s "
              f"while the rollout ran: p50 {_percentile(sent, 0.5) * 1000:.0f} ms, max "
              f"{max(sent) * 1000:.0f} ms; not SENT within {SEND_TIMEOUT_SECONDS:g} s: "
              f"{len(latencies) - len(sent)} (a LOCK that waited for a slice would wait "
              f"{time_scale}x longer in production)")
    else:
        print(f"  LOCK POST -> SENT: no LOCK reached SENT ({len(latencies)} issued)")
    print(f"  (from the POST to the rollout's end: {end - began:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
