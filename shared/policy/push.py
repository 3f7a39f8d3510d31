"""Pushing configuration changes to AMAPI with the fewest calls that leave every device right.

A change to what a configuration says recompiles only the effective policies built from it and
patches those whose compilation changed (one `policies.patch` per distinct policy, none when
nothing changed). A change to whom it applies (distribution, priority, creation, deletion)
re-resolves the space's devices and moves only those whose policy changes (`devices.patch`).
Everything is pushed before the change is stored; if AMAPI fails half-way, what was already
pushed is put back and nothing is stored.

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
from dataclasses import dataclass, field, replace
from typing import Any

from shared import errors, logs
from shared.amapi.client import amapi
from shared.amapi.errors import AmapiError, AmapiNotFound
from shared.clock import utcnow
from shared.enterprise import enterprise_name
from shared.policy.compiler import PolicyInputError, PolicyInputs, compile_policy
from shared.policy.compiler import policy_fingerprint as fingerprint
from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose, policy_name
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.store import configurations, devices, effective_policies, push_leases
from shared.store.keys import new_id
from shared.store.versioned import Stored

_FIELDS = {"cosu": "configs", "app": "apps", "wifi": "wifi", "vpn": "vpn"}

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


def _check_lease() -> None:
    if not _keep_lease():
        raise LeaseLost("the push took too long and was interrupted: retry")


@dataclass
class PolicyUpdate:
    """One policy to create or patch, and what it was before (for undoing)."""

    key: str
    name: str
    policy: dict[str, Any]
    record: dict[str, Any]
    previous: dict[str, Any] | None


@dataclass
class DeviceMove:
    """One device to put on another policy."""

    device_name: str
    new_key: str | None
    new_policy: str
    old_policy: str


@dataclass
class Plan:
    """The AMAPI calls a change needs, and the records to store once they succeeded."""

    updates: list[PolicyUpdate] = field(default_factory=list)
    moves: list[DeviceMove] = field(default_factory=list)
    holding: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def amapi_calls(self) -> int:
        """How many AMAPI calls executing the plan takes."""
        return len(self.updates) + len(self.moves) + len(self.holding)


def _reaching(collection: str, space: str) -> list[Stored]:
    # A space's own resources win over delegated ones with the same key (an app's package).
    return (configurations.delegated_to(collection, space)
            + configurations.in_space(collection, space))


def load_space(space: str) -> SpaceInputs:
    """Every configuration, app, Wi-Fi and VPN of a space or delegated to it (eight queries)."""
    return SpaceInputs(
        configs={s.id: s for s in _reaching(configurations.COSU, space)},
        apps={s.data["packageName"]: s for s in _reaching(configurations.APPS, space)},
        wifi={s.id: s for s in _reaching(configurations.WIFI, space)},
        vpn={s.id: s for s in _reaching(configurations.VPN, space)})


def reaches(resource: Stored | None, space: str) -> bool:
    """True when `resource` belongs to `space` or is delegated to it."""
    return resource is not None and (resource.data.get("space") == space
                                     or space in (resource.data.get("delegatedSpaces") or []))


def input_key(kind: str, resource: Stored) -> str:
    """How policies refer to a resource: apps by package name, the others by id."""
    return str(resource.data["packageName"]) if kind == "app" else resource.id


def with_change(inputs: SpaceInputs, kind: str, before: Stored | None,
                after: Stored | None) -> SpaceInputs:
    """`inputs` with one resource added, replaced or (when `after` is None) removed."""
    current = dict(getattr(inputs, _FIELDS[kind]))
    if before is not None:
        current.pop(input_key(kind, before), None)
    if after is not None:
        current[input_key(kind, after)] = after
    return replace(inputs, **{_FIELDS[kind]: current})


def compile_choice(choice: PolicyChoice, inputs: SpaceInputs) -> dict[str, Any]:
    """The AMAPI policy of one choice; a 400 naming the field when inputs cannot compile."""
    catalog = {package: app.data for package, app in inputs.apps.items()}
    config = inputs.configs[choice.config_id].data if choice.config_id else None
    try:
        return compile_policy(PolicyInputs(
            config=config, apps=[catalog[a] for a in choice.app_ids], catalog=catalog,
            wifi=[{"id": w, **inputs.wifi[w].data} for w in choice.wifi_ids],
            vpn=inputs.vpn[choice.vpn_id].data if choice.vpn_id else None))
    except PolicyInputError as exc:
        raise errors.InvalidArgument.field(exc.field, exc.reason) from None


def _record(space: str, choice: PolicyChoice, policy: dict[str, Any]) -> dict[str, Any]:
    return {"name": policy_name(enterprise_name(), str(choice.key)), "space": space,
            "inputIds": choice.input_ids,
            "choice": {"configId": choice.config_id, "appIds": list(choice.app_ids),
                       "wifiIds": list(choice.wifi_ids), "vpnId": choice.vpn_id},
            "fingerprint": fingerprint(policy), "policy": policy, "updateTime": utcnow()}


def _update_if_changed(plan: Plan, space: str, choice: PolicyChoice, inputs: SpaceInputs,
                       previous: dict[str, Any] | None, force: bool = False) -> None:
    policy = compile_choice(choice, inputs)
    record = _record(space, choice, policy)
    if (not force and previous is not None
            and previous.get("fingerprint") == record["fingerprint"]):
        plan.unchanged += 1
        return
    plan.updates.append(PolicyUpdate(str(choice.key), record["name"], policy, record, previous))


def plan_content_change(space: str, inputs: SpaceInputs, input_id: str) -> Plan:
    """Recompile the effective policies built from `input_id`; no device moves."""
    plan = Plan()
    for key, previous in sorted(effective_policies.using(input_id).items()):
        if previous.get("space") != space:
            continue
        stored = previous["choice"]
        choice = PolicyChoice(stored["configId"], tuple(stored["appIds"]),
                              tuple(stored["wifiIds"]), stored["vpnId"])
        if choice.key != key:
            continue
        _update_if_changed(plan, space, choice, inputs, previous)
    return plan


def plan_assignment_change(space: str, inputs: SpaceInputs) -> Plan:
    """Re-resolve every managed device of the space; patch new policies, move changed devices."""
    plan = Plan()
    managed = devices.managed_in_space(space)
    choices = {device["name"]: choose(device, inputs) for device in managed}
    enterprise = enterprise_name()
    holding = holding_policy_name(enterprise, space)
    for device in managed:
        key = choices[device["name"]].key
        target = policy_name(enterprise, key) if key else holding
        if device.get("effectivePolicy") == key and device.get("policyName") == target:
            continue
        old_key = device.get("effectivePolicy")
        plan.moves.append(DeviceMove(
            device_name=device["name"], new_key=key, new_policy=target,
            old_policy=device.get("policyName")
            or (policy_name(enterprise, old_key) if old_key else holding)))
    # A policy devices are about to be moved onto is always upserted: AMAPI deletes policies
    # no device used for 7 days, and a device moved onto a missing policy is factory-reset.
    targeted = {move.new_key for move in plan.moves}
    if None in targeted:
        plan.holding.append(holding)
    distinct = {c.key: c for c in choices.values() if c.key is not None}
    previous = effective_policies.get_many(list(distinct))
    for key, choice in sorted(distinct.items()):
        _update_if_changed(plan, space, choice, inputs, previous.get(key),
                           force=key in targeted)
    return plan


def execute(plan: Plan) -> None:
    """Make the AMAPI calls of `plan`; on failure undo what was done and re-raise."""
    patched: list[PolicyUpdate] = []
    moved: list[DeviceMove] = []
    try:
        for name in plan.holding:
            amapi().patch_policy(name, holding_policy())
        for update in plan.updates:
            _check_lease()
            pushed = amapi().patch_policy(update.name, update.policy)
            update.record["version"] = pushed.get("version")
            patched.append(update)
        for move in plan.moves:
            _check_lease()
            try:
                amapi().patch_device(move.device_name, {"policyName": move.new_policy},
                                     "policyName")
            except AmapiNotFound:
                continue  # deleted in AMAPI meanwhile; its DELETED report will follow
            moved.append(move)
    except (AmapiError, LeaseLost):
        _undo(patched, moved)
        raise


def _undo(patched: list[PolicyUpdate], moved: list[DeviceMove]) -> None:
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
            amapi().patch_device(move.device_name, {"policyName": move.old_policy},
                                 "policyName")
        except AmapiError:
            logs.log(logging.ERROR, "could not move a device back after a failed push",
                     device=move.device_name, policy=move.old_policy)
            devices.put(move.device_name, {"policyName": move.new_policy})
            stranded.add(move.new_policy)
    for update in reversed(patched):
        if update.previous is None:
            _delete_created(update, stranded)
            continue
        try:
            amapi().patch_policy(update.name, update.previous["policy"])
        except AmapiError:
            logs.log(logging.ERROR, "could not restore a policy after a failed push",
                     policy=update.name)
            effective_policies.put_many({update.key: {**update.previous, "fingerprint": None}})


def _delete_created(update: PolicyUpdate, stranded: set[str]) -> None:
    """Delete a policy the failed push created, unless a device is still on it.

    Called only while the lease is held: no other push can have started using it meanwhile.
    """
    if update.name in stranded:
        return  # deleting a device's policy would factory-reset it; the next push repairs it
    try:
        amapi().delete_policy(update.name)
    except AmapiNotFound:
        pass
    except AmapiError:
        # Harmless: no device uses it and its record was never stored; AMAPI reaps it.
        logs.log(logging.WARNING, "could not delete a policy a failed push created",
                 policy=update.name)


def record(plan: Plan) -> None:
    """Store what was pushed: effective policies and the devices' assignments."""
    effective_policies.put_many({u.key: u.record for u in plan.updates})
    for move in plan.moves:
        devices.put(move.device_name, {"effectivePolicy": move.new_key,
                                       "policyName": move.new_policy})


