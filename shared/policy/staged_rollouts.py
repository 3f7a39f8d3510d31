"""Staged rollouts: a change pushed to a few devices first, promoted stage by stage while what
the devices report stays healthy, rolled back when it does not.

The change waits beside its resource (`pendingChange`) while every other device keeps the
stored version; the space's other configurations wait too (412) until the rollout is over. Each
stage is a pass of the rollout worker: the devices the stage reaches move onto the variant
policies (new groups, at the first stage; a whole group is patched in place once every device
of it is staged). The stage then soaks; once `gate.soakSeconds` have passed, the worker or the
scheduled target reads what the stage's devices reported since it started and passes or fails
the gate. Passing the last stage promotes the change: the resource takes the pending version
and the remaining devices' groups are patched in place (the variant groups are only re-keyed:
no call). A failed gate with `autoRollback`, `:rollback` or `:cancel` drops the pending version,
moves the staged devices back to the groups of the stored inputs, patches back a group changed
in place, and deletes the variant policies the rollout created.

AMAPI calls per stage: the first creates one variant policy per affected group of devices and
moves each staged device (one `devices.patch` each); a later stage moves its new devices, or
patches a group in place when all of it is staged (one `policies.patch`); promotion patches each
group not staged yet (one call per group); rollback moves each staged device back, patches back
each group changed in place and deletes each variant policy (one `policies.delete` each).
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.amapi.door import AmapiDoor
from shared.amapi.errors import AmapiError, AmapiNotFound
from shared.clock import rfc3339, utcnow
from shared.enterprise import enterprise_name
from shared.policy import push_plan, staging
from shared.policy.effective_policy import SpaceInputs
from shared.policy.push_plan import Plan
from shared.policy.staging import Gate
from shared.store import access_control, configurations, devices, effective_policies, rollouts
from shared.store import app_feedback as feedback_store
from shared.store.keys import is_storable_id, new_id

STAGING, PROMOTING, ROLLING_BACK = "STAGING", "PROMOTING", "ROLLING_BACK"
SYSTEM = "system:rollouts"  # the principal of transitions the rollout makes on its own


class Overtaken(errors.FailedPrecondition):
    """Another transition of the rollout (an administrator's, a gate's) came first."""


def new_rollout_id() -> str:
    """The id of a staged rollout, known before its change is stored (the change names it)."""
    return new_id()


def stage(batch: Any, rollout_id: str, space: str, plan: dict[str, Any],
          trigger: dict[str, Any], resource: dict[str, Any], now: datetime.datetime
          ) -> dict[str, Any]:
    """Add a staged rollout to the write batch that stores the pending change; the space's
    open rollouts are superseded by it (it plans the whole space). The caller holds the
    space's push lease and has checked that no staged rollout is open there."""
    stages = [{**({"percent": s["percent"]} if "percent" in s
                  else {"deviceIds": list(s["deviceIds"])}),
               "state": "PENDING", "devices": 0} for s in plan["stages"]]
    stages[0].update(state="PUSHING", startTime=now)
    record = {"space": space, "trigger": trigger, "state": "PENDING",
              "totals": {"devices": 0, "policies": 0},
              "done": {"moved": 0, "patched": 0, "skipped": 0, "failed": 0},
              "failures": [], "inputsFingerprint": None,
              "createdBy": roles.current().principal, "createTime": now, "updateTime": now,
              "staged": resource, "phase": STAGING, "stages": stages, "stage": 0,
              "gate": Gate.of(plan.get("gate")).as_json(),
              "autoRollback": bool(plan.get("autoRollback", True)), "gateDue": None}
    for older in rollouts.open_in_space(space):
        rollouts.stage_supersede(batch, older["id"], rollout_id, now)
    rollouts.stage_create(batch, rollout_id, record, [])
    rollouts.stage_staged_mark(batch, space, rollout_id)
    return {"id": rollout_id, "cursor": 0, "stepCount": 0, "generation": 1, **record}


def refuse_while_staged(staged: dict[str, str]) -> None:
    """412 when a staged rollout is open in the space: one at a time per space."""
    if staged:
        space, rollout_id = sorted(staged.items())[0]
        raise errors.FailedPrecondition(
            f"space {space!r} already has a staged rollout in progress ({rollout_id}): "
            "promote it, roll it back or cancel it before staging another change")


