"""Handing a device to another device user or space: its inventory record and its AMAPI policy.

Who a device belongs to decides its policy (distributions target users, and each space has its
own configurations and policies), so a change of owner re-resolves the device's effective policy
and moves it in AMAPI before the record is written, under the push leases of the spaces
involved: a configuration change pushed meanwhile plans with the owner the device really has.
"""

from __future__ import annotations

import logging
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.devices import inventory
from shared.enrollment.device_users import directory
from shared.enterprise import enterprise_name
from shared.policy import push
from shared.policy.holding_policy import holding_policy_name
from shared.policy.push_plan import DeviceMove, Plan
from shared.store import devices


def change_owner(device: dict[str, Any], body: dict[str, Any],
                 validate_only: bool = False) -> dict[str, Any]:
    """Give a device from `existing(…, ADMIN)` the `userName`, `space` (and `labels`) of
    `body`, moving it onto the policy it then gets. `validate_only`: what that would do, doing
    nothing. Returns the device (or the preview)."""
    old_space = str(device.get("space") or "global")
    new_space = str(body.get("space") or old_space)
    if new_space != old_space:
        roles.require(new_space, roles.ADMIN)
    owner = _owner(device, body, new_space)
    if validate_only:
        return _preview(device, owner, new_space, body.get("labels"))
    with push.serialized({old_space, new_space}):
        current = devices.get(device["name"]) or device  # as the last push left it
        view = _view(current, owner, new_space, body.get("labels"))
        changes: dict[str, Any] = {"userName": owner, "space": new_space,
                                   "labels": view["labels"]}
        if new_space != old_space:
            changes["effectivePolicy"] = None  # a group of the old space; set again below
        if _vetted(current):
            plan, _ = _plan(current, view)
            if plan.moves:
                changes.update(push.assign_device(view, new_space))
        devices.put(current["name"], changes)
    logs.log(logging.INFO, "device handed over", device=device["name"], userName=owner,
             space=new_space, fromSpace=old_space, policy=changes.get("policyName"))
    return inventory.get_device(device["id"])


def _owner(device: dict[str, Any], body: dict[str, Any], space: str) -> str | None:
    """The canonical userName the device gets; 400 unless it is a device user of `space`."""
    if "userName" in body:
        user = directory.get(space, body["userName"])
        if user is None:
            raise errors.InvalidArgument.field(
                "userName", f"{body['userName']!r} is not a device user of space {space!r}")
        return str(user["userName"])
    kept = device.get("userName")
    if kept is None or space == device.get("space"):
        return None if kept is None else str(kept)
    user = directory.get(space, str(kept))
    if user is None:
        raise errors.InvalidArgument.field(
            "userName", f"the device's user {kept!r} is not a device user of space {space!r}: "
                        "give the userName it gets there")
    return str(user["userName"])


def _vetted(device: dict[str, Any]) -> bool:
    """Whether the device is on its effective policy at all (not held, rejected or deleted)."""
    return ((device.get("enrollmentDecision") or {}).get("result") == "ALLOWED"
            and device.get("state") != "DELETED")


def _view(device: dict[str, Any], owner: str | None, space: str,
          labels: list[str] | None) -> dict[str, Any]:
    kept = device.get("labels") or []
    view = {**device, "userName": owner, "space": space,
            "labels": list(dict.fromkeys(kept if labels is None else labels))}
    if space != device.get("space"):
        # Another space's groups are its own: whatever it had, the device joins one there.
        view["effectivePolicy"] = None
    return view


def _plan(device: dict[str, Any], view: dict[str, Any]) -> tuple[Plan, Any]:
    """The AMAPI calls that put `device` where `view` (its new owner) says, and the inputs of
    the new space they were planned from."""
    space = view["space"]
    if space == device.get("space"):
        return push.plan_relabel(view, view["labels"], True)
    plan, inputs = push.plan_relabel(view, view["labels"], True)
    if not plan.moves:  # nothing of the new space reaches it: its holding policy
        target = holding_policy_name(enterprise_name(), space)
        if device.get("policyName") != target:
            plan.holding.append(target)
            plan.moves.append(DeviceMove(device["name"], None, target,
                                         str(device.get("policyName") or "")))
    return plan, inputs


def _preview(device: dict[str, Any], owner: str | None, space: str,
             labels: list[str] | None) -> dict[str, Any]:
    """`{plan, diff, findings}` of the hand-over (no lease, no write, no AMAPI call)."""
    from shared.policy import change_preview, rollouts

    view = _view(device, owner, space, labels)
    if not _vetted(device):
        return change_preview.preview(Plan(), {}, rollouts.inline_limit())
    plan, inputs = _plan(device, view)
    return change_preview.preview(plan, change_preview.secret_keys_of(inputs),
                                  rollouts.inline_limit())
