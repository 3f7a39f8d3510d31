"""Rollouts: configuration changes too large to push inside a request, pushed in paced batches.

A change whose plan needs more AMAPI calls than the inline limit is stored at once (the
configuration is the source of truth) together with a rollout holding the plan's steps; the
reply is 202 and the rollout's message goes to the rollout topic. The worker (`advance`) runs
one batch at a time under the space's push lease, with AMAPI calls taken from the background
lane of the shared budget before the lease is taken, and checkpoints each batch atomically:
devices moved, groups patched, cursor advanced.

Each batch first checks that the space's inputs are those the steps were planned from; if they
changed (another edit, a deletion), or once the steps are exhausted, the rest is planned again
from the latest stored state, so quick successive edits converge on the newest one and the
rollout ends only when a fresh plan has nothing left to do. A newer rollout of the same space
takes the older one's remaining work over (`supersededBy`): one rollout per space runs at a
time, except a staged rollout (`staged_rollouts`), which goes on beside the rollouts of other
changes of its space, their plans keeping its canaries where it put them.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.amapi.door import AmapiDoor
from shared.amapi.errors import AmapiError, AmapiNotFound, AmapiQuotaExhausted, AmapiUnavailable
from shared.clock import rfc3339, utcnow
from shared.config import settings
from shared.enterprise import enterprise_name
from shared.pagination import paginate
from shared.policy.effective_policy import SpaceInputs
from shared.policy.holding_policy import holding_policy
from shared.policy.push_plan import Plan, PolicyUpdate, compile_choice, policy_record, stored_choice
from shared.store import devices, effective_policies, rollouts
from shared.store.keys import new_id

KINDS = {"cosu": "COSU_CONFIG", "app": "APP", "wifi": "WIFI", "vpn": "VPN"}
MAX_FAILURES = 100  # the first are kept; the counters say how many there were
_TRANSIENT = (AmapiUnavailable, AmapiQuotaExhausted)


def inline_limit() -> int:
    """Plans with more AMAPI calls than this become rollouts."""
    return settings().rollout_inline_limit


def inputs_fingerprint(inputs: SpaceInputs) -> str:
    """A digest of a space's inputs as stored: any edit, creation or deletion changes it."""
    parts = sorted(f"{kind}:{key}:{stored.id}:{stored.data.get('updateTime')}:"
                   f"{(stored.data.get('pendingChange') or {}).get('rolloutId', '')}"
                   for kind, items in (("cosu", inputs.configs), ("app", inputs.apps),
                                       ("wifi", inputs.wifi), ("vpn", inputs.vpn))
                   for key, stored in items.items())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _policy_step(op: str, update: PolicyUpdate) -> dict[str, Any]:
    return {"op": op, "group": update.key, "name": update.name,
            "choice": update.record["choice"]}


def steps_of(plan: Plan) -> list[dict[str, Any]]:
    """A plan as stored steps, in execution order (policies are compiled when executed)."""
    return ([_policy_step("policy", u) for u in plan.updates]
            + [{"op": "holding", "name": name} for name in plan.holding]
            + [{"op": "move", "device": m.device_name, "group": m.new_key,
                "policy": m.new_policy, "from": m.old_policy} for m in plan.moves]
            + [_policy_step("policy", u) for u in plan.rekeys])


def _totals(steps: list[dict[str, Any]]) -> dict[str, int]:
    moves = sum(1 for s in steps if s["op"] == "move")
    return {"devices": moves, "policies": len(steps) - moves}


def stage(batch: Any, space: str, plan: Plan, inputs: SpaceInputs, trigger: dict[str, Any],
          now: datetime.datetime) -> dict[str, Any]:
    """Add a rollout of `plan` to the write batch that stores the change; the space's active
    rollouts are superseded by it. The caller holds the space's push lease."""
    rollout_id = new_id()
    steps = steps_of(plan)
    record = {"space": space, "trigger": trigger, "state": "PENDING",
              "totals": _totals(steps), "done": {"moved": 0, "patched": 0, "skipped": 0,
                                                 "failed": 0},
              "failures": [], "inputsFingerprint": inputs_fingerprint(inputs),
              "createdBy": roles.current().principal, "createTime": now, "updateTime": now}
    for older in rollouts.open_in_space(space):
        if not older.get("stages"):  # a staged rollout goes on: this one keeps its canaries
            rollouts.stage_supersede(batch, older["id"], rollout_id, now)
    rollouts.stage_create(batch, rollout_id, record, steps)
    effective_policies.stage_rekey_marks(batch, rekey_marks(plan, rollout_id))
    return {"id": rollout_id, "cursor": 0, "stepCount": len(steps), **record}