def refuse_unknown_devices(plan: dict[str, Any], space: str) -> None:
    """400 naming the hand-picked devices (`deviceIds`) that are no managed device of the
    space: a typo must not turn a canary stage into an empty one that passes its gate."""
    enterprise = enterprise_name()
    for index, stage_ in enumerate(plan["stages"]):
        wanted = list(dict.fromkeys(stage_.get("deviceIds") or []))
        names = {w: w if w.startswith(f"{enterprise}/devices/") else
                 f"{enterprise}/devices/{w}" for w in wanted
                 if is_storable_id(devices.device_id(w))}
        found = devices.get_many(sorted(set(names.values())))
        unknown = [w for w in wanted if w not in names or not _managed_in(
            found.get(names[w]), space)]
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more"
                                               if len(unknown) > 10 else "")
            raise errors.InvalidArgument.field(
                f"rollout.stages[{index}].deviceIds",
                f"not managed devices of space {space!r}: {shown}")


def _managed_in(device: dict[str, Any] | None, space: str) -> bool:
    return (device is not None and device.get("space") == space
            and device.get("state") != "DELETED"
            and (device.get("enrollmentDecision") or {}).get("result") == "ALLOWED")


def refuse_while_pending(resource: dict[str, Any], label: str) -> None:
    """412 when a change of this resource is being staged: it changes once that is over."""
    pending = resource.get("pendingChange")
    if isinstance(pending, dict):
        raise errors.FailedPrecondition(
            f"rollout {pending.get('rolloutId')} is staging a change of this {label}: promote "
            "it, roll it back or cancel it before changing it again")


# --- the worker's side -------------------------------------------------------------------

def fresh_plan(rollout: dict[str, Any], space: str, inputs: SpaceInputs) -> Plan:
    """What the rollout's current pass has left to do, from the stored state."""
    managed = devices.managed_in_space(space)
    groups = effective_policies.in_space(space)
    choices = None
    phase = rollout.get("phase")
    if phase == STAGING and inputs.staged_by == rollout["id"]:
        choices = staging.staged_choices(managed, inputs, rollout["stages"],
                                         int(rollout["stage"]), groups)
    elif phase == ROLLING_BACK:
        # The variant groups it created are left out: their devices go back to the groups of
        # the stored inputs, and the groups are deleted once empty (`pass_done`).
        groups = {g: r for g, r in groups.items() if not _created(g, r, rollout["id"])}
    return push_plan.plan_assignment_change(
        space, inputs, managed, groups, enterprise=enterprise_name(), now=utcnow(),
        choices=choices, new_group=_group_namer(rollout["id"]))


def plan_keeping_canaries(space: str, inputs: SpaceInputs, managed: list[dict[str, Any]],
                          groups: dict[str, dict[str, Any]]) -> Plan:
    """Another change's plan while a rollout stages a change in the space: the devices already
    staged stay on the staged change, nobody else joins them."""
    assert inputs.staged_by is not None
    choices = staging.staged_choices(managed, inputs, [], -1, groups)
    return push_plan.plan_assignment_change(
        space, inputs, managed, groups, enterprise=enterprise_name(), now=utcnow(),
        choices=choices, new_group=_group_namer(inputs.staged_by))


def _group_namer(rollout_id: str) -> Callable[[], str]:
    """Groups created while a rollout stages a change are named after it, so that a rollback
    finds (and deletes) those of them that compile the staged change."""
    return lambda: f"{rollout_id}-{new_id()}"


def _created(group: str, record: dict[str, Any], rollout_id: str) -> bool:
    """A variant group the rollout created (not one it patched in place)."""
    return group.startswith(f"{rollout_id}-") and staging.is_variant_group(record, rollout_id)


def pass_done(rollout: dict[str, Any], door: AmapiDoor, now: datetime.datetime) -> None:
    """A pass left nothing to do: the stage soaks, or the promotion or rollback is over."""
    try:
        _pass_done(rollout, door, now)
    except Overtaken as exc:  # e.g. rolled back meanwhile: its own message carries on
        logs.log(logging.INFO, "a staged rollout's pass ended after a newer transition",
                 rolloutId=rollout["id"], detail=str(exc))


