"""AMAPI calls and time of staged rollouts, stage by stage, for 20, 2,000 and 20,000 devices.

The fleet is built as in bench/fleet_changes.py: straight into the AMAPI emulator (bulk
enrollment) and the inventory, every device on the policy of one ALL-distributed COSU
configuration. Two staged content edits of that configuration then run, each a PATCH with a
rollout plan whose gates are due at once (`soakSeconds` 0) and pause the rollout when they fail
(`autoRollback` false):

- stages 5 %, 25 %, 100 %, each stage promoted by an administrator (`:promote`) once its gate
  has been read, then the promotion of the change to every device;
- stages 5 %, 100 %, rolled back (`:rollback`) once the first stage's gate has been read.

The bench runs the rollout worker in this process, as the rollouts function would on the
rollout's messages: one run (or more, when a time slice ends) pushes a stage until it soaks,
the next reads its due gate. No device report reaches the inventory (no notifications function
runs), so every gate fails on the share of devices reporting the new policy applied: the
bench measures the cost of reading a gate, not its verdict. Each step's AMAPI calls are counted
from the emulator's request log, cleared between steps; the emulator runs without a quota and
the AMAPI budget is set wide, so the times are not stretched by pacing.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from bench.emulated import amapi_calls, emulated_backends
from bench.fleet_changes import SETTLE_SECONDS, SPACE, WIDE_BUDGET_CALLS, _build_fleet, run_rollout
from devstack import emulators

SIZES = (20, 2_000, 20_000)
PROMOTED_STAGES = (5, 25, 100)
ROLLED_BACK_STAGES = (5, 100)
PROMOTED_EDIT = {"lockdown": {"disableKeyguard": True}}
ROLLED_BACK_EDIT = {"lockdown": {"disableNetworkReset": True}}
# Due as soon as a stage is pushed; the thresholds are the defaults a plan gets.
GATE = {"soakSeconds": 0, "minAppliedPercent": 95, "maxNonCompliantPercent": 2,
        "maxAppErrorDevices": 0}
DEVICES_PATCH = "enterprises.devices.patch"
POLICIES_PATCH = "enterprises.policies.patch"
POLICIES_DELETE = "enterprises.policies.delete"


def share(percent: float, size: int) -> int:
    """How many devices of `size` a `percent` stage reaches (rounded up)."""
    return math.ceil(Fraction(str(percent)) * size / 100)


@dataclass
class Step:
    """One step of a staged rollout: what started it, the worker's pass, the gate reading."""

    name: str
    target: dict[str, int]  # the AMAPI calls the step should make, by method
    calls: dict[str, int] = field(default_factory=dict)
    start_seconds: float | None = None  # the PATCH, `:promote` or `:rollback`
    pass_seconds: float | None = None  # the worker's runs until the stage soaks (or it ends)
    gate_seconds: float | None = None  # the worker's run that reads the due gate
    staged: int | None = None  # devices on the staged change once the stage is pushed
    expected_staged: int | None = None
    gate: str = "-"  # the stage's state once its gate is read, with its applied share

    def verdict(self) -> str:
        """Empty when the calls are the target's, else which way they miss it."""
        methods = set(self.calls) | set(self.target)
        if any(self.calls.get(m, 0) > self.target.get(m, 0) for m in methods):
            return "OVER TARGET"
        if any(self.calls.get(m, 0) != self.target.get(m, 0) for m in methods):
            return "below target"
        return ""


@dataclass
class Run:
    """One staged rollout at one fleet size."""

    scenario: str
    size: int
    expected: str  # the state it must end in
    steps: list[Step] = field(default_factory=list)
    state: str = "not started"
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when it ended as expected, without an exception."""
        return self.error is None and self.state == self.expected


def _plan(percents: tuple[int, ...]) -> dict[str, Any]:
    from shared.policy import schemas

    loaded: dict[str, Any] = schemas.RolloutPlanSchema().load(
        {"stages": [{"percent": p} for p in percents], "gate": GATE, "autoRollback": False})
    return loaded


def _stored(rollout_id: str) -> dict[str, Any]:
    from shared.store import rollouts

    return rollouts.get(rollout_id) or {}


def _push(rollout_id: str) -> float:
    """Run the worker until the current stage soaks or the rollout stops; its seconds."""
    from shared.policy import rollout_worker, staged_rollouts
    from shared.store import rollouts

    started = time.perf_counter()
    while True:
        rollout = _stored(rollout_id)
        if rollout.get("state") not in rollouts.ACTIVE or staged_rollouts.soaking(rollout):
            return time.perf_counter() - started
        rollout_worker.run({"rolloutId": rollout_id})


def _read_gate(rollout_id: str) -> float | None:
    """Run the worker once on a soaking stage whose gate is due; its seconds (None when the
    stage does not soak: its pass stopped it)."""
    from shared.policy import rollout_worker, staged_rollouts

    if not staged_rollouts.soaking(_stored(rollout_id)):
        return None
    started = time.perf_counter()
    rollout_worker.run({"rolloutId": rollout_id})
    return time.perf_counter() - started


def _stage_shown(rollout_id: str, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rollout as the API shows it, and its stage `index`."""
    from shared.policy import rollouts

    shown = rollouts.get(rollout_id)
    return shown, dict(shown["stages"][index])


