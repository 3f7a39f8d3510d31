"""The push planner's call counts: what a change costs in AMAPI calls, whatever the fleet size.

Pure: devices and effective-policy records are given as the store keeps them; no emulator.
"""

import pytest

from shared.amapi.fake import FakeAmapi
from shared.policy import push, push_plan
from shared.policy.effective_policy import policy_name
from shared.policy.push_plan import Plan, change_scope, with_change
from tests.unit.plan_helpers import (
    ENTERPRISE,
    HOLDING,
    NOW,
    content,
    cosu,
    fleet,
    key_of,
    reassign,
    settled,
    space,
)


@pytest.mark.parametrize("n", [1, 20, 2000])
def test_editing_a_shared_configuration_patches_its_one_policy_and_moves_nobody(n):
    lobby = cosu("lobby")
    devices, records = settled(fleet(n), space(lobby))
    edited = with_change(space(lobby), "cosu", lobby,
                         cosu("lobby", kiosk={"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"}))

    plan = content(records, edited, "cosu:lobby")
    assert (len(plan.updates), len(plan.moves), plan.holding) == (1, 0, [])
    assert plan.updates[0].name == policy_name(ENTERPRISE, key_of("lobby"))
    assert plan.updates[0].previous == records[key_of("lobby")]

    # Re-resolving the whole fleet against the edit costs the same single patch.
    assert reassign(devices, records, edited).amapi_calls == 1

    door = FakeAmapi(devices={d["name"]: {"name": d["name"], "policyName": d["policyName"]}
                              for d in devices})
    push.execute(plan, door)
    assert [c.method for c in door.calls] == ["enterprises.policies.patch"]


@pytest.mark.parametrize("n", [1, 20, 2000])
def test_an_unchanged_compilation_costs_no_call(n):
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(n), inputs)
    renamed = with_change(inputs, "cosu", inputs.configs["lobby"],
                          cosu("lobby", description="same policy, new words"))

    plan = content(records, renamed, "cosu:lobby")
    assert plan.amapi_calls == 0 and plan.unchanged == 1
    plan = reassign(devices, records, renamed)
    assert plan.amapi_calls == 0 and plan.unchanged == 1


def test_an_input_no_stored_policy_uses_costs_nothing():
    inputs = space(cosu("lobby"))
    _, records = settled(fleet(3), inputs)
    assert content(records, inputs, "cosu:elsewhere").amapi_calls == 0
    foreign = {k: {**r, "space": "paris"} for k, r in records.items()}
    assert content(foreign, inputs, "cosu:lobby").amapi_calls == 0


@pytest.mark.parametrize(("n", "k"), [(2, 1), (20, 5), (2000, 1500)])
def test_narrowing_a_distribution_moves_only_the_devices_that_lose_it(n, k):
    base = cosu("base", priority=1)
    lobby = cosu("lobby", priority=5)
    devices, records = settled(fleet(n), space(base, lobby))
    for device in devices[:k]:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})

    plan = reassign(devices, records, space(base, narrowed))
    assert sorted(m.device_name for m in plan.moves) == sorted(d["name"] for d in devices[k:])
    assert {m.new_policy for m in plan.moves} == {policy_name(ENTERPRISE, key_of("base"))}
    assert {m.old_policy for m in plan.moves} == {policy_name(ENTERPRISE, key_of("lobby"))}
    # The policy they land on is created; the one the others keep is left alone.
    assert [u.key for u in plan.updates] == [key_of("base")]
    assert plan.updates[0].previous is None
    assert plan.holding == []
    assert plan.amapi_calls == 1 + (n - k)


def test_widening_a_distribution_moves_the_devices_it_reaches_and_upserts_their_policy():
    base = cosu("base", priority=1)
    lobby = cosu("lobby", priority=5, distribution={"mode": "NONE"})
    devices, records = settled(fleet(20, labels=["hall"]),
                               space(base, lobby))
    for device in devices[:4]:
        device["labels"] = ["lobby"]
    reaching = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["lobby"]})

    plan = reassign(devices, records, space(base, reaching))
    assert [m.device_name for m in plan.moves] == [d["name"] for d in devices[:4]]
    assert [u.key for u in plan.updates] == [key_of("lobby")]
    assert plan.unchanged == 1  # base: same compilation, nobody new on it