def _pass_done(rollout: dict[str, Any], door: AmapiDoor, now: datetime.datetime) -> None:
    phase = rollout.get("phase")
    if phase == STAGING:
        index = int(rollout["stage"])
        stages = copy.deepcopy(rollout["stages"])
        soak = Gate.of(rollout.get("gate")).soak_seconds
        due = now + datetime.timedelta(seconds=soak)
        stages[index].update(state="SOAKING", pushedTime=now,
                             devices=len(_members(rollout)[0]))
        _transition(rollout, {"stages": stages, "gateDue": due, "updateTime": now},
                    "stage pushed", f"stage {index + 1} pushed to "
                    f"{stages[index]['devices']} devices; its gate is read at {rfc3339(due)}")
        return
    ending = "SUCCEEDED" if phase == PROMOTING else "ROLLED_BACK"
    if phase == ROLLING_BACK:
        _delete_created(rollout, door)
    space = str(rollout["space"])
    _transition(rollout, {"state": ending, "updateTime": now, "endTime": now,
                          "inFlight": None, "gateDue": None},
                "rollout " + ending.lower().replace("_", " "),
                "every device is on the promoted change" if ending == "SUCCEEDED"
                else "every device is back on the stored configuration",
                also=lambda writer: rollouts.stage_clear_staged_mark(writer, space))


def stuck(rollout: dict[str, Any], failures: list[dict[str, str]],
          now: datetime.datetime) -> None:
    """Two passes moved nobody. While staging, the rollout waits for an administrator
    (`:rollback`, `:promote`, `:resume`); a promotion or rollback that cannot finish ends
    `FAILED`, the space freed and flagged so that its next change re-plans every device."""
    try:
        if rollout.get("phase") == STAGING:
            _transition(rollout, {"state": "PAUSED", "failures": failures, "updateTime": now,
                                  "inFlight": None},
                        "stuck", f"{len(failures)} devices could not be moved after two "
                        "passes: paused for an administrator")
            return
        space = str(rollout["space"])
        _transition(rollout, {"state": "FAILED", "failures": failures, "updateTime": now,
                              "endTime": now, "inFlight": None, "gateDue": None},
                    "rollout failed", f"{len(failures)} devices could not be moved after two "
                    "passes; the space's next change re-plans them",
                    also=lambda writer: rollouts.stage_clear_staged_mark(writer, space))
        rollouts.mark_replan(space, rollout["id"], now)
    except Overtaken:
        pass  # an administrator acted meanwhile


def _delete_created(rollout: dict[str, Any], door: AmapiDoor) -> None:
    """Delete the variant policies the rollout created, now that no device is on them."""
    created = {g: r for g, r in effective_policies.in_space(str(rollout["space"])).items()
               if _created(g, r, rollout["id"])}
    gone = []
    for group, record in sorted(created.items()):
        try:
            door.delete_policy(str(record["name"]))
        except AmapiNotFound:
            pass
        except AmapiError as exc:
            # Still in use in AMAPI (a device the stores place elsewhere): the record stays, so
            # the space's next plan sees the group, and the next change re-plans every device.
            logs.log(logging.ERROR, "a rolled back variant policy could not be deleted",
                     policy=record["name"], error=str(exc))
            rollouts.mark_replan(str(rollout["space"]), rollout["id"], utcnow())
            continue
        gone.append(group)
    effective_policies.delete_many(gone)


def soaking(rollout: dict[str, Any]) -> bool:
    """True while the current stage waits for its gate: no pass runs."""
    return (rollout.get("phase") == STAGING
            and rollout["stages"][int(rollout["stage"])].get("state") != "PUSHING")


# --- gates -------------------------------------------------------------------------------

def evaluate_due(clock: datetime.datetime, limit: int = 50) -> int:
    """Read the gates of the stages whose soak is over at `clock` (the scheduler's time, or a
    later one against the emulators); how many were read."""
    count = 0
    for rollout in rollouts.gates_due(clock, limit):
        if rollout.get("state") in rollouts.ACTIVE:
            try:
                evaluate(rollout)
            except Overtaken:
                continue  # read by another worker or changed by an administrator meanwhile
            count += 1
    return count


def evaluate(rollout: dict[str, Any]) -> None:
    """Pass or fail the current stage from what its devices reported since it started.

    Times recorded are the real time, whatever clock decided that the soak was over: they
    are compared with the devices' report times.
    """
    now = utcnow()
    index = int(rollout["stage"])
    stage_ = rollout["stages"][index]
    if rollout.get("phase") != STAGING or stage_.get("state") != "SOAKING":
        return
    gate = Gate.of(rollout.get("gate"))
    members, pinned = _members(rollout)
    states: list[dict[str, Any]] = []
    for package in sorted(pinned):
        states += feedback_store.for_package(str(rollout["space"]), package, 5000)
    # Devices staged by an earlier stage reported then; a report counts from the first stage
    # on, and only on the policy and version the device was given (`stage_health`).
    health = staging.stage_health(members, rollout["stages"][0]["startTime"], states)
    reasons = health.failed_checks(gate)
    stages = copy.deepcopy(rollout["stages"])
    stages[index].update(health.figures(), state="FAILED" if reasons else "PASSED",
                         endTime=now)
    if not reasons:
        _next_stage(rollout, stages, now, "gate passed", "; ".join(
            f"{k} {v}" for k, v in health.figures().items()))
        return
    verdict = {"stage": index + 1, "reasons": reasons}
    if rollout.get("autoRollback"):
        _start_rollback(rollout, stages, now, {"gateFailure": verdict,
                                               "failures": health.worst},
                        "gate failed: " + "; ".join(reasons))
        return
    _transition(rollout, {"state": "PAUSED", "stages": stages, "gateDue": None,
                          "gateFailure": verdict, "failures": health.worst,
                          "updateTime": now},
                "gate failed", "; ".join(reasons) + ": paused for an administrator")