def rekey_marks(plan: Plan, rollout_id: str) -> dict[str, dict[str, Any]]:
    """The marks of the groups a rollout re-keys only once their leavers left."""
    return {u.key: {"key": u.record["choiceKey"], "rollout": rollout_id} for u in plan.rekeys}


def pending_rekey(record: dict[str, Any]) -> str | None:
    """The inputs key a group is about to be re-keyed to by a rollout still open, if any."""
    mark = record.get("rekeyTo")
    if not isinstance(mark, dict) or mark.get("key") == record.get("choiceKey"):
        return None
    rollout = rollouts.get(str(mark.get("rollout")))
    return str(mark["key"]) if rollout and rollout.get("state") in rollouts.OPEN else None


def announce(rollout_ids: list[str]) -> None:
    """Send each rollout's message to the worker; a lost one is re-sent by the reconcile."""
    if not rollout_ids:
        return
    from shared import pubsub

    for index, rollout_id in enumerate(rollout_ids):
        try:
            pubsub.publish(settings().rollout_topic, {"rolloutId": rollout_id})
        except errors.ApiError as exc:
            # Pub/Sub is out: the rest would each wait out the same retry budget.
            logs.log(logging.WARNING, "rollout messages could not be sent: the scheduled "
                     "reconcile resumes them", rolloutIds=rollout_ids[index:], error=str(exc))
            return


