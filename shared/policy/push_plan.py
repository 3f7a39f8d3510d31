"""The push planner (pure): from stored devices, stored effective policies and a space's inputs
to the AMAPI calls a change needs.

Nothing here reads Firestore or calls AMAPI: `push` loads what a plan needs, calls a planner,
then executes the plan. That keeps the call-count promises (one `policies.patch` per changed
policy whatever the number of devices, no move for a device already on its policy) checkable
by unit tests.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from shared import errors
from shared.policy.compiler import PolicyInputError, PolicyInputs, compile_policy
from shared.policy.compiler import policy_fingerprint as fingerprint
from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose, policy_name
from shared.policy.holding_policy import holding_policy_name
from shared.store.versioned import Stored

_FIELDS = {"cosu": "configs", "app": "apps", "wifi": "wifi", "vpn": "vpn"}


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

    def extend(self, other: Plan) -> None:
        """Add the calls of another plan (another space's part of the same change)."""
        self.updates += other.updates
        self.moves += other.moves
        self.holding += other.holding
        self.unchanged += other.unchanged


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


def policy_record(enterprise: str, space: str, choice: PolicyChoice, policy: dict[str, Any],
                  now: datetime.datetime) -> dict[str, Any]:
    """The effective-policy record stored once `policy` is pushed."""
    return {"name": policy_name(enterprise, str(choice.key)), "space": space,
            "inputIds": choice.input_ids,
            "choice": {"configId": choice.config_id, "appIds": list(choice.app_ids),
                       "wifiIds": list(choice.wifi_ids), "vpnId": choice.vpn_id},
            "fingerprint": fingerprint(policy), "policy": policy, "updateTime": now}


@dataclass(frozen=True)
class _Context:
    enterprise: str
    space: str
    inputs: SpaceInputs
    now: datetime.datetime


def _update_if_changed(plan: Plan, at: _Context, choice: PolicyChoice,
                       previous: dict[str, Any] | None, force: bool = False) -> None:
    policy = compile_choice(choice, at.inputs)
    record = policy_record(at.enterprise, at.space, choice, policy, at.now)
    if (not force and previous is not None
            and previous.get("fingerprint") == record["fingerprint"]):
        plan.unchanged += 1
        return
    plan.updates.append(PolicyUpdate(str(choice.key), record["name"], policy, record, previous))


def plan_content_change(space: str, inputs: SpaceInputs, using: Mapping[str, dict[str, Any]],
                        *, enterprise: str, now: datetime.datetime) -> Plan:
    """Recompile the stored effective policies `using` a changed input; no device moves.

    `using` maps effective-policy keys to their stored records (those built from the input).
    """
    plan = Plan()
    at = _Context(enterprise, space, inputs, now)
    for key, previous in sorted(using.items()):
        if previous.get("space") != space:
            continue
        stored = previous["choice"]
        choice = PolicyChoice(stored["configId"], tuple(stored["appIds"]),
                              tuple(stored["wifiIds"]), stored["vpnId"])
        if choice.key != key:
            continue
        _update_if_changed(plan, at, choice, previous)
    return plan


def choices_of(managed: Iterable[dict[str, Any]], inputs: SpaceInputs) -> dict[str, PolicyChoice]:
    """Each device's effective-policy choice, by device name."""
    return {device["name"]: choose(device, inputs) for device in managed}


def keys_of(choices: Mapping[str, PolicyChoice]) -> list[str]:
    """The distinct effective-policy keys the devices resolve to (whose records a plan needs)."""
    return sorted({c.key for c in choices.values() if c.key is not None})


def plan_assignment_change(space: str, inputs: SpaceInputs, managed: list[dict[str, Any]],
                           stored: Mapping[str, dict[str, Any]], *, enterprise: str,
                           now: datetime.datetime,
                           choices: Mapping[str, PolicyChoice] | None = None) -> Plan:
    """Re-resolve the space's managed devices; patch new policies, move changed devices.

    `managed` are the devices as stored (`effectivePolicy`, `policyName`), `stored` the stored
    records of the keys they resolve to; `choices` (from `choices_of`) saves resolving twice.
    """
    plan = Plan()
    at = _Context(enterprise, space, inputs, now)
    if choices is None:
        choices = choices_of(managed, inputs)
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
    for key, choice in sorted(distinct.items()):
        _update_if_changed(plan, at, choice, stored.get(key), force=key in targeted)
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