def _members(rollout: dict[str, Any]) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]],
                                                set[str]]:
    """The devices on the rollout's variant groups, each with its group, and the packages
    pinned by the variant's COSU configurations."""
    from shared.policy.push import load_space

    space = str(rollout["space"])
    groups = {g: r for g, r in effective_policies.in_space(space).items()
              if staging.is_variant_group(r, rollout["id"])}
    inputs = load_space(space)
    staged = inputs.staged or inputs
    pinned = set()
    for record in groups.values():
        config = staged.configs.get(str(push_plan.stored_choice(record).config_id))
        package = ((config.data.get("app") or {}).get("packageName")) if config else None
        if package:
            pinned.add(str(package))
    members = [(d, groups[d["effectivePolicy"]]) for d in devices.on_groups(list(groups))
               if d.get("policyName") == groups[d["effectivePolicy"]].get("name")]
    return members, pinned


# --- transitions -------------------------------------------------------------------------

def _next_stage(rollout: dict[str, Any], stages: list[dict[str, Any]], now: datetime.datetime,
                why: str, detail: str) -> None:
    """Start the next stage, or promote the change after the last one."""
    from shared.policy import rollouts as domain

    index = int(rollout["stage"])
    changes: dict[str, Any] = {"stages": stages, "gateDue": None, "inputsFingerprint": None,
                               "updateTime": now, "gateFailure": None}
    if rollout.get("state") == "PAUSED":
        changes["state"] = "PENDING"
    if index + 1 < len(stages):
        stages[index + 1].update(state="PUSHING", startTime=now)
        changes["stage"] = index + 1
        _transition(rollout, changes, why, f"stage {index + 1} passed ({detail}); stage "
                    f"{index + 2} starts")
    else:
        resource = rollout["staged"]
        current = configurations.get(resource["collection"], resource["id"])
        pending = (current.data.get("pendingChange") or {}) if current else {}
        if pending.get("rolloutId") != rollout["id"]:
            raise errors.FailedPrecondition(
                f"the change rollout {rollout['id']} stages is gone: roll it back")
        # Its update time is the change's: the etag becomes the rollout's `trigger.etag`.
        promoted = dict(pending["data"])
        changes["phase"] = PROMOTING
        _transition(rollout, changes, why, f"the last stage passed ({detail}): the change is "
                    "promoted to every device",
                    also=lambda writer: configurations.stage_set(
                        writer, resource["collection"], resource["id"], promoted))
    domain.announce([rollout["id"]])


def _start_rollback(rollout: dict[str, Any], stages: list[dict[str, Any]],
                    now: datetime.datetime, extra: dict[str, Any], detail: str) -> None:
    from shared.policy import rollouts as domain

    index = int(rollout["stage"])
    if stages[index].get("state") in ("PUSHING", "SOAKING"):
        stages[index].update(state="ROLLED_BACK", endTime=now)
    resource = rollout["staged"]
    changes = {"phase": ROLLING_BACK, "stages": stages, "gateDue": None,
               "inputsFingerprint": None, "updateTime": now, **extra}
    if rollout.get("state") == "PAUSED":
        changes["state"] = "PENDING"
    def drop(writer: Any) -> None:
        if resource.get("created"):  # it did not exist before the rollout
            configurations.stage_delete_id(writer, resource["collection"], resource["id"])
        else:
            configurations.stage_drop_pending(writer, resource["collection"], resource["id"])

    _transition(rollout, changes, "rollback started", detail, also=drop)
    domain.announce([rollout["id"]])