def apply_change(kind: str, space: str, before: Stored | None, after: Stored | None,
                 store: Callable[[], None], inputs: SpaceInputs) -> Plan:
    """Push one change of a configuration, app, Wi-Fi or VPN, then `store()` it.

    The caller holds the leases of the affected spaces (`serialized`) since before it read
    `before` and `inputs`, the space's inputs with the change applied. The spaces the resource is
    delegated to (before or after the change) are pushed too. `store` writes the resource
    itself (guarded by the version read); if it fails, the push is undone, so the caller sees a
    clean failure and AMAPI keeps what it had.
    """
    changed = after if after is not None else before
    assert changed is not None
    affected = affected_spaces(space, before, after)
    with serialized(affected):
        plan = _plan_and_push(kind, space, before, after, changed, affected, inputs)
        try:
            store()
        except BaseException:
            _undo(plan.updates, plan.moves)
            raise
        record(plan)
    logs.log(logging.INFO, "configuration change pushed", kind=kind, resourceId=changed.id,
             spaces=sorted(affected), policiesPatched=len(plan.updates),
             devicesMoved=len(plan.moves), unchanged=plan.unchanged)
    return plan


def affected_spaces(space: str, *resources: Stored | dict[str, Any] | None) -> set[str]:
    """The spaces whose devices a change of these versions of a resource can reach."""
    affected = {space}
    for resource in resources:
        data = resource.data if isinstance(resource, Stored) else resource
        if data is not None:
            affected |= set(data.get("delegatedSpaces") or [])
    return affected


