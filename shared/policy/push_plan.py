"""The push planner (pure): from stored devices, stored effective policies and a space's inputs
to the AMAPI calls a change needs.

An effective policy is a group of devices with one AMAPI policy, an opaque and stable name, and
the inputs (COSU configuration, apps, Wi-Fi, VPN) it currently compiles from. A change is
planned group by group: when every device of a group goes to the same new inputs, the group's
policy is patched in place and re-keyed, and no device moves; when a group splits, its largest
part keeps the policy and only the other parts move, onto a group that already has their
inputs or onto a new one.

Nothing here reads Firestore or calls AMAPI: `push` loads what a plan needs, calls a planner,
then executes the plan. That keeps the call-count promises checkable by unit tests.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from shared import errors
from shared.policy.compiler import PolicyInputError, PolicyInputs, compile_policy
from shared.policy.compiler import policy_fingerprint as fingerprint
from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose, policy_name
from shared.policy.holding_policy import holding_policy_name
from shared.store.keys import new_id
from shared.store.versioned import Stored

_FIELDS = {"cosu": "configs", "app": "apps", "wifi": "wifi", "vpn": "vpn"}


@dataclass
class PolicyUpdate:
    """One group's policy to create or patch, and what it was before (for undoing)."""

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
    """The AMAPI calls a change needs, in the order they are made, and the records to store.

    `updates` (new groups, content changes) go first, then the holding policies, then the
    `moves`, then the `rekeys`: groups some of whose devices leave them are patched to their new
    inputs only once those devices are gone, so no device ever runs a policy meant for others.
    `restamped` are groups re-keyed to inputs that compile to what they already have: their
    records change, AMAPI does not.
    """

    updates: list[PolicyUpdate] = field(default_factory=list)
    moves: list[DeviceMove] = field(default_factory=list)
    holding: list[str] = field(default_factory=list)
    rekeys: list[PolicyUpdate] = field(default_factory=list)
    restamped: list[PolicyUpdate] = field(default_factory=list)
    unchanged: int = 0

    @property
    def amapi_calls(self) -> int:
        """How many AMAPI calls executing the plan takes."""
        return len(self.updates) + len(self.moves) + len(self.holding) + len(self.rekeys)

    @property
    def policies(self) -> list[PolicyUpdate]:
        """Every policy the plan patches, in order."""
        return self.updates + self.rekeys

    def extend(self, other: Plan) -> None:
        """Add the calls of another plan (another space's part of the same change)."""
        self.updates += other.updates
        self.moves += other.moves
        self.holding += other.holding
        self.rekeys += other.rekeys
        self.restamped += other.restamped
        self.unchanged += other.unchanged


def reaches(resource: Stored | None, space: str) -> bool:
    """True when `resource` belongs to `space` or is delegated to it."""
    return resource is not None and (resource.data.get("space") == space
                                     or space in (resource.data.get("delegatedSpaces") or []))


def kiosk_packages(config: Mapping[str, Any]) -> list[str]:
    """The apps a COSU configuration shows: the pinned one and a multi-app kiosk's others."""
    apps = [config.get("app"), *(config.get("additionalKioskApps") or ())]
    return [str(app["packageName"]) for app in apps if app]


def app_users(package: str, inputs: SpaceInputs) -> list[str]:
    """Input ids of what compiles an app into policies without distributing it: the COSU
    configurations showing it and the always-on VPN configurations running it."""
    return ([f"cosu:{config_id}" for config_id, config in sorted(inputs.configs.items())
             if package in kiosk_packages(config.data)]
            + [f"vpn:{vpn_id}" for vpn_id, vpn in sorted(inputs.vpn.items())
               if vpn.data.get("packageName") == package])


def input_key(kind: str, resource: Stored) -> str:
    """How policies refer to a resource: apps by package name, the others by id."""
    return str(resource.data["packageName"]) if kind == "app" else resource.id


def with_change(inputs: SpaceInputs, kind: str, before: Stored | None,
                after: Stored | None) -> SpaceInputs:
    """`inputs` with one resource added, replaced or (when `after` is None) removed; a staged
    variant of the inputs gets the same change."""
    current = dict(getattr(inputs, _FIELDS[kind]))
    if before is not None:
        current.pop(input_key(kind, before), None)
    if after is not None:
        current[input_key(kind, after)] = after
    changes: dict[str, Any] = {_FIELDS[kind]: current}
    if inputs.staged is not None:
        changes["staged"] = with_change(inputs.staged, kind, before, after)
    return replace(inputs, **changes)


