"""Executing a push plan against the in-process AMAPI fake: all of it, or none of it.

A failure half-way puts back what the push did: patched policies restored, created ones
deleted, moved devices moved back. (The AMAPI emulator tests the same through HTTP.)
"""

import pytest

from shared.amapi.errors import AmapiNotFound, AmapiUnavailable
from shared.amapi.fake import FakeAmapi
from shared.policy import push
from shared.policy.effective_policy import policy_name
from tests.unit.plan_helpers import (
    ENTERPRISE,
    cosu,
    fleet,
    key_of,
    reassign,
    settled,
    space,
)

N, KEPT = 8, 5
LOBBY = policy_name(ENTERPRISE, key_of("lobby"))
BASE = policy_name(ENTERPRISE, "new-1")


def scenario():
    """A plan that creates a base group (policy new-1), patches the lobby policy and moves the 3
    devices leaving lobby onto base, and a fake AMAPI where the 8 devices sit on lobby."""
    base, lobby = cosu("base", priority=1), cosu("lobby", priority=5)
    devices, records = settled(fleet(N), space(base, lobby))
    for device in devices[:KEPT]:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, kiosk={"statusBar": "SYSTEM_INFO_ONLY"},
                    distribution={"mode": "CUSTOM", "labels": ["front"]})
    plan = reassign(devices, records, space(base, narrowed))
    door = FakeAmapi()
    door.patch_policy(LOBBY, records[key_of("lobby")]["policy"])
    for device in devices:
        door.devices[device["name"]] = {"name": device["name"], "policyName": LOBBY}
    door.calls.clear()
    return plan, door, records[key_of("lobby")]["policy"]


def without_version(policy):
    return {k: v for k, v in policy.items() if k not in ("name", "version")}


def test_the_plan_under_test_creates_one_policy_patches_one_and_moves_three():
    plan, _, _ = scenario()
    assert [(u.name, u.previous is None) for u in plan.updates] == [(BASE, True), (LOBBY, False)]
    assert len(plan.moves) == N - KEPT and plan.holding == []


def test_a_successful_push_makes_each_call_once_and_records_the_versions():
    plan, door, _ = scenario()
    push.execute(plan, door)
    assert door.count("enterprises.policies.patch") == 2
    assert door.count("enterprises.devices.patch") == N - KEPT
    assert len(door.calls) == plan.amapi_calls
    assert sorted(n for n, d in door.devices.items() if d["policyName"] == BASE) == sorted(
        m.device_name for m in plan.moves)
    assert [u.record["version"] for u in plan.updates] == ["1", "2"]


@pytest.mark.parametrize("k", [1, 3, N - KEPT])
def test_a_failure_on_the_kth_device_move_puts_everything_back(k):
    plan, door, lobby_before = scenario()
    door.fail("enterprises.devices.patch", AmapiUnavailable("enterprises.devices.patch",
                                                            "backend error"), nth=k)

    with pytest.raises(AmapiUnavailable):
        push.execute(plan, door)

    assert {d["policyName"] for d in door.devices.values()} == {LOBBY}
    assert without_version(door.policies[LOBBY]) == lobby_before
    assert BASE not in door.policies
    methods = [c.method for c in door.calls]
    # k tries forward (the k-th failed), k-1 moves back, one restore, one delete.
    assert methods.count("enterprises.devices.patch") == k + (k - 1)
    assert methods[-2:] == ["enterprises.policies.patch", "enterprises.policies.delete"]
    moved_back = [c.name for c in door.calls if c.method == "enterprises.devices.patch"][k:]
    assert moved_back == [m.device_name for m in plan.moves[:k - 1]][::-1]


def test_a_failure_on_a_policy_patch_moves_no_device_and_deletes_what_it_created():
    plan, door, lobby_before = scenario()
    door.fail("enterprises.policies.patch", AmapiUnavailable("enterprises.policies.patch",
                                                             "backend error"), nth=2)

    with pytest.raises(AmapiUnavailable):
        push.execute(plan, door)

    assert door.count("enterprises.devices.patch") == 0
    assert BASE not in door.policies
    assert without_version(door.policies[LOBBY]) == lobby_before