def _plan_and_push(kind: str, space: str, before: Stored | None, after: Stored | None,
                   changed: Stored, affected: set[str], inputs: SpaceInputs) -> Plan:
    plan = Plan()
    for target in sorted(affected):
        seen_before = before if reaches(before, target) else None
        seen_after = after if reaches(after, target) else None
        target_inputs = inputs if target == space else with_change(
            load_space(target), kind, seen_before, seen_after)
        part = _plan_for(kind, target, target_inputs, seen_before, seen_after, changed)
        plan.updates += part.updates
        plan.moves += part.moves
        plan.holding += part.holding
        plan.unchanged += part.unchanged
    execute(plan)
    return plan


def _plan_for(kind: str, space: str, inputs: SpaceInputs, before: Stored | None,
              after: Stored | None, changed: Stored) -> Plan:
    """What one change costs in one space: nothing, a recompilation, or a re-resolution."""
    if before is None and after is None:
        return Plan()
    reach_changed = (before is None or after is None
                     or before.data.get("distribution") != after.data.get("distribution")
                     or before.data.get("priority") != after.data.get("priority")
                     or before.data.get("app") != after.data.get("app"))
    reaches_nobody = all(((s.data.get("distribution") or {}).get("mode", "NONE") == "NONE")
                         for s in (before, after) if s is not None)
    if reaches_nobody:
        return Plan()
    if reach_changed:
        return plan_assignment_change(space, inputs)
    return plan_content_change(space, inputs, f"{kind}:{input_key(kind, changed)}")


def assign_device(device: dict[str, Any], space: str) -> dict[str, Any]:
    """Move one vetted device onto its effective policy (upserted first); returns the fields
    the inventory records: `effectivePolicy` (key, or None for the holding policy) and
    `policyName`. The caller holds the space's lease until it has recorded them, so that the
    next push of the space counts the device where it is."""
    with serialized([space]):
        return _assign(device, space, load_space(space))


def _assign(device: dict[str, Any], space: str, inputs: SpaceInputs) -> dict[str, Any]:
    choice = choose(device, inputs)
    enterprise = enterprise_name()
    if choice.key is None:
        target = holding_policy_name(enterprise, space)
        amapi().patch_policy(target, holding_policy())
    else:
        policy = compile_choice(choice, inputs)
        entry = _record(space, choice, policy)
        entry["version"] = amapi().patch_policy(entry["name"], policy).get("version")
        effective_policies.put_many({choice.key: entry})
        target = entry["name"]
    with contextlib.suppress(AmapiNotFound):  # deleted meanwhile: its DELETED report follows
        amapi().patch_device(device["name"], {"policyName": target}, "policyName")
    return {"effectivePolicy": choice.key, "policyName": target}


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
            if choose(view, inputs).key != device.get("effectivePolicy"):
                changes.update(_assign(view, space, inputs))
        devices.put(device["name"], changes)
    return changes


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

