"""Pushing configuration changes to AMAPI with the fewest calls that leave every device right.

A change to what a configuration says recompiles only the groups built from it and patches
those whose compilation changed (one `policies.patch` per group, none when nothing changed). A
change to whom it applies (distribution, priority, creation, deletion) re-resolves the space's
devices group by group (`push_plan`): a group whose devices all get the same new inputs is
patched in place; only the devices leaving a group move (`devices.patch`). A change small
enough is pushed before it is stored; if AMAPI fails half-way, what was already pushed is put
back and nothing is stored. A larger one is stored at once and pushed by a rollout.

Pushes that touch a space are serialized by a lease on the space (`serialized`), taken before
anything is read: each push plans from the latest stored state and undoes only its own calls,
and only while it still holds the lease, so no push ever reverts another's.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from shared import errors, logs
from shared.amapi.client import amapi
from shared.amapi.door import AmapiDoor, google
from shared.amapi.errors import AmapiError, AmapiNotFound
from shared.clock import utcnow
from shared.enterprise import enterprise_name
from shared.policy import push_plan
from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.policy.push_plan import (
    DeviceMove,
    Plan,
    PolicyUpdate,
    compile_choice,
    input_key,
    policy_record,
    reaches,
    with_change,
)
from shared.store import configurations, devices, effective_policies, push_leases
from shared.store import rollouts as stored_rollouts
from shared.store.keys import new_id
from shared.store.versioned import Stored

__all__ = ["DeviceMove", "Plan", "PolicyUpdate", "Pushed", "affected_spaces", "apply_change",
           "assign_device", "compile_choice", "execute", "input_key", "load_space",
           "plan_assignment_change", "plan_content_change", "reaches", "record", "relabel",
           "repush_if_behind", "serialized", "with_change"]

# A lease outlives any stall of its holder's AMAPI calls (each bounded by the retry budget)
# and is renewed while a long push runs; a crashed holder's lease lapses on its own.
LEASE_TTL = datetime.timedelta(seconds=120)
LEASE_WAIT_SECONDS = 25.0  # an HTTP caller waits this long for the push before it (503)
_held: contextvars.ContextVar[_HeldLease | None] = contextvars.ContextVar("push_lease",
                                                                          default=None)


@dataclass
class _HeldLease:
    lease: push_leases.Lease
    renewed: float


class LeaseLost(errors.Unavailable):
    """The push outlived its lease and another push took the space over."""


@contextlib.contextmanager
def serialized(spaces: Iterable[str], wait_seconds: float | None = None,
               ) -> Iterator[push_leases.Lease]:
    """Hold the push leases of `spaces` (all at once, so two pushes never deadlock).

    Re-entrant for spaces already held by this context; 503 when the spaces stay busy longer
    than `wait_seconds`.
    """
    wanted = tuple(sorted(set(spaces)))
    outer = _held.get()
    if outer is not None and set(wanted) <= set(outer.lease.spaces):
        yield outer.lease
        return
    holder = new_id()
    deadline = time.monotonic() + (LEASE_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    delay = 0.02
    while (lease := push_leases.try_acquire(wanted, holder, utcnow(), LEASE_TTL)) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.Unavailable(
                f"another change to {', '.join(wanted)} is being pushed: retry shortly",
                headers={"Retry-After": "5"})
        time.sleep(min(remaining, delay * random.uniform(0.5, 1.5)))
        delay = min(delay * 2, 0.5)
    token = _held.set(_HeldLease(lease, time.monotonic()))
    try:
        yield lease
    finally:
        _held.reset(token)
        if not push_leases.release(lease, utcnow()):
            logs.log(logging.ERROR, "a push outlived its lease", spaces=list(wanted))


def _keep_lease(force: bool = False) -> bool:
    """Renew the current lease when a third of it has run; False when it was lost."""
    held = _held.get()
    if held is None:
        return True
    if not force and time.monotonic() - held.renewed < LEASE_TTL.total_seconds() / 3:
        return True
    if not push_leases.renew(held.lease, utcnow(), LEASE_TTL):
        return False
    held.renewed = time.monotonic()
    return True


def check_lease() -> None:
    """Renew the push lease when due; LeaseLost (503) when another push took the space over."""
    if not _keep_lease():
        raise LeaseLost("the push took too long and was interrupted: retry")


def load_space(space: str) -> SpaceInputs:
    """Every configuration, app, Wi-Fi and VPN of a space or delegated to it (eight queries)."""
    inputs = SpaceInputs(
        configs={s.id: s for s in _reaching(configurations.COSU, space)},
        apps={s.data["packageName"]: s for s in _reaching(configurations.APPS, space)},
        wifi={s.id: s for s in _reaching(configurations.WIFI, space)},
        vpn={s.id: s for s in _reaching(configurations.VPN, space)})
    return with_staged(inputs, space)


def with_staged(inputs: SpaceInputs, space: str) -> SpaceInputs:
    """`inputs` with the variant a staged rollout of the space compiles its canaries from (a
    resource of the space carrying a `pendingChange`), when there is one."""
    for kind, items in (("cosu", inputs.configs), ("app", inputs.apps),
                        ("wifi", inputs.wifi), ("vpn", inputs.vpn)):
        for stored in items.values():
            pending = stored.data.get("pendingChange")
            if isinstance(pending, dict) and stored.data.get("space") == space:
                after = Stored(stored.id, pending["data"]) if pending.get("data") else None
                return replace(inputs, staged=with_change(inputs, kind, stored, after),
                               staged_by=str(pending["rolloutId"]))
    return inputs


def _reaching(collection: str, space: str) -> list[Stored]:
    # A space's own resources win over delegated ones with the same key (an app's package).
    return (configurations.delegated_to(collection, space)
            + configurations.in_space(collection, space))


def plan_content_change(space: str, inputs: SpaceInputs, *input_ids: str) -> Plan:
    """Load the effective policies built from any of `input_ids` and plan their
    recompilation."""
    using: dict[str, dict[str, Any]] = {}
    for input_id in input_ids:
        using.update(effective_policies.using(input_id))
    return push_plan.plan_content_change(space, inputs, using, enterprise=enterprise_name(),
                                         now=utcnow())


def plan_assignment_change(space: str, inputs: SpaceInputs) -> Plan:
    """Load the space's managed devices and groups; plan the re-resolution.

    While a staged rollout is open in the space, its canaries stay on its change (compiled with
    this one too) and no device joins them: only the rollout's own passes stage devices.
    """
    managed = devices.managed_in_space(space)
    groups = effective_policies.in_space(space)
    if inputs.staged_by is None:
        return push_plan.plan_assignment_change(space, inputs, managed, groups,
                                                enterprise=enterprise_name(), now=utcnow())
    from shared.policy import staged_rollouts

    return staged_rollouts.plan_keeping_canaries(space, inputs, managed, groups)


def execute(plan: Plan, door: AmapiDoor | None = None) -> None:
    """Make the AMAPI calls of `plan`; on failure undo what was done and re-raise."""
    door = door or google()
    patched: list[PolicyUpdate] = []
    moved: list[DeviceMove] = []
    try:
        for update in plan.updates:
            check_lease()
            _patch_group(door, update)
            patched.append(update)
        for name in plan.holding:
            door.patch_policy(name, holding_policy())
        for move in plan.moves:
            check_lease()
            if _move_device(door, move):
                moved.append(move)
        for update in plan.rekeys:
            check_lease()
            _patch_group(door, update)
            patched.append(update)
    except (AmapiError, LeaseLost):
        _undo(patched, moved, door)
        raise


def _patch_group(door: AmapiDoor, update: PolicyUpdate) -> None:
    pushed = door.patch_policy(update.name, update.policy)
    update.record["version"] = pushed.get("version")


def _move_device(door: AmapiDoor, move: DeviceMove) -> bool:
    """Put one device on its new policy; False when AMAPI no longer has it (deleted meanwhile:
    its DELETED report follows)."""
    try:
        door.patch_device(move.device_name, {"policyName": move.new_policy}, "policyName")
    except AmapiNotFound:
        return False
    return True


def _undo(patched: list[PolicyUpdate], moved: list[DeviceMove],
          door: AmapiDoor | None = None) -> None:
    door = door or google()
    if not _keep_lease(force=True):
        # Someone newer pushed the space since: restoring our "before" would revert their work.
        logs.log(logging.ERROR, "a failed push was not undone: its lease was taken over",
                 policies=[u.name for u in patched], devices=len(moved))
        return
    # What cannot be put back is recorded as it is in AMAPI, so the next push sees the
    # difference and repairs it instead of trusting a store that no longer tells the truth.
    stranded = {move.old_policy for move in moved}  # never delete what devices return to
    for move in reversed(moved):
        try:
            door.patch_device(move.device_name, {"policyName": move.old_policy}, "policyName")
        except AmapiError:
            logs.log(logging.ERROR, "could not move a device back after a failed push",
                     device=move.device_name, policy=move.old_policy)
            devices.put(move.device_name, {"policyName": move.new_policy})
            stranded.add(move.new_policy)
    for update in reversed(patched):
        if update.previous is None:
            _delete_created(door, update, stranded)
            continue
        try:
            door.patch_policy(update.name, update.previous["policy"])
        except AmapiError:
            logs.log(logging.ERROR, "could not restore a policy after a failed push",
                     policy=update.name)
            effective_policies.put_many({update.key: {**update.previous, "fingerprint": None}})


def _delete_created(door: AmapiDoor, update: PolicyUpdate, stranded: set[str]) -> None:
    """Delete a policy the failed push created, unless a device is still on it.

    Called only while the lease is held: no other push can have started using it meanwhile.
    """
    if update.name in stranded:
        return  # deleting a device's policy would factory-reset it; the next push repairs it
    try:
        door.delete_policy(update.name)
    except AmapiNotFound:
        pass
    except AmapiError:
        # Harmless: no device uses it and its record was never stored; AMAPI reaps it.
        logs.log(logging.WARNING, "could not delete a policy a failed push created",
                 policy=update.name)


def record(plan: Plan) -> None:
    """Store what was pushed: effective policies and the devices' assignments."""
    effective_policies.put_many({u.key: u.record
                                 for u in plan.updates + plan.rekeys + plan.restamped})
    for move in plan.moves:
        devices.put(move.device_name, {"effectivePolicy": move.new_key,
                                       "policyName": move.new_policy})


