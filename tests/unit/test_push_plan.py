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
    apply,
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


@pytest.mark.parametrize("n", [20, 2000, 20000])
def test_a_narrowing_that_few_devices_keep_moves_only_those(n):
    """CUSTOM to 10 %: the largest part (the 90 % losing it) keeps the group's policy, which is
    re-keyed in place once the 10 % have left for a group of their own."""
    base = cosu("base", priority=1, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    lobby = cosu("lobby", priority=5)
    devices, records = settled(fleet(n), space(base, lobby))
    kept = n // 10
    for device in devices[:kept]:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})

    plan = reassign(devices, records, space(base, narrowed))
    assert sorted(m.device_name for m in plan.moves) == sorted(d["name"] for d in devices[:kept])
    assert {m.new_key for m in plan.moves} == {"new-1"}
    assert [(u.key, u.previous is None) for u in plan.updates] == [("new-1", True)]
    assert [u.key for u in plan.rekeys] == [key_of("lobby")]
    assert plan.rekeys[0].record["choiceKey"] == key_of("base")
    assert plan.rekeys[0].name == policy_name(ENTERPRISE, key_of("lobby"))  # same policy
    assert plan.amapi_calls == kept + 2


@pytest.mark.parametrize("n", [20, 2000])
def test_a_distribution_to_ten_percent_creates_one_group_and_moves_only_them(n):
    base = cosu("base", priority=1)
    devices, records = settled(fleet(n), space(base))
    for device in devices[: n // 10]:
        device["labels"] = ["front"]
    reaching = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})

    plan = reassign(devices, records, space(base, reaching))
    assert len(plan.moves) == n // 10 and [u.key for u in plan.updates] == ["new-1"]
    assert plan.rekeys == [] and plan.unchanged == 1
    assert plan.amapi_calls == n // 10 + 1


@pytest.mark.parametrize("n", [20, 2000, 20000])
def test_switching_the_fleet_to_another_configuration_patches_its_group_in_place(n):
    first = cosu("first", priority=1)
    devices, records = settled(fleet(n), space(first))
    second = cosu("second", priority=5, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})

    plan = reassign(devices, records, space(first, second))
    assert plan.moves == [] and plan.rekeys == []
    [update] = plan.updates
    assert update.key == key_of("first") and update.record["inputIds"] == ["cosu:second"]
    assert plan.amapi_calls == 1
    devices, records = apply(plan, devices, records)

    # Retiring the first configuration afterwards costs nothing: nobody is on it any more.
    assert reassign(devices, records, space(second)).amapi_calls == 0


@pytest.mark.parametrize("n", [20, 2000, 20000])
def test_swapping_two_priorities_patches_in_place(n):
    first, second = cosu("first", priority=5), cosu("second", priority=1,
                                                    kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    devices, records = settled(fleet(n), space(first, second))
    swapped = space(cosu("first", priority=1),
                    cosu("second", priority=5, kiosk={"statusBar": "SYSTEM_INFO_ONLY"}))

    plan = reassign(devices, records, swapped)
    assert plan.moves == [] and plan.amapi_calls == 1
    assert plan.updates[0].record["choiceKey"] == key_of("second")


def test_two_groups_sent_to_the_same_inputs_are_each_patched_and_nobody_moves():
    lobby = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})
    base = cosu("base", priority=1)
    devices, records = settled(fleet(30), space(base, lobby))
    for device in devices[:10]:
        device["labels"] = ["front"]
    devices, records = apply(reassign(devices, records, space(base, lobby)), devices, records)
    assert len({d["effectivePolicy"] for d in devices}) == 2

    top = cosu("top", priority=9, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    plan = reassign(devices, records, space(base, lobby, top))
    assert plan.moves == [] and len(plan.updates) == 2 and plan.amapi_calls == 2


def test_leavers_join_a_group_already_in_use_with_their_inputs():
    base = cosu("base", priority=1)
    lobby = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})
    devices, records = settled(fleet(20), space(base, lobby))
    for device in devices[:15]:
        device["labels"] = ["front"]
    devices, records = apply(reassign(devices, records, space(base, lobby)), devices, records)

    for device in devices[:3]:
        device["labels"] = []  # three lobby devices go back to base, whose group exists
    plan = reassign(devices, records, space(base, lobby))
    assert len(plan.moves) == 3 and plan.updates == [] and plan.amapi_calls == 3