def _gate_text(stage: dict[str, Any]) -> str:
    applied = stage.get("appliedPercent")
    return str(stage.get("state")) + (f" {applied:g} %" if applied is not None else "")


def _timed(action: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action(*args)
    return result, time.perf_counter() - started


def _stage_step(backends: dict[str, Any], rollout_id: str, index: int, step: Step,
                read_gate: bool = True) -> None:
    """Push stage `index`, let its devices apply it, read its gate; fill `step` in."""
    step.pass_seconds = _push(rollout_id)
    backends["devices_sync"].wait_idle(SETTLE_SECONDS)  # the stage's devices apply it (soak)
    if read_gate:
        step.gate_seconds = _read_gate(rollout_id)
    _, stage = _stage_shown(rollout_id, index)
    step.staged = stage.get("devices")
    step.gate = _gate_text(stage)
    step.calls = amapi_calls(backends["amapi"])


def _staged_edit(percents: tuple[int, ...], edit: dict[str, Any], ids: dict[str, str],
                 step: Step) -> str:
    """PATCH configuration `a` with a rollout plan; the staged rollout's id."""
    from shared.policy import configurations as resources

    reply, step.start_seconds = _timed(resources.update, resources.COSU, SPACE, ids["a"], edit,
                                       None, _plan(percents))
    return str(reply["rollout"]["id"])


def _promoted(backends: dict[str, Any], ids: dict[str, str], run: Run) -> None:
    """Stages 5, 25, 100 %, each promoted after its gate, then the promotion."""
    from shared.policy import rollouts

    size = run.size
    rollout_id = ""
    for index, percent in enumerate(PROMOTED_STAGES):
        earlier = share(PROMOTED_STAGES[index - 1], size) if index else 0
        # A stage reaching every device of the group patches the group in place.
        target = ({POLICIES_PATCH: 1} if percent == 100 else
                  {DEVICES_PATCH: share(percent, size) - earlier,
                   **({POLICIES_PATCH: 1} if index == 0 else {})})
        step = Step(f"stage {index + 1} ({percent} %)", target,
                    expected_staged=share(percent, size))
        run.steps.append(step)
        if index == 0:
            rollout_id = _staged_edit(PROMOTED_STAGES, PROMOTED_EDIT, ids, step)
        else:
            shown, _ = _stage_shown(rollout_id, index - 1)
            if shown["state"] != "PAUSED" or shown["currentStage"] != index:
                run.state = f"{shown['state']} at stage {shown['currentStage']}"
                return  # not paused by the previous gate: there is nothing to promote
            _, step.start_seconds = _timed(rollouts.promote, rollout_id)
        _stage_step(backends, rollout_id, index, step)
    step = Step("promotion", {})
    run.steps.append(step)
    shown, _ = _stage_shown(rollout_id, len(PROMOTED_STAGES) - 1)
    if shown["state"] != "PAUSED":
        run.state = f"{shown['state']} after the last gate"
        return
    _, step.start_seconds = _timed(rollouts.promote, rollout_id)
    run.state, step.pass_seconds = _timed(run_rollout, rollout_id)
    backends["devices_sync"].wait_idle(SETTLE_SECONDS)
    step.calls = amapi_calls(backends["amapi"])


def _rolled_back(backends: dict[str, Any], ids: dict[str, str], run: Run) -> None:
    """Stages 5, 100 %, rolled back once the first stage's gate was read."""
    from shared.policy import rollouts

    canaries = share(ROLLED_BACK_STAGES[0], run.size)
    step = Step(f"stage 1 ({ROLLED_BACK_STAGES[0]} %)",
                {DEVICES_PATCH: canaries, POLICIES_PATCH: 1}, expected_staged=canaries)
    run.steps.append(step)
    rollout_id = _staged_edit(ROLLED_BACK_STAGES, ROLLED_BACK_EDIT, ids, step)
    _stage_step(backends, rollout_id, 0, step)
    step = Step("rollback", {DEVICES_PATCH: canaries, POLICIES_DELETE: 1})
    run.steps.append(step)
    _, step.start_seconds = _timed(rollouts.rollback, rollout_id)
    run.state, step.pass_seconds = _timed(run_rollout, rollout_id)
    backends["devices_sync"].wait_idle(SETTLE_SECONDS)
    step.calls = amapi_calls(backends["amapi"])


SCENARIOS = (
    ("promoted", "SUCCEEDED", _promoted),
    ("rolled back", "ROLLED_BACK", _rolled_back),
)


def _measure_size(backends: dict[str, Any], size: int) -> tuple[float, list[Run]]:
    """Build a fleet of `size` and run both staged rollouts on it; the build's seconds."""
    server = backends["amapi"]
    emulators.clear_firestore(backends["firestore_host"], backends["project"])
    server.reset()
    started = time.perf_counter()
    ids = _build_fleet(server, size)
    built = time.perf_counter() - started
    backends["devices_sync"].wait_idle(SETTLE_SECONDS)
    runs: list[Run] = []
    for scenario, expected, measure in SCENARIOS:
        run = Run(scenario, size, expected)
        runs.append(run)
        if runs[0] is not run and not runs[0].ok:
            run.error = "not run: the space's previous staged rollout did not end"
            continue
        amapi_calls(server)
        try:
            measure(backends, ids, run)
        except Exception as exc:
            traceback.print_exc()
            run.error = f"{type(exc).__name__}: {exc}"
    return built, runs


def _calls_text(calls: dict[str, int]) -> str:
    return ", ".join(f"{method} {count}" for method, count in sorted(calls.items())) or "none"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print(runs: list[Run]) -> None:
    titles = {
        "promoted": "Staged content edit of the COSU configuration every device is on "
                    f"(stages {', '.join(f'{p} %' for p in PROMOTED_STAGES)}; each stage "
                    ":promote-d after its gate, then the promotion)",
        "rolled back": "Staged content edit rolled back after its first stage (stages "
                       f"{', '.join(f'{p} %' for p in ROLLED_BACK_STAGES)}; :rollback after "
                       "the first gate)"}
    for scenario, _, _ in SCENARIOS:
        print(f"{titles[scenario]}: AMAPI calls per step (emulator request log), the seconds "
              "of the request that started it, of the worker's pass and of its gate reading")
        print(f"  {'devices':>8} {'step':<15} {'calls':>6} {'target':>7} {'start s':>8} "
              f"{'pass s':>7} {'gate s':>7} {'staged':>7}  {'gate':<12} by method")
        for run in (r for r in runs if r.scenario == scenario):
            for step in run.steps:
                total = sum(step.calls.values())
                verdict = step.verdict()
                staged = "-" if step.staged is None else str(step.staged)
                notes = [verdict] if verdict else []
                if step.expected_staged is not None and step.staged != step.expected_staged:
                    notes.append(f"{step.expected_staged} devices expected on the stage")
                print(f"  {run.size:>8} {step.name:<15} {total:>6} "
                      f"{sum(step.target.values()):>7} {_seconds(step.start_seconds):>8} "
                      f"{_seconds(step.pass_seconds):>7} {_seconds(step.gate_seconds):>7} "
                      f"{staged:>7}  {step.gate:<12} {_calls_text(step.calls)}"
                      + (f"  {'; '.join(notes)}" if notes else ""))
                if verdict:
                    print(f"  {'':>8} {'':<15} {'':>6} target: {_calls_text(step.target)}")
            ending = f"ended {run.state}" if run.ok else (
                f"ended {run.state}, expected {run.expected}"
                + (f" ({run.error})" if run.error else "") + "  FAILED")
            print(f"  {run.size:>8} {'rollout':<15} {ending}")
    print("  (a stage moves its new canaries onto the variant policy, one devices.patch each, "
          "the first stage creating that policy, one policies.patch per group of devices; a "
          "stage reaching every device of a group patches the group in place instead, one call "
          "whatever the fleet's size; the promotion only re-keys the groups, no call; a "
          "rollback moves the canaries back and deletes the variant policy. The rolled-back edit "
          "runs on the fleet the promoted one left. 'start s' is the "
          "PATCH with the rollout plan, then :promote or :rollback; 'pass s' the worker's runs "
          "until the stage soaks, or until the rollout ends; 'gate s' the worker's run that "
          "reads the gate, due at once (soak 0 s), over every device on the staged change. "
          "No device report reaches the inventory here, so every gate fails on the applied "
          "share and pauses the rollout for the administrator's next step; its figures are "
          "shown as the stage's state and applied share. In-process emulator without quota, "
          f"AMAPI budget widened to {WIDE_BUDGET_CALLS:,} calls per window; the simulated "
          "devices finish applying each stage before its gate is read and each step's calls "
          "are counted on their own.)")


def main(sizes: tuple[int, ...] = SIZES) -> None:
    """Print, per staged rollout and step, the AMAPI calls by method and the wall times."""
    os.environ["AMAPI_BUDGET_CALLS"] = str(WIDE_BUDGET_CALLS)
    runs: list[Run] = []
    builds: list[tuple[int, float]] = []
    # With Pub/Sub up, a rollout's messages are published as deployed (nobody subscribes: the
    # bench runs the worker itself).
    with emulated_backends(with_pubsub=True) as backends:
        from shared.access import roles

        backends["devices_sync"] = backends["amapi"].app.simulation.scheduler
        for size in sizes:
            with roles.as_system():
                built, measured = _measure_size(backends, size)
            builds.append((size, built))
            runs += measured
    _print(runs)
    print("  (fleets built straight into the emulator and the inventory in "
          + ", ".join(f"{seconds:.1f} s for {size:,}" for size, seconds in builds) + ")")
    failed = [f"{run.scenario} at {run.size:,}" for run in runs if not run.ok]
    if failed:
        sys.exit(f"staged rollouts that did not end as expected: {', '.join(failed)}")


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