def _transition(rollout: dict[str, Any], changes: dict[str, Any], action: str, detail: str,
                also: Callable[[Any], None] | None = None) -> None:
    """Write one transition of a staged rollout, unless another one came first (409), and
    put it in the audit log."""
    # Decided from `rollout` as read: any transition since (a pause, a gate, an administrator's
    # call) makes this one stale.
    done, changed = rollouts.transition(
        rollout["id"], rollouts.OPEN, changes,
        expect={k: rollout.get(k) for k in ("state", "phase", "stage")}, also=also)
    if not changed:
        raise Overtaken(f"rollout {rollout['id']} changed meanwhile: fetch it again "
                              f"(it is {(done or {}).get('state')})")
    rollout.update(changes)
    _audit(rollout, action, detail)


def _audit(rollout: dict[str, Any], action: str, detail: str) -> None:
    caller = roles.current()
    principal = SYSTEM if caller.system else caller.principal
    entry = {"time": utcnow(), "principal": principal, "action": f"ROLLOUT {action}",
             "resource": f"/policy/rollouts/{rollout['id']}", "space": rollout["space"],
             "outcome": "ALLOWED", "status": 200, "detail": detail}
    try:
        access_control.append_audit(new_id(), entry)
    except Exception as exc:  # the transition stands; the gap must be visible
        logs.logger.error("audit entry could not be written", exc_info=exc)
    logs.log(logging.INFO, f"staged rollout: {action}", rolloutId=rollout["id"], detail=detail)


# --- administrators' transitions ---------------------------------------------------------

def promote(rollout: dict[str, Any]) -> dict[str, Any]:
    """End the current stage as passed (whatever its gate says) and start the next one, or
    promote the change to every device after the last."""
    if rollout.get("phase") != STAGING or rollout.get("state") not in rollouts.OPEN:
        raise errors.FailedPrecondition(
            f"rollout {rollout['id']} is {_where(rollout)}: only a staged rollout still "
            "staging can be promoted")
    now = utcnow()
    stages = copy.deepcopy(rollout["stages"])
    index = int(rollout["stage"])
    if stages[index].get("state") in ("PUSHING", "SOAKING", "FAILED"):
        stages[index].update(state="PROMOTED", endTime=now)
    _next_stage(rollout, stages, now, "promoted",
                f"promoted by {roles.current().principal}")
    return rollout


def rollback(rollout: dict[str, Any], why: str) -> dict[str, Any]:
    """Put every device back on the stored configuration and drop the staged change."""
    if rollout.get("phase") != STAGING or rollout.get("state") not in rollouts.OPEN:
        raise errors.FailedPrecondition(
            f"rollout {rollout['id']} is {_where(rollout)}: only a staged rollout still "
            "staging can be rolled back")
    _start_rollback(rollout, copy.deepcopy(rollout["stages"]), utcnow(), {},
                    f"{why} by {roles.current().principal}")
    return rollout


def resume_gate(rollout: dict[str, Any]) -> dict[str, Any]:
    """After a failed gate without automatic rollback: read the gate again now."""
    now = utcnow()
    stages = copy.deepcopy(rollout["stages"])
    index = int(rollout["stage"])
    stages[index].update(state="SOAKING", endTime=None)
    _transition(rollout, {"state": "PENDING", "stages": stages, "gateDue": now,
                          "gateFailure": None, "updateTime": now},
                "resumed", f"gate of stage {index + 1} read again")
    return rollout


def gate_failed(rollout: dict[str, Any]) -> bool:
    """True for a rollout paused by a failed gate."""
    return (rollout.get("phase") == STAGING
            and rollout["stages"][int(rollout["stage"])].get("state") == "FAILED")


def _where(rollout: dict[str, Any]) -> str:
    phase = rollout.get("phase")
    return str(rollout.get("state")) + (f" ({phase.lower().replace('_', ' ')})"
                                        if phase and phase != STAGING else "")


def represent(rollout: dict[str, Any]) -> dict[str, Any]:
    """The staged rollout's own fields, as the API shows them."""
    shown: dict[str, Any] = {
        "stages": [{k: (rfc3339(v) if isinstance(v, datetime.datetime) else v)
                    for k, v in s.items() if k != "pushedTime"} for s in rollout["stages"]],
        "currentStage": int(rollout["stage"]) + 1, "phase": rollout.get("phase"),
        "gate": rollout.get("gate"), "autoRollback": bool(rollout.get("autoRollback"))}
    if rollout.get("gateDue") is not None:
        shown["gateTime"] = rfc3339(rollout["gateDue"])
    if rollout.get("gateFailure"):
        shown["gateFailure"] = rollout["gateFailure"]
    return shown