def test_a_re_key_that_compiles_to_the_same_policy_is_recorded_without_a_call():
    first = cosu("first", priority=1)
    devices, records = settled(fleet(10), space(first))
    twin = cosu("twin", priority=5)  # compiles to exactly what `first` does

    plan = reassign(devices, records, space(first, twin))
    assert plan.amapi_calls == 0
    assert [u.record["choiceKey"] for u in plan.restamped] == [key_of("twin")]


def test_an_idle_group_with_the_inputs_is_reused_and_upserted():
    lobby = cosu("lobby")
    devices, records = settled(fleet(4), space(lobby))
    idle = {"idle": {**records[key_of("lobby")], "name": policy_name(ENTERPRISE, "idle")}}
    for device in devices:
        device.update(effectivePolicy=None, policyName=HOLDING)

    plan = reassign(devices, idle, space(lobby))
    assert [u.key for u in plan.updates] == ["idle"]  # upserted: AMAPI may have reaped it
    assert {m.new_policy for m in plan.moves} == {policy_name(ENTERPRISE, "idle")}


def test_devices_already_on_their_policy_are_not_moved():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(50), inputs)
    assert reassign(devices, records, inputs).amapi_calls == 0


def test_a_device_whose_stored_policy_name_is_wrong_is_moved_back_to_its_group():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(10), inputs)
    devices[3]["policyName"] = HOLDING  # effectivePolicy right, but AMAPI has it elsewhere

    plan = reassign(devices, records, inputs)
    assert [(m.device_name, m.old_policy, m.new_key) for m in plan.moves] == [
        (devices[3]["name"], HOLDING, key_of("lobby"))]
    assert plan.updates == [] and plan.holding == []  # its group is in use by the other 9


def test_a_lone_device_off_its_group_gets_the_group_upserted():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(1), inputs)
    devices[0]["policyName"] = HOLDING

    plan = reassign(devices, records, inputs)
    assert [u.key for u in plan.updates] == [key_of("lobby")] and len(plan.moves) == 1


def test_a_device_with_no_stored_policy_name_is_counted_from_its_effective_policy():
    inputs = space(cosu("lobby"))
    devices, records = settled(fleet(2), inputs)
    devices[0]["effectivePolicy"] = key_of("old")
    del devices[0]["policyName"]

    [move] = reassign(devices, records, inputs).moves
    assert move.old_policy == policy_name(ENTERPRISE, key_of("old"))


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


def test_a_new_group_record_says_what_it_was_compiled_from():
    inputs = space(cosu("lobby"))
    [update] = reassign(fleet(1), {}, inputs).updates
    assert update.key == "new-1"
    assert update.record["name"] == policy_name(ENTERPRISE, "new-1")
    assert update.record["inputIds"] == ["cosu:lobby"]
    assert update.record["choiceKey"] == key_of("lobby")
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


def test_devices_never_join_a_group_whose_re_key_waits_for_its_leavers():
    """Group `lobby` (10 devices) is re-keyed to `base` only once its 3 front devices left; 4
    devices waiting on the holding policy that also go to `base` get a group of their own."""
    base = cosu("base", priority=1, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    lobby = cosu("lobby", priority=5)
    devices, records = settled(fleet(14), space(base, lobby))
    for device in devices[10:]:
        device.update(effectivePolicy=None, policyName=HOLDING)
    for device in devices[:3]:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})

    plan = reassign(devices, records, space(base, narrowed))
    rekeyed = {u.key for u in plan.rekeys}
    assert rekeyed == {key_of("lobby")}
    joining = [m for m in plan.moves if m.device_name in {d["name"] for d in devices[10:]}]
    assert len(joining) == 4 and not any(m.new_key in rekeyed for m in joining)