@dataclass
class Pushed:
    """What a change did: the plan, and the rollouts that push it when it was too large to
    push inline (empty when everything was pushed before the reply)."""

    plan: Plan
    rollouts: list[dict[str, Any]]


Store = Callable[[Callable[[Any], None] | None], None]


def apply_change(kind: str, space: str, before: Stored | None, after: Stored | None,
                 store: Store, inputs: SpaceInputs, trigger: dict[str, Any]) -> Pushed:
    """Push one change of a configuration, app, Wi-Fi or VPN, then `store` it.

    The caller holds the leases of the affected spaces (`serialized`) since before it read
    `before` and `inputs`, the space's inputs with the change applied. The spaces the resource is
    delegated to (before or after the change) are pushed too. `store(also)` writes the resource
    itself (guarded by the version read), with whatever `also` adds to the same atomic write.

    A plan within the inline limit is pushed first; if storing then fails, the push is undone,
    so the caller sees a clean failure and AMAPI keeps what it had. A larger plan is stored
    with its rollouts in one write and pushed by the rollout worker.
    """
    from shared.policy import rollouts

    changed = after if after is not None else before
    assert changed is not None
    affected = affected_spaces(space, before, after)
    with serialized(affected):
        plans, left_behind = _plans(kind, space, before, after, affected, inputs)
        plan = _merged(plans)
        staged: list[dict[str, Any]] = []
        if plan.amapi_calls > rollouts.inline_limit():
            now = utcnow()

            def with_rollouts(batch: Any) -> None:
                for target, (part, target_inputs) in sorted(plans.items()):
                    if part.amapi_calls:
                        staged.append(rollouts.stage(batch, target, part, target_inputs,
                                                     trigger, now))
                stored_rollouts.stage_replanned(batch, left_behind)

            store(with_rollouts)
            effective_policies.put_many({u.key: u.record for u in plan.restamped})
            rollouts.announce([r["id"] for r in staged])
        else:
            execute(plan)
            try:
                store(None)
            except BaseException:
                _undo(plan.policies, plan.moves)
                raise
            record(plan)
            stored_rollouts.replanned(left_behind)
    logs.log(logging.INFO, "configuration change pushed", kind=kind, resourceId=changed.id,
             spaces=sorted(affected), policiesPatched=len(plan.policies),
             devicesMoved=len(plan.moves), unchanged=plan.unchanged,
             rollouts=[r["id"] for r in staged])
    return Pushed(plan, staged)