def compile_choice(choice: PolicyChoice, inputs: SpaceInputs) -> dict[str, Any]:
    """The AMAPI policy of one choice; a 400 naming the field when inputs cannot compile."""
    if choice.variant is not None and inputs.staged_by == choice.variant:
        assert inputs.staged is not None
        inputs = inputs.staged
    catalog = {package: app.data for package, app in inputs.apps.items()}
    config = inputs.configs[choice.config_id].data if choice.config_id else None
    try:
        return compile_policy(PolicyInputs(
            config=config, apps=[catalog[a] for a in choice.app_ids], catalog=catalog,
            wifi=[{"id": w, **inputs.wifi[w].data} for w in choice.wifi_ids],
            vpn=inputs.vpn[choice.vpn_id].data if choice.vpn_id else None))
    except PolicyInputError as exc:
        raise errors.InvalidArgument.field(exc.field, exc.reason) from None


def policy_record(enterprise: str, space: str, choice: PolicyChoice, policy: dict[str, Any],
                  now: datetime.datetime, group: str | None = None) -> dict[str, Any]:
    """The record of group `group` (a new one's name derives from its id) once `policy`, the
    compilation of `choice`, is pushed."""
    assert choice.key is not None
    return {"name": policy_name(enterprise, group or choice.key), "space": space,
            "choiceKey": choice.key, "inputIds": choice.input_ids,
            "choice": {"configId": choice.config_id, "appIds": list(choice.app_ids),
                       "wifiIds": list(choice.wifi_ids), "vpnId": choice.vpn_id,
                       **({"variant": choice.variant} if choice.variant else {})},
            "fingerprint": fingerprint(policy), "policy": policy, "updateTime": now}


def stored_choice(record: Mapping[str, Any]) -> PolicyChoice:
    """The inputs a stored group record compiles from."""
    stored = record.get("choice") or {}
    return PolicyChoice(stored.get("configId"), tuple(stored.get("appIds") or ()),
                        tuple(stored.get("wifiIds") or ()), stored.get("vpnId"),
                        stored.get("variant"))


def choice_key_of(record: Mapping[str, Any]) -> str | None:
    """A stored group's inputs key."""
    return record.get("choiceKey") or stored_choice(record).key


@dataclass(frozen=True)
class _Context:
    enterprise: str
    space: str
    inputs: SpaceInputs
    now: datetime.datetime


def _compiled(at: _Context, group: str, choice: PolicyChoice,
              previous: Mapping[str, Any] | None) -> PolicyUpdate:
    policy = compile_choice(choice, at.inputs)
    record = policy_record(at.enterprise, at.space, choice, policy, at.now, group)
    if previous is not None and previous.get("name"):
        record["name"] = previous["name"]  # a group keeps its policy whatever its inputs
    return PolicyUpdate(group, record["name"], policy, record,
                        dict(previous) if previous is not None else None)


def _same_content(update: PolicyUpdate) -> bool:
    return (update.previous is not None
            and update.previous.get("fingerprint") == update.record["fingerprint"])


def plan_content_change(space: str, inputs: SpaceInputs, using: Mapping[str, dict[str, Any]],
                        *, enterprise: str, now: datetime.datetime) -> Plan:
    """Recompile the stored groups `using` a changed input; no device moves.

    `using` maps group ids to their stored records (those built from the input).
    """
    plan = Plan()
    at = _Context(enterprise, space, inputs, now)
    for group, previous in sorted(using.items()):
        if previous.get("space") != space:
            continue
        update = _compiled(at, group, stored_choice(previous), previous)
        if _same_content(update):
            plan.unchanged += 1
        else:
            plan.updates.append(update)
    return plan


def choices_of(managed: Iterable[dict[str, Any]], inputs: SpaceInputs) -> dict[str, PolicyChoice]:
    """Each device's effective-policy choice, by device name."""
    return {device["name"]: choose(device, inputs) for device in managed}


def _keeper(parts: Counter[str], current: str | None) -> str:
    """The part of a group that keeps its policy: the largest (ties: the group's own inputs)."""
    return max(parts, key=lambda key: (parts[key], key == current, key))


def _policy_of(group: str | None, groups: Mapping[str, dict[str, Any]], enterprise: str,
               holding: str) -> str:
    if group is None:
        return holding
    return str(groups[group]["name"]) if group in groups else policy_name(enterprise, group)