def represent(rollout: dict[str, Any], now: datetime.datetime | None = None) -> dict[str, Any]:
    """The API representation of a rollout."""
    totals = dict(rollout.get("totals") or {"devices": 0, "policies": 0})
    done = dict(rollout.get("done") or {})
    total = sum(totals.values())
    progressed = sum(done.values())
    state = rollout.get("state")
    percent = 100 if state == "SUCCEEDED" or total == 0 else min(99, 100 * progressed // total)
    if rollout.get("stages") and state != "SUCCEEDED":
        # A staged rollout's progress is its stages': each counts once it passed.
        passed = sum(1 for s in rollout["stages"] if s.get("state") in ("PASSED", "PROMOTED"))
        percent = min(99, 100 * passed // len(rollout["stages"]))
    eta = None
    started = rollout.get("startTime")
    if state == "RUNNING" and started is not None and progressed:
        elapsed = ((now or utcnow()) - started).total_seconds()
        eta = math.ceil(elapsed / progressed * max(total - progressed, 0))
    body: dict[str, Any] = {
        "id": rollout["id"], "space": rollout.get("space"), "trigger": rollout.get("trigger"),
        "state": state, "totals": totals, "done": done, "percent": percent,
        "etaSeconds": eta, "failures": list(rollout.get("failures") or []),
        "createTime": rfc3339(rollout["createTime"]),
        "updateTime": rfc3339(rollout["updateTime"])}
    for optional in ("supersededBy", "startTime", "endTime"):
        if rollout.get(optional) is not None:
            value = rollout[optional]
            body[optional] = rfc3339(value) if isinstance(value, datetime.datetime) else value
    if rollout.get("stages"):
        from shared.policy import staged_rollouts

        body.update(staged_rollouts.represent(rollout))
    return body


def _visible(rollout_id: str, needed: int = roles.VIEWER) -> dict[str, Any]:
    rollout = rollouts.get(rollout_id)
    caller = roles.current()
    if rollout is None or caller.level(str(rollout.get("space"))) < roles.VIEWER:
        raise errors.NotFound(f"no rollout {rollout_id!r}")
    caller.require(str(rollout["space"]), needed)
    return rollout


def get(rollout_id: str) -> dict[str, Any]:
    """One rollout."""
    return represent(_visible(rollout_id))


def list_page(space: str | None, state: str | None, size: int,
              token: str | None) -> dict[str, Any]:
    """Rollouts of a space or of every space the caller can read, optionally in one state."""
    spaces = roles.current().spaces_for_list(space)
    filters: dict[str, Any] = {} if spaces is None else {"spaces": spaces}
    if state:
        filters["state"] = state

    def fetch(limit: int, after: str | None) -> list[dict[str, Any]]:
        return rollouts.page(filters, limit, after)

    return paginate("rollouts", f"rollouts|space={space or ''}|state={state or ''}", size,
                    token, fetch, lambda r: str(r["id"]), represent)


def cancel(rollout_id: str) -> dict[str, Any]:
    """Stop a rollout between batches; what it already moved stays where it is. A staged
    rollout cannot stop half-way: cancelling it rolls it back."""
    staged = _visible(rollout_id, roles.ADMIN)
    if staged.get("phase") == "STAGING":
        return rollback(rollout_id, "cancelled")
    if staged.get("phase") and staged.get("state") in rollouts.OPEN:
        raise errors.FailedPrecondition(
            f"rollout {rollout_id} is {str(staged['phase']).lower().replace('_', ' ')}: it "
            "ends on its own, and stopping it half-way would leave devices on both versions")
    rollout = _change_state(rollout_id, rollouts.OPEN, {"state": "CANCELLED"}, "cancelled",
                            end=True)
    rollouts.mark_replan(str(rollout["space"]), rollout_id, utcnow())
    done = rollout.get("done") or {}
    shown = represent(rollout)
    shown["message"] = (
        f"cancelled after this batch: {done.get('moved', 0)} devices already moved and "
        f"{done.get('patched', 0)} policies already patched stay as they are; the other "
        "devices keep their previous policy until the next change in this space, which "
        "re-plans every device of the space")
    return shown


def pause(rollout_id: str) -> dict[str, Any]:
    """Hold a rollout after its current batch, until it is resumed (or cancelled)."""
    rollout = _change_state(rollout_id, rollouts.ACTIVE, {"state": "PAUSED"}, "paused")
    shown = represent(rollout)
    shown["message"] = "paused after the current batch: resume it to continue"
    return shown


def resume(rollout_id: str) -> dict[str, Any]:
    """Continue a paused rollout from its checkpoint (planned again if the space changed); a
    staged rollout paused by a failed gate has its gate read again."""
    from shared.policy import staged_rollouts

    paused = _visible(rollout_id, roles.ADMIN)
    if paused.get("state") == "PAUSED" and staged_rollouts.gate_failed(paused):
        shown = represent(staged_rollouts.resume_gate(paused))
        announce([rollout_id])
        return shown
    # PENDING: the worker picks it up as it would a new one (keeping its first start time).
    rollout = _change_state(rollout_id, ("PAUSED",), {"state": "PENDING"}, "resumed")
    announce([rollout_id])
    return represent(rollout)


def promote(rollout_id: str) -> dict[str, Any]:
    """Pass a staged rollout's current stage and start the next (the last: promote the change
    to every device)."""
    from shared.policy import staged_rollouts

    rollout = _staged(rollout_id)
    return represent(staged_rollouts.promote(rollout))


def rollback(rollout_id: str, why: str = "rolled back") -> dict[str, Any]:
    """Put every device of a staged rollout back on the stored configuration."""
    from shared.policy import staged_rollouts

    rollout = _staged(rollout_id)
    shown = represent(staged_rollouts.rollback(rollout, why))
    shown["message"] = ("rolling back: staged devices move back to the stored configuration "
                        "and the staged change is dropped")
    return shown


def _staged(rollout_id: str) -> dict[str, Any]:
    rollout = _visible(rollout_id, roles.ADMIN)
    if not rollout.get("stages"):
        raise errors.FailedPrecondition(
            f"rollout {rollout_id} is not staged: only a staged rollout has stages to promote "
            "or roll back")
    return rollout


def _change_state(rollout_id: str, allowed: tuple[str, ...], changes: dict[str, Any],
                  verb: str, end: bool = False) -> dict[str, Any]:
    """One administrator transition; 412 naming the state that forbids it."""
    _visible(rollout_id, roles.ADMIN)
    now = utcnow()
    changes = {**changes, "updateTime": now, **({"endTime": now} if end else {})}
    rollout, changed = rollouts.transition(rollout_id, allowed, changes)
    assert rollout is not None
    if not changed:
        raise errors.FailedPrecondition(
            f"rollout {rollout_id} is {rollout.get('state')}: only a rollout that is "
            f"{' or '.join(allowed)} can be {verb}")
    logs.log(logging.INFO, f"rollout {verb}", rolloutId=rollout_id,
             principal=roles.current().principal)
    return rollout


# --- the worker's side -------------------------------------------------------------------

def advance(rollout_id: str, size: int, door: AmapiDoor, until: float | None = None) -> bool:
    """Run the rollout's next batch of at most `size` AMAPI calls, ending it early (checkpointed
    as usual) once `time.monotonic()` passes `until`; False once the rollout is over.

    The caller holds the space's push lease (so this is the only push of the space now) and
    has taken the batch's budget.
    """
    from shared.policy import push

    rollout = rollouts.get(rollout_id)
    if rollout is None or rollout.get("state") not in rollouts.ACTIVE:
        return False
    now = utcnow()
    space = str(rollout["space"])
    if rollout["state"] == "PENDING":
        started, _ = rollouts.transition(rollout_id, ("PENDING",), {
            "state": "RUNNING", "updateTime": now,
            **({} if rollout.get("startTime") else {"startTime": now})})
        if started is None or started.get("state") != "RUNNING":
            return False  # cancelled meanwhile
        rollout = started
    if rollout.get("inFlight"):
        rollout = _recover(rollout, door)
    if rollout.get("stages"):
        from shared.policy import staged_rollouts

        if staged_rollouts.soaking(rollout):
            return False  # the gate decides what comes next (`waiting_for_gate`)
    inputs = push.load_space(space)
    fingerprint = inputs_fingerprint(inputs)
    if (fingerprint != rollout.get("inputsFingerprint")
            or rollout["cursor"] >= rollout["stepCount"]) and not _replan(
                rollout, _fresh_plan(rollout, space, inputs), fingerprint, now, door):
        return False
    batch = rollouts.steps(rollout_id, rollout["generation"], rollout["cursor"], size)
    # Marked before any call: if this batch dies half-way, the next one first asks AMAPI
    # where the marked devices are (`_recover`) instead of moving them a second time.
    rollouts.update(rollout_id, {"inFlight": [rollout["generation"], rollout["cursor"],
                                              rollout["cursor"] + len(batch)]})
    stored = devices.get_many([s["device"] for s in batch if s["op"] == "move"])
    outcome = _Batch(space, inputs, door, stored)
    try:
        for step in batch:
            if until is not None and outcome.steps_done and time.monotonic() > until:
                break  # the worker's time is up: the rest of the batch is the next one's
            outcome.run(step)
    except push.LeaseLost:
        # A newer worker holds the space and has checkpointed since: record only what this
        # batch did in AMAPI, never this batch's (older) view of the rollout's progress.
        rollouts.record_effects(outcome.devices, outcome.groups)
        raise
    except BaseException:
        _checkpoint(rollout, outcome, interrupted=True)
        raise
    _checkpoint(rollout, outcome, interrupted=False)
    return True


def _recover(rollout: dict[str, Any], door: AmapiDoor) -> dict[str, Any]:
    """Record where AMAPI has the devices of a batch that died half-way (its mark is still
    set): those it already moved are recorded moved, so no pass moves them again."""
    generation, start, end = rollout["inFlight"]
    steps = rollouts.steps(rollout["id"], generation, start, end - start)
    marked = [s for s in steps if s["op"] == "move"]
    stored = devices.get_many([s["device"] for s in marked])
    # A policy the batch may have patched is recorded with no fingerprint: the devices found on
    # it count as its members, and the next plan pushes it again whatever it holds.
    groups: dict[str, dict[str, Any]] = {}
    policy_steps = [s for s in steps if s["op"] == "policy"]
    if policy_steps:
        from shared.policy.push import load_space

        inputs = load_space(str(rollout["space"]))
        for step in policy_steps:
            record = _unconfirmed_group(step, str(rollout["space"]), inputs)
            if record is not None:
                groups[step["group"]] = record
    arrived: dict[str, dict[str, Any]] = {}
    for step in marked:
        device = stored.get(step["device"])
        if device is None or device.get("policyName") == step["policy"]:
            continue
        try:
            current = door.get_device(step["device"])
        except AmapiNotFound:
            continue  # its DELETED report follows; the next plan leaves it out
        if current.get("policyName") == step["policy"]:
            arrived[step["device"]] = {"effectivePolicy": step["group"],
                                       "policyName": step["policy"]}
    done = dict(rollout.get("done") or {})
    done["moved"] = done.get("moved", 0) + len(arrived)
    changes = {"inFlight": None, "done": done, "updateTime": utcnow()}
    rollouts.checkpoint(rollout["id"], changes, arrived, groups)
    if arrived:
        logs.log(logging.WARNING, "a rollout batch died half-way: devices it had moved were "
                 "found in AMAPI and recorded", rolloutId=rollout["id"], devices=len(arrived))
    return {**rollout, **changes}


def _unconfirmed_group(step: dict[str, Any], space: str,
                       inputs: SpaceInputs) -> dict[str, Any] | None:
    """The record of a group whose policy a dead batch may or may not have patched: its
    content as the inputs compile now, and no fingerprint, so that it is pushed again."""
    choice = stored_choice(step)
    try:
        policy = compile_choice(choice, inputs)
    except errors.InvalidArgument:
        return None  # its inputs are gone: the next plan moves its devices elsewhere
    record = policy_record(enterprise_name(), space, choice, policy, utcnow(), step["group"])
    return {**record, "name": step["name"], "fingerprint": None}


def _fresh_plan(rollout: dict[str, Any], space: str, inputs: SpaceInputs) -> Plan:
    from shared.policy import push, staged_rollouts

    if rollout.get("stages"):
        return staged_rollouts.fresh_plan(rollout, space, inputs)
    return push.plan_assignment_change(space, inputs)


def _replan(rollout: dict[str, Any], plan: Plan, fingerprint: str,
            now: datetime.datetime, door: AmapiDoor) -> bool:
    """Point the rollout at a fresh plan; end it (SUCCEEDED) when nothing is left to do (a
    staged rollout's stage soaks, or its promotion or rollback ends)."""
    if plan.restamped:
        effective_policies.put_many({u.key: u.record for u in plan.restamped})
    steps = steps_of(plan)
    if not steps and rollout.get("stages"):
        from shared.policy import staged_rollouts

        rollouts.update(rollout["id"], {"inputsFingerprint": fingerprint, "cursor": 0,
                                        "stepCount": 0, "inFlight": None,
                                        "progressAtReplan": None, "idleGenerations": 0})
        staged_rollouts.pass_done(rollout, door, now)
        return False
    if not steps:
        rollouts.transition(rollout["id"], rollouts.ACTIVE,
                            {"state": "SUCCEEDED", "updateTime": now, "endTime": now,
                             "inFlight": None})
        logs.log(logging.INFO, "rollout succeeded", rolloutId=rollout["id"],
                 done=rollout.get("done"))
        return False
    done = rollout.get("done") or {}
    # Devices moved is what a pass achieves: policies are upserted again by every pass whose
    # devices have not arrived yet.
    progress = done.get("moved", 0)
    finished = rollout["cursor"] >= rollout["stepCount"]
    stuck = int(rollout.get("idleGenerations") or 0) + 1 if (
        finished and progress == rollout.get("progressAtReplan")) else 0
    if stuck >= 2:
        return _fail_stuck(rollout, steps, now)
    fresh = _totals(steps)
    totals = {"devices": done.get("moved", 0) + fresh["devices"],
              "policies": done.get("patched", 0) + fresh["policies"]}
    generation = int(rollout["generation"]) + 1
    # A staged rollout's plan is made for its phase and stage: one that changed meanwhile (a
    # rollback, a gate) makes it stale, and the message of that transition carries on.
    expect = ({k: rollout.get(k) for k in ("phase", "stage")} if rollout.get("stages")
              else None)
    if expect is not None and {k: (rollouts.get(rollout["id"]) or {}).get(k)
                               for k in expect} != expect:
        return False
    effective_policies.put_rekey_marks(rekey_marks(plan, rollout["id"]))
    if not rollouts.replan(rollout["id"], generation, steps,
                           {"inputsFingerprint": fingerprint, "totals": totals,
                            "updateTime": now, "progressAtReplan": progress,
                            "idleGenerations": stuck}, expect):
        return False
    rollout.update(generation=generation, cursor=0, stepCount=len(steps),
                   inputsFingerprint=fingerprint, totals=totals)
    return True


def _fail_stuck(rollout: dict[str, Any], steps: list[dict[str, Any]],
                now: datetime.datetime) -> bool:
    """End a rollout whose last two passes changed nothing: what is left cannot be done."""
    left = [{"deviceId": devices.device_id(s["device"]),
             "reason": "still not on its policy after two passes"}
            for s in steps if s["op"] == "move"]
    failures = (list(rollout.get("failures") or []) + left)[:MAX_FAILURES]
    if rollout.get("stages"):
        from shared.policy import staged_rollouts

        staged_rollouts.stuck(rollout, failures, now)
        return False
    rollouts.transition(rollout["id"], rollouts.ACTIVE, {
        "state": "FAILED", "updateTime": now, "endTime": now, "inFlight": None,
        "failures": failures})
    logs.log(logging.ERROR, "rollout failed: its last passes changed nothing",
             rolloutId=rollout["id"], left=len(steps))
    return False


class _Batch:
    """The effects of one batch's steps, collected for its checkpoint."""

    def __init__(self, space: str, inputs: SpaceInputs, door: AmapiDoor,
                 stored: dict[str, dict[str, Any]]) -> None:
        self.space, self.inputs, self.door, self.stored = space, inputs, door, stored
        self.devices: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.counts = {"moved": 0, "patched": 0, "skipped": 0, "failed": 0}
        self.failures: list[dict[str, str]] = []
        self.steps_done = 0

    def run(self, step: dict[str, Any]) -> None:
        from shared.policy.push import check_lease

        check_lease()
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "policy": self._policy, "holding": self._holding, "move": self._move}
        handlers[step["op"]](step)
        self.steps_done += 1

    def _policy(self, step: dict[str, Any]) -> None:
        choice = stored_choice(step)
        policy = compile_choice(choice, self.inputs)
        record = policy_record(enterprise_name(), self.space, choice, policy, utcnow(),
                               step["group"])
        record["name"] = step["name"]
        record["version"] = self.door.patch_policy(step["name"], policy).get("version")
        self.groups[step["group"]] = record
        self.counts["patched"] += 1

    def _holding(self, step: dict[str, Any]) -> None:
        self.door.patch_policy(step["name"], holding_policy())
        self.counts["patched"] += 1

    def _move(self, step: dict[str, Any]) -> None:
        device = self.stored.get(step["device"])
        target = {"effectivePolicy": step["group"], "policyName": step["policy"]}
        if device is None or device.get("state") == "DELETED":
            self.counts["skipped"] += 1
            return
        if all(device.get(k) == v for k, v in target.items()) or (
                (device.get("policyName") or step["from"]) != step["from"]):
            self.counts["skipped"] += 1  # already there, or moved by someone since planned
            return
        try:
            self.door.patch_device(step["device"], {"policyName": step["policy"]}, "policyName")
        except AmapiNotFound:
            # Deleted in AMAPI meanwhile (its DELETED report follows): recorded as such now, so
            # that the next pass does not plan it again.
            self.devices[step["device"]] = {"state": "DELETED"}
            self.counts["skipped"] += 1
            return
        except _TRANSIENT:
            raise
        except AmapiError as exc:
            self.counts["failed"] += 1
            self.failures.append({"deviceId": devices.device_id(step["device"]),
                                  "reason": str(exc)})
            return
        self.devices[step["device"]] = target
        self.counts["moved"] += 1


def _checkpoint(rollout: dict[str, Any], batch: _Batch, interrupted: bool) -> None:
    """Record the batch's effects and advance the cursor past its completed steps; an
    interrupted batch leaves a mark on its next step, whose call may have reached AMAPI."""
    done = dict(rollout.get("done") or {})
    for key, count in batch.counts.items():
        done[key] = done.get(key, 0) + count
    failures = (list(rollout.get("failures") or []) + batch.failures)[:MAX_FAILURES]
    cursor = rollout["cursor"] + batch.steps_done
    # Steps before the cursor are recorded; the one at it may have reached AMAPI.
    changes = {"cursor": cursor, "done": done, "failures": failures, "updateTime": utcnow(),
               "inFlight": [rollout["generation"], cursor, cursor + 1] if interrupted else None}
    rollouts.checkpoint(rollout["id"], changes, batch.devices, batch.groups)


def waiting_for_gate(rollout: dict[str, Any]) -> bool:
    """True while a staged rollout's stage soaks: its gate is read once due (right away when
    it is), and nothing else is to be done meanwhile."""
    from shared.policy import staged_rollouts

    if not rollout.get("stages") or not staged_rollouts.soaking(rollout):
        return False
    due = rollout.get("gateDue")
    now = utcnow()
    if due is not None and due <= now:
        # Overtaken: read by the scheduled target, or changed by an administrator, meanwhile.
        with contextlib.suppress(staged_rollouts.Overtaken):
            staged_rollouts.evaluate(rollout)
    return True


def resume_stalled(now: datetime.datetime, stalled_after: datetime.timedelta,
                   limit: int = 100) -> int:
    """Re-send the message of active rollouts that made no progress for `stalled_after`
    (a soaking stage is not stalled: its gate moves it on)."""
    stalled = [r for r in rollouts.active_since(now - stalled_after, limit)
               if r.get("gateDue") is None]
    announce([r["id"] for r in stalled])
    return len(stalled)