def stage_change(space: str, rollout_id: str, plan: dict[str, Any], trigger: dict[str, Any],
                 resource: dict[str, Any], store: Store) -> dict[str, Any]:
    """Store a staged change (`store(also)` writes it beside its resource) with the rollout
    `rollout_id` that stages it, then start that rollout; returns the rollout.

    The caller holds the space's lease since before it read the resource. Nothing is pushed
    here: the rollout's first pass moves the first stage's devices.
    """
    from shared.policy import rollouts, staged_rollouts

    with serialized([space]):
        left_behind, staged = stored_rollouts.space_marks([space])
        staged_rollouts.refuse_while_staged(staged)
        now = utcnow()
        created: dict[str, Any] = {}

        def with_rollout(batch: Any) -> None:
            created.update(staged_rollouts.stage(batch, rollout_id, space, plan, trigger,
                                                 resource, now))
            stored_rollouts.stage_replanned(batch, left_behind)  # it plans the whole space

        store(with_rollout)
    rollouts.announce([rollout_id])
    logs.log(logging.INFO, "configuration change staged", resourceId=resource["id"],
             space=space, rolloutId=rollout_id, stages=len(plan["stages"]))
    return created


def affected_spaces(space: str, *resources: Stored | dict[str, Any] | None) -> set[str]:
    """The spaces whose devices a change of these versions of a resource can reach."""
    affected = {space}
    for resource in resources:
        data = resource.data if isinstance(resource, Stored) else resource
        if data is not None:
            affected |= set(data.get("delegatedSpaces") or [])
    return affected


