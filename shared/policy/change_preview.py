"""What a change would do, shown before it is made (`?validateOnly=true`, Google AIP-163): the
plan the real change would execute, and each policy field it would change, secrets masked.

Pure: the plan comes from the same planner the change uses (`push.plan_change`), so the counts
are the calls the change then makes, as long as nothing else changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from shared.policy.compiler import mask_secrets
from shared.policy.effective_policy import SpaceInputs
from shared.policy.push_plan import Plan

SAMPLE_DEVICES = 10  # devices named in a plan; the counts say how many there are
_ABSENT = None  # how a field a policy does not have is shown


def preview(plan: Plan, secret_keys: Mapping[str, Collection[str]], inline_limit: int,
            staged: bool = False) -> dict[str, Any]:
    """`{plan, diff, findings}` for a change whose plan is `plan`; `staged`: it carries a
    rollout plan, so a rollout pushes it whatever its size."""
    policies = plan.policies
    body = {
        "policiesPatched": len(policies) + len(plan.holding),
        "devicesMoved": len(plan.moves),
        "amapiCalls": plan.amapi_calls,
        "rollout": staged or plan.amapi_calls > inline_limit,
        "sampleDevices": [m.device_name.rsplit("/", 1)[-1]
                          for m in plan.moves[:SAMPLE_DEVICES]],
    }
    diff: list[dict[str, Any]] = []
    created = 0
    for update in policies:
        before = (update.previous or {}).get("policy") or {}
        name = update.name
        if update.previous is None:
            # Its name is chosen when it is created: the preview numbers the new ones instead.
            created += 1
            name = f"new-{created}"
        diff += [{"policy": name, "field": field, "before": old, "after": new}
                 for field, old, new in changed_fields(mask_secrets(before, secret_keys),
                                                       mask_secrets(update.policy,
                                                                    secret_keys))]
    return {"plan": body, "diff": diff, "findings": []}


def secret_keys_of(inputs: SpaceInputs) -> dict[str, list[str]]:
    """The managed-configuration keys each app of a space lists as secrets."""
    return {package: list(app.data.get("secretKeys") or [])
            for package, app in inputs.apps.items()}


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any],
                   prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Each field whose value differs, as a dotted path (objects compared field by field,
    lists whole), with its value before and after (None: absent)."""
    found: list[tuple[str, Any, Any]] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        path = f"{prefix}{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            found += changed_fields(old, new, f"{path}.")
        elif old != new:
            found.append((path, old, new))
    return found