def test_a_device_deleted_meanwhile_is_skipped_not_failed():
    plan, door, _ = scenario()
    gone = plan.moves[1].device_name
    del door.devices[gone]

    push.execute(plan, door)

    assert door.count("enterprises.devices.patch") == N - KEPT
    assert gone not in door.devices
    assert all(door.devices[m.device_name]["policyName"] == BASE
               for m in plan.moves if m.device_name != gone)


def test_the_holding_policy_is_pushed_before_any_device_goes_to_it():
    lobby = cosu("lobby", distribution={"mode": "CUSTOM", "labels": ["front"]})
    devices, records = settled(fleet(4, labels=["front"]), space(lobby))
    devices[0]["labels"] = []
    plan = reassign(devices, records, space(lobby))
    door = FakeAmapi(devices={d["name"]: {"name": d["name"], "policyName": d["policyName"]}
                              for d in devices})

    push.execute(plan, door)

    holding = plan.holding[0]
    assert [(c.method, c.name) for c in door.calls] == [
        ("enterprises.policies.patch", holding),
        ("enterprises.devices.patch", devices[0]["name"])]
    assert door.devices[devices[0]["name"]]["policyName"] == holding
    assert door.policies[holding]["statusReportingSettings"]["softwareInfoEnabled"] is True


def test_the_fake_answers_like_amapi_for_what_is_missing():
    door = FakeAmapi()
    with pytest.raises(AmapiNotFound):
        door.get_device(f"{ENTERPRISE}/devices/nope")
    door.delete_device(f"{ENTERPRISE}/devices/nope")  # already gone counts as deleted
    assert door.count("enterprises.devices.delete") == 1


def test_a_group_re_keyed_in_place_is_patched_only_after_its_leavers_left():
    base = cosu("base", priority=1, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    lobby = cosu("lobby", priority=5)
    devices, records = settled(fleet(6), space(base, lobby))
    leavers = devices[:2]
    for device in leavers:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})
    plan = reassign(devices, records, space(base, narrowed))
    door = FakeAmapi(devices={d["name"]: {"name": d["name"], "policyName": LOBBY}
                              for d in devices})

    push.execute(plan, door)

    assert [(c.method, c.name) for c in door.calls] == [
        ("enterprises.policies.patch", BASE),
        *[("enterprises.devices.patch", d["name"]) for d in leavers],
        ("enterprises.policies.patch", LOBBY)]
    assert door.policies[LOBBY]["kioskCustomization"]["statusBar"] == "SYSTEM_INFO_ONLY"
    assert {door.devices[d["name"]]["policyName"] for d in leavers} == {BASE}


def test_a_failed_re_key_moves_the_leavers_back():
    base = cosu("base", priority=1, kiosk={"statusBar": "SYSTEM_INFO_ONLY"})
    devices, records = settled(fleet(6), space(base, cosu("lobby", priority=5)))
    for device in devices[:2]:
        device["labels"] = ["front"]
    narrowed = cosu("lobby", priority=5, distribution={"mode": "CUSTOM", "labels": ["front"]})
    plan = reassign(devices, records, space(base, narrowed))
    door = FakeAmapi(devices={d["name"]: {"name": d["name"], "policyName": LOBBY}
                              for d in devices})
    door.patch_policy(LOBBY, records[key_of("lobby")]["policy"])
    door.fail("enterprises.policies.patch", AmapiUnavailable("enterprises.policies.patch",
                                                             "backend error"), nth=2)

    with pytest.raises(AmapiUnavailable):
        push.execute(plan, door)

    assert {d["policyName"] for d in door.devices.values()} == {LOBBY}
    assert BASE not in door.policies