def _plans(kind: str, space: str, before: Stored | None, after: Stored | None,
           affected: set[str], inputs: SpaceInputs
           ) -> tuple[dict[str, tuple[Plan, SpaceInputs]], set[str]]:
    """Each affected space's plan, with the inputs it was planned from, and the spaces a
    stopped rollout left behind: those are planned whole, whatever the change."""
    changed = after if after is not None else before
    assert changed is not None
    left_behind = stored_rollouts.needing_replan(sorted(affected))
    plans: dict[str, tuple[Plan, SpaceInputs]] = {}
    for target in sorted(affected):
        seen_before = before if reaches(before, target) else None
        seen_after = after if reaches(after, target) else None
        target_inputs = inputs if target == space else with_change(
            load_space(target), kind, seen_before, seen_after)
        scope = push_plan.change_scope(seen_before, seen_after)
        input_ids = [f"{kind}:{input_key(kind, changed)}"]
        if kind == "app":
            # A pinned or VPN app reaches devices through its configurations even when the
            # catalog distributes it to nobody.
            users = push_plan.app_users(input_key(kind, changed), target_inputs)
            input_ids += users
            if scope == "nothing" and users:
                scope = "content"
        if scope == "assignment" or target in left_behind:
            plans[target] = (plan_assignment_change(target, target_inputs), target_inputs)
        elif scope == "content":
            plans[target] = (plan_content_change(target, target_inputs, *input_ids),
                             target_inputs)
    return plans, left_behind


def _merged(plans: dict[str, tuple[Plan, SpaceInputs]]) -> Plan:
    """One plan with the calls of every space's."""
    plan = Plan()
    for part, _ in plans.values():
        plan.extend(part)
    return plan


def assign_device(device: dict[str, Any], space: str) -> dict[str, Any]:
    """Move one vetted device onto its effective policy (upserted first); returns the fields
    the inventory records: `effectivePolicy` (key, or None for the holding policy) and
    `policyName`. The caller holds the space's lease until it has recorded them, so that the
    next push of the space counts the device where it is."""
    with serialized([space]):
        return _assign(device, space, load_space(space))


def _assign(device: dict[str, Any], space: str, inputs: SpaceInputs) -> dict[str, Any]:
    plan, fields = _assignment(device, space, inputs)
    for name in plan.holding:
        amapi().patch_policy(name, holding_policy())
    for update in plan.updates:
        update.record["version"] = amapi().patch_policy(update.name, update.policy).get(
            "version")
        effective_policies.put_many({update.key: update.record})
    for move in plan.moves:
        with contextlib.suppress(AmapiNotFound):  # deleted meanwhile: its DELETED report follows
            amapi().patch_device(move.device_name, {"policyName": move.new_policy},
                                 "policyName")
    return fields


def _assignment(device: dict[str, Any], space: str,
                inputs: SpaceInputs) -> tuple[Plan, dict[str, Any]]:
    """The calls that put one vetted device on its effective policy (nothing is written), and
    the fields the inventory records once they are made."""
    choice = _choice(device, inputs)
    plan = Plan()
    group: str | None
    if choice.key is None:
        group, target = None, holding_policy_name(enterprise_name(), space)
        if device.get("policyName") == target:
            # Enrolled onto it and staying: the policy is there (AMAPI applied it), no call.
            return plan, {"effectivePolicy": None, "policyName": target}
        plan.holding.append(target)
    else:
        group, target, upsert = _group_for(device, space, choice, inputs)
        if upsert is not None:
            plan.updates.append(upsert)
    plan.moves.append(DeviceMove(device["name"], group, target,
                                 str(device.get("policyName") or "")))
    return plan, {"effectivePolicy": group, "policyName": target}


