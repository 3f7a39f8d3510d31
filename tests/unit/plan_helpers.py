"""Spaces, fleets and stored state for unit tests of the push planner and its execution."""

import datetime
import itertools

from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose, policy_name
from shared.policy.holding_policy import holding_policy_name
from shared.policy.push_plan import (
    compile_choice,
    plan_assignment_change,
    plan_content_change,
    policy_record,
)
from shared.policy.schemas import AppCreateSchema, CosuConfigCreateSchema
from shared.store.versioned import Stored

ENTERPRISE = "enterprises/LC00tests"
SPACE = "global"
NOW = datetime.datetime(2026, 3, 9, 10, 0, tzinfo=datetime.UTC)
HOLDING = holding_policy_name(ENTERPRISE, SPACE)


def cosu(config_id, priority=1, distribution=None, created="2026-01-01T00:00:00Z", **changes):
    data = CosuConfigCreateSchema().load({
        "name": config_id, "priority": priority, "app": {"packageName": "com.example.kiosk"},
        "distribution": distribution or {"mode": "ALL"}, **changes})
    return Stored(config_id, {**data, "createTime": created})


KIOSK_APP = Stored("kiosk", {**AppCreateSchema().load(
    {"packageName": "com.example.kiosk", "type": "PUBLIC"}), "distribution": {"mode": "NONE"}})


def space(*configs):
    """A space's inputs: these COSU configurations and the kiosk app in the catalog."""
    return SpaceInputs(configs={c.id: c for c in configs}, apps={"com.example.kiosk": KIOSK_APP})


def fleet(n, labels=()):
    return [{"id": f"d{i:04d}", "name": f"{ENTERPRISE}/devices/d{i:04d}", "space": SPACE,
             "labels": list(labels)} for i in range(n)]


def settled(devices, inputs):
    """The devices and the stored records as the last push left them: everyone in place."""
    records = {}
    for device in devices:
        choice = choose(device, inputs)
        if choice.key is None:
            device.update(effectivePolicy=None, policyName=HOLDING)
            continue
        device.update(effectivePolicy=choice.key,
                      policyName=policy_name(ENTERPRISE, choice.key))
        if choice.key not in records:
            records[choice.key] = policy_record(ENTERPRISE, SPACE, choice,
                                                compile_choice(choice, inputs), NOW)
    return devices, records


def reassign(devices, records, inputs):
    """The plan of re-resolving `devices`; the groups it creates are named new-1, new-2…"""
    counter = itertools.count(1)
    return plan_assignment_change(SPACE, inputs, devices, records, enterprise=ENTERPRISE,
                                  now=NOW, new_group=lambda: f"new-{next(counter)}")


def apply(plan, devices, records):
    """`devices` and `records` as the store keeps them once `plan` was executed."""
    for update in plan.updates + plan.rekeys + plan.restamped:
        records[update.key] = update.record
    by_name = {d["name"]: d for d in devices}
    for move in plan.moves:
        by_name[move.device_name].update(effectivePolicy=move.new_key,
                                         policyName=move.new_policy)
    return devices, records


def content(records, inputs, input_id):
    using = {k: r for k, r in records.items() if input_id in r["inputIds"]}
    return plan_content_change(SPACE, inputs, using, enterprise=ENTERPRISE, now=NOW)


def key_of(config_id):
    return PolicyChoice(config_id).key