def plan_assignment_change(space: str, inputs: SpaceInputs, managed: list[dict[str, Any]],
                           groups: Mapping[str, dict[str, Any]], *, enterprise: str,
                           now: datetime.datetime,
                           choices: Mapping[str, PolicyChoice] | None = None,
                           new_group: Callable[[], str] = new_id) -> Plan:
    """Re-resolve the space's managed devices group by group.

    `managed` are the devices as stored (`effectivePolicy` = their group, `policyName`),
    `groups` the space's stored group records by id; `choices` (from `choices_of`) saves
    resolving twice; `new_group` names the groups the plan creates.
    """
    at = _Context(enterprise, space, inputs, now)
    if choices is None:
        choices = choices_of(managed, inputs)
    holding = holding_policy_name(enterprise, space)
    by_key = {c.key: c for c in choices.values() if c.key is not None}

    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for device in managed:
        record = groups.get(device.get("effectivePolicy") or "")
        if record is not None and device.get("policyName", record["name"]) == record["name"]:
            members[device["effectivePolicy"]].append(device)
    in_place = {d["name"] for devices in members.values() for d in devices}

    kept: dict[str, tuple[str, int, bool]] = {}  # group -> (its key, devices staying, leavers)
    for owner, devices in members.items():
        parts = Counter(k for d in devices if (k := choices[d["name"]].key) is not None)
        if parts:
            key = _keeper(parts, choice_key_of(groups[owner]))
            kept[owner] = (key, parts[key], parts[key] < len(devices))

    target: dict[str, str] = {}  # inputs key -> the group devices with those inputs go to
    for owner, (key, _, leavers) in sorted(kept.items(), key=lambda g: (-g[1][1], g[0])):
        if leavers and key != choice_key_of(groups[owner]):
            continue  # re-keyed only once its leavers left: nobody joins it before that
        target.setdefault(key, owner)
    idle = sorted((g, choice_key_of(r)) for g, r in groups.items()
                  if g not in kept and r.get("space", space) == space)
    fresh: set[str] = set()

    plan = Plan()
    for device in managed:
        wanted = choices[device["name"]].key
        group: str | None = None
        current: str | None = device.get("effectivePolicy")
        if (wanted is not None and device["name"] in in_place
                and kept[str(current)][0] == wanted):
            continue  # its group keeps (or is re-keyed to) the device's inputs
        if wanted is not None:
            if wanted not in target:
                reusable = next((g for g, k in idle if k == wanted and g not in fresh), None)
                target[wanted] = reusable or new_group()
                fresh.add(target[wanted])
            group = target[wanted]
        destination = _policy_of(group, groups, enterprise, holding)
        if current == group and (device["name"] in in_place if group is not None
                                 else device.get("policyName", holding) == holding):
            continue
        plan.moves.append(DeviceMove(
            device_name=device["name"], new_key=group, new_policy=destination,
            old_policy=device.get("policyName")
            or _policy_of(current, groups, enterprise, holding)))

    if any(move.new_key is None for move in plan.moves):
        plan.holding.append(holding)
    for owner in sorted(fresh):
        # Always upserted: AMAPI deletes policies no device used for 7 days, and a device moved
        # onto a missing policy is factory-reset.
        key = next(k for k, g in target.items() if g == owner)
        plan.updates.append(_compiled(at, owner, by_key[key], groups.get(owner)))
    for owner, (key, _, leavers) in sorted(kept.items()):
        update = _compiled(at, owner, by_key[key], groups[owner])
        if _same_content(update):
            if key == choice_key_of(groups[owner]):
                plan.unchanged += 1
            else:
                # Re-keyed to inputs that compile to what AMAPI has: the version it applies.
                update.record["version"] = groups[owner].get("version")
                plan.restamped.append(update)
        elif leavers and key != choice_key_of(groups[owner]):
            plan.rekeys.append(update)
        else:
            plan.updates.append(update)
    return plan


def change_scope(before: Stored | None, after: Stored | None
                 ) -> Literal["nothing", "content", "assignment"]:
    """What one change costs in a space: nothing, recompiling the policies built from the
    resource (`content`), or re-resolving every device (`assignment`)."""
    if before is None and after is None:
        return "nothing"
    reaches_nobody = all(((s.data.get("distribution") or {}).get("mode", "NONE") == "NONE")
                         for s in (before, after) if s is not None)
    if reaches_nobody:
        return "nothing"
    if (before is None or after is None
            or before.data.get("distribution") != after.data.get("distribution")
            or before.data.get("priority") != after.data.get("priority")
            or before.data.get("app") != after.data.get("app")):
        return "assignment"
    return "content"