def _group_for(device: dict[str, Any], space: str, choice: PolicyChoice,
               inputs: SpaceInputs) -> tuple[str, str, PolicyUpdate | None]:
    """The group (and its policy) a device with inputs `choice` joins, and the upsert of its
    policy unless it is in use with the same content."""
    assert choice.key is not None
    policy = compile_choice(choice, inputs)
    from shared.policy.rollouts import pending_rekey

    # A group a rollout is about to re-key keeps its inputs only until then: nobody joins it.
    groups = {g: r for g, r in effective_policies.with_choice(space, choice.key).items()
              if pending_rekey(r) is None}
    fresh = policy_record(enterprise_name(), space, choice, policy, utcnow())
    for group, stored in sorted(groups.items()):
        if (stored.get("fingerprint") == fresh["fingerprint"] and stored.get("version")
                and devices.others_on_policy(group, device["name"])):
            # A policy no device uses may have been deleted by AMAPI (after 7 days), and a
            # device moved onto a missing policy is factory-reset: only one in use, with the
            # same content, is trusted to be there as pushed.
            return group, str(stored["name"]), None
    # A canary's new group is named after its rollout, which deletes it on a rollback.
    group = min(groups) if groups else (f"{choice.variant}-{new_id()}" if choice.variant
                                        else new_id())
    entry = policy_record(enterprise_name(), space, choice, policy, utcnow(), group)
    if groups:
        entry["name"] = groups[group]["name"]
    return group, str(entry["name"]), PolicyUpdate(group, str(entry["name"]), policy, entry,
                                                   groups.get(group))


def relabel(device: dict[str, Any], labels: list[str], vetted: bool) -> dict[str, Any]:
    """Store a device's new labels, moving it first when they change its effective policy.

    Under the space's lease, so that a concurrent configuration change plans with the labels
    and the policy the device really has; returns the fields written.
    """
    space = str(device.get("space") or "global")
    with serialized([space]):
        device = devices.get(device["name"]) or device  # as the last push left it
        changes: dict[str, Any] = {"labels": labels}
        if vetted:
            view = {**device, "labels": labels}
            inputs = load_space(space)
            if _choice(view, inputs).key != _inputs_of_group(device.get("effectivePolicy")):
                changes.update(_assign(view, space, inputs))
        devices.put(device["name"], changes)
    return changes


def plan_relabel(device: dict[str, Any], labels: list[str],
                 vetted: bool) -> tuple[Plan, SpaceInputs]:
    """The calls `relabel` would make (nothing is written, no lease is taken), and the space's
    inputs they were planned from."""
    space = str(device.get("space") or "global")
    view = {**device, "labels": labels}
    inputs = load_space(space)
    if not vetted or _choice(view, inputs).key == _inputs_of_group(
            device.get("effectivePolicy")):
        return Plan(), inputs
    return _assignment(view, space, inputs)[0], inputs


def plan_change(kind: str, space: str, before: Stored | None, after: Stored | None,
                inputs: SpaceInputs) -> Plan:
    """The calls `apply_change` would make for this change, in every space it reaches
    (nothing is written, no lease is taken: `?validateOnly=true`)."""
    affected = affected_spaces(space, before, after)
    return _merged(_plans(kind, space, before, after, affected, inputs)[0])


def _choice(device: dict[str, Any], inputs: SpaceInputs) -> PolicyChoice:
    """The inputs of a device's policy; a canary of a staged rollout stays on the staged change
    while the change still alters its policy."""
    if inputs.staged_by is None or not device.get("effectivePolicy"):
        return choose(device, inputs)
    from shared.policy import staging

    groups = effective_policies.get_many([str(device["effectivePolicy"])])
    return staging.staged_choices([device], inputs, [], -1, groups)[device["name"]]


def _inputs_of_group(group: str | None) -> str | None:
    """The inputs key of the group a device is recorded in (None: the holding policy)."""
    from shared.policy.rollouts import pending_rekey

    if not group:
        return None
    record = effective_policies.get_many([group]).get(group)
    if not record:
        return ""
    return pending_rekey(record) or push_plan.choice_key_of(record)


def repush_if_behind(key: str, space: str, applied_version: Any) -> Any:
    """Push a device's effective policy again when the device applies an older version.

    Under the space's lease, from the record as the last push left it (a record read before
    a concurrent push would restore content that push replaced); returns the new version, or
    None when nothing was pushed.
    """
    with serialized([space]):
        record = effective_policies.get_many([key]).get(key)
        if not record or str(applied_version) == str(record.get("version")):
            return None
        pushed = amapi().patch_policy(record["name"], record["policy"])
        effective_policies.put_many({key: {**record, "version": pushed.get("version")}})
        return pushed.get("version")