def test_devices_already_on_their_policy_are_not_moved():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(50), inputs)
    assert reassign(devices, records, inputs).amapi_calls == 0


def test_a_device_whose_stored_policy_name_is_wrong_is_moved_and_its_policy_upserted():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(10), inputs)
    devices[3]["policyName"] = HOLDING  # effectivePolicy right, but AMAPI has it elsewhere

    plan = reassign(devices, records, inputs)
    assert [(m.device_name, m.old_policy) for m in plan.moves] == [(devices[3]["name"], HOLDING)]
    # Same compilation, yet upserted: AMAPI may have reaped a policy nobody used for 7 days.
    assert [u.key for u in plan.updates] == [key_of("lobby")]
    assert plan.holding == []


def test_a_device_with_no_stored_policy_name_is_counted_from_its_effective_policy():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(2), inputs)
    devices[0]["effectivePolicy"] = key_of("old")
    del devices[0]["policyName"]

    [move] = reassign(devices, records, inputs).moves
    assert move.old_policy == policy_name(ENTERPRISE, key_of("old"))


def test_a_priority_swap_moves_every_device_once_to_the_new_top():
    first, second = cosu("first", priority=5), cosu("second", priority=1)
    devices, records = settled(fleet(200), space(first, second))
    swapped = space(cosu("first", priority=1), cosu("second", priority=5))

    plan = reassign(devices, records, swapped)
    assert sorted(m.device_name for m in plan.moves) == sorted(d["name"] for d in devices)
    assert {m.new_policy for m in plan.moves} == {policy_name(ENTERPRISE, key_of("second"))}
    assert [u.key for u in plan.updates] == [key_of("second")]
    assert plan.amapi_calls == 201


def test_the_holding_policy_is_upserted_exactly_when_some_device_goes_to_it():
    lobby = cosu("lobby", distribution={"mode": "CUSTOM", "labels": ["lobby"]})
    devices, records = settled(fleet(6, labels=["lobby"]), space(lobby))
    assert reassign(devices, records, space(lobby)).holding == []

    for device in devices[:3]:
        device["labels"] = []
    plan = reassign(devices, records, space(lobby))
    assert plan.holding == [HOLDING]  # once, for three devices
    assert [m.new_policy for m in plan.moves] == [HOLDING] * 3
    assert all(m.new_key is None for m in plan.moves)
    assert plan.updates == []  # the others' policy is unchanged

    deleted = reassign(devices, records, space())  # from the same stored state
    assert deleted.holding == [HOLDING] and len(deleted.moves) == 6


def test_a_new_policy_record_says_what_it_was_compiled_from():
    inputs = space(cosu("lobby"))
    [update] = reassign(fleet(1), {}, inputs).updates
    assert update.record["name"] == policy_name(ENTERPRISE, key_of("lobby"))
    assert update.record["inputIds"] == ["cosu:lobby"]
    assert update.record["choice"] == {"configId": "lobby", "appIds": [], "wifiIds": [],
                                       "vpnId": None}
    assert update.record["updateTime"] == NOW
    assert update.record["policy"] == update.policy


@pytest.mark.parametrize(("before", "after", "scope"), [
    (None, None, "nothing"),
    (None, cosu("c", distribution={"mode": "NONE"}), "nothing"),
    (cosu("c", distribution={"mode": "NONE"}), cosu("c", distribution={"mode": "NONE"},
                                                    description="x"), "nothing"),
    (None, cosu("c"), "assignment"),
    (cosu("c"), None, "assignment"),
    (cosu("c"), cosu("c", priority=2), "assignment"),
    (cosu("c"), cosu("c", distribution={"mode": "CUSTOM", "labels": ["x"]}), "assignment"),
    (cosu("c"), cosu("c", app={"packageName": "com.example.other"}), "assignment"),
    (cosu("c"), cosu("c", kiosk={"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"}), "content"),
])
def test_what_a_change_costs_in_a_space(before, after, scope):
    assert change_scope(before, after) == scope


def test_plans_of_several_spaces_add_up():
    plan = Plan(moves=[push_plan.DeviceMove("d", None, HOLDING, "x")], holding=[HOLDING])
    plan.extend(Plan(unchanged=2, holding=["h2"]))
    assert plan.amapi_calls == 3 and plan.unchanged == 2
