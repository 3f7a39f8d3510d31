"""Staged rollouts under attack: racing transitions, every transition in every state, callers
without the role, plans that slip through validation, and the space changing under a stage.

Whatever happens, a staged rollout must end, leave its resource without a `pendingChange`,
free its space for the next staged change, leave AMAPI where the stored configurations put
every device, and move each device no more often than needed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest

import tests.integration.test_staged_rollouts as staged_tests
from shared.access import roles
from shared.policy import staged_rollouts
from shared.store import effective_policies
from shared.store import rollouts as stored_rollouts
from tests.integration.callers import Caller
from tests.integration.enroll_helpers import emulator_call
from tests.integration.policy_helpers import (
    amapi_device,
    amapi_policy,
    assert_amapi_matches_the_stores,
    at_once,
    clear_calls,
    managed_device,
    request,
)
from tests.integration.rollout_helpers import device_patches, work
from tests.integration.test_cosu_policies import HELPER, KIOSK
from tests.integration.test_staged_rollouts import GATE, Fleet, run_stage

SMALL = 40
ENDED = {"SUCCEEDED", "ROLLED_BACK", "FAILED", "CANCELLED"}
VERBS = ("promote", "rollback", "cancel", "pause", "resume")


@pytest.fixture
def small(function_apps, admin_headers, firestore, amapi_emulator, monkeypatch) -> Fleet:
    """The staged rollouts' fleet with 40 devices: enough for shares, quick to move."""
    monkeypatch.setattr(staged_tests, "FLEET", SMALL)
    return Fleet(function_apps, admin_headers, amapi_emulator)


# --- helpers -------------------------------------------------------------------------------

def verb(fleet: Fleet, rollout_id: str, name: str) -> Any:
    """One administrator transition; never a 500, a refusal is a 412 in the error envelope."""
    response = fleet.api.call("POST", f"/rollouts/{rollout_id}:{name}")
    assert_clean(response, name)
    return response


def assert_clean(response: Any, what: str) -> None:
    assert response.status_code in (200, 412), (what, response.status_code,
                                                response.get_json())
    if response.status_code == 412:
        error = response.get_json()["error"]
        assert error["code"] == 412 and error["status"] == "FAILED_PRECONDITION", error
        assert error["message"], error


def flipped(fleet: Fleet) -> dict[str, Any]:
    """A change of the fleet's configuration, whatever it holds now."""
    current = fleet.api.call("GET", f"/cosu-configs/{fleet.config['id']}").get_json()
    return {"lockdown": {"disableKeyguard": not current["lockdown"]["disableKeyguard"]}}


def stage(fleet: Fleet, stages: list[dict[str, Any]], **plan: Any) -> str:
    return str(fleet.stage(flipped(fleet), stages=stages, **plan)["rollout"]["id"])


def drive_to_end(fleet: Fleet, rollout_id: str, passes: int = 10) -> dict[str, Any]:
    """Work, report, soak and resume until the rollout ends; 412 never blocks it."""
    for _ in range(passes):
        rollout = fleet.rollout(rollout_id)
        if rollout["state"] in ENDED:
            return rollout
        if rollout["state"] == "PAUSED":
            assert verb(fleet, rollout_id, "resume").status_code == 200, rollout
        work(rollout_id)
        fleet.reports()
        fleet.soak_over()
        work(rollout_id)
    raise AssertionError(f"rollout never ended: {fleet.rollout(rollout_id)}")


def assert_settled(fleet: Fleet, server: Any, resource: str | None = None) -> None:
    """The space is as if no staged rollout were open, and AMAPI as the stores say."""
    path = resource or f"/cosu-configs/{fleet.config['id']}"
    shown = fleet.api.call("GET", path)
    if shown.status_code == 200:
        assert "pendingChange" not in shown.get_json(), shown.get_json()
    else:
        assert shown.status_code == 404
    with roles.as_system():
        assert stored_rollouts.space_marks(["global"])[1] == {}
        assert not [g for g, r in effective_policies.in_space("global").items()
                    if (r.get("choice") or {}).get("variant")]
        assert not stored_rollouts.open_in_space("global")
    assert_amapi_matches_the_stores(server)


def assert_same_amapi(fleet: Fleet, before: tuple[dict[str, Any], dict[str, str]]) -> None:
    """Same policies, same content, same assignments as `before` (the differences shown)."""
    policies, placed = fleet.amapi_state()
    assert sorted(policies) == sorted(before[0])
    assert {k: v for k, v in policies.items() if v != before[0][k]} == {}
    assert {k: v for k, v in placed.items() if v != before[1].get(k)} == {}


def assert_takes_a_new_staged_change(fleet: Fleet) -> None:
    rollout_id = stage(fleet, [{"percent": 5}])
    assert verb(fleet, rollout_id, "cancel").status_code == 200
    work(rollout_id)
    assert fleet.rollout(rollout_id)["state"] == "ROLLED_BACK"


def wait_for_moves(server: Any, moves: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while sum(device_patches(server).values()) < moves:
        assert time.monotonic() < deadline, "the worker never moved that many devices"
        time.sleep(0.005)


# --- racing transitions ----------------------------------------------------------------------

def test_promote_and_rollback_released_together_one_wins_and_the_rollout_ends(
        small, amapi_emulator, function_apps):
    policy = function_apps["policy"]
    for _ in range(3):
        rollout_id = stage(small, [{"percent": 25}])
        run_stage(small, rollout_id)
        promote, rollback = at_once(
            request(policy, "POST", f"/rollouts/{rollout_id}:promote", None, small.headers),
            request(policy, "POST", f"/rollouts/{rollout_id}:rollback", None, small.headers))
        assert_clean(promote, "promote")
        assert_clean(rollback, "rollback")
        assert sorted([promote.status_code, rollback.status_code]) == [200, 412]
        work(rollout_id)
        done = small.rollout(rollout_id)
        assert done["state"] == ("SUCCEEDED" if promote.status_code == 200 else "ROLLED_BACK")
        assert_settled(small, amapi_emulator)


def test_a_rollback_while_a_worker_is_mid_stage_puts_every_device_back(
        small, amapi_emulator, tuned):
    tuned(ROLLOUT_BATCH_SIZE=2)
    before = small.amapi_state()
    rollout_id = stage(small, [{"percent": 50}, {"percent": 100}])
    clear_calls(amapi_emulator)
    worker = threading.Thread(target=work, args=(rollout_id,))
    worker.start()
    wait_for_moves(amapi_emulator, 4)
    rolled = verb(small, rollout_id, "rollback")
    worker.join(60)
    assert rolled.status_code == 200, rolled.get_json()
    done = drive_to_end(small, rollout_id)
    assert done["state"] == "ROLLED_BACK", done
    assert_same_amapi(small, before)
    moved = device_patches(amapi_emulator)
    assert set(moved) <= set(small.canaries(50))
    assert max(moved.values()) <= 2  # onto the change, and back
    assert_settled(small, amapi_emulator)
    assert_takes_a_new_staged_change(small)


def test_two_workers_during_a_rollback_move_each_canary_back_once(small, amapi_emulator):
    before = small.amapi_state()
    rollout_id = stage(small, [{"percent": 50}])
    run_stage(small, rollout_id)
    clear_calls(amapi_emulator)
    assert verb(small, rollout_id, "rollback").status_code == 200
    workers = [threading.Thread(target=work, args=(rollout_id,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert small.rollout(rollout_id)["state"] == "ROLLED_BACK"
    assert device_patches(amapi_emulator) == {name: 1 for name in small.canaries(50)}
    assert_same_amapi(small, before)
    assert_settled(small, amapi_emulator)


@pytest.mark.parametrize("action", ["rollback", "pause"])
def test_the_scheduled_gate_reading_racing_an_administrator_still_ends(
        small, amapi_emulator, function_apps, action):
    policy = function_apps["policy"]
    reconcile = function_apps["reconcile_commands"]
    for _ in range(3):
        rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
        run_stage(small, rollout_id)
        later = {"now": "2099-01-01T00:00:00Z"}
        read, acted = at_once(
            request(reconcile, "POST", "/", later, small.headers),
            request(policy, "POST", f"/rollouts/{rollout_id}:{action}", None, small.headers))
        assert read.status_code == 200, read.get_json()
        assert_clean(acted, action)
        if action == "rollback":
            # Rolled back at whatever stage the gate left it: a rollback is never refused
            # before promotion.
            assert acted.status_code == 200, acted.get_json()
        done = drive_to_end(small, rollout_id)
        if action == "rollback":
            assert done["state"] == "ROLLED_BACK", done
        assert_settled(small, amapi_emulator)


def test_a_gate_read_that_began_before_a_pause_does_not_move_the_paused_rollout(
        small, amapi_emulator):
    rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
    work(rollout_id)  # the stage is pushed; no report yet, so its gate would fail
    with roles.as_system():
        read_before_the_pause = stored_rollouts.get(rollout_id)
    assert read_before_the_pause["state"] == "RUNNING"
    assert verb(small, rollout_id, "pause").status_code == 200
    with roles.as_system(), contextlib.suppress(staged_rollouts.Overtaken):
        staged_rollouts.evaluate(read_before_the_pause)
    held = small.rollout(rollout_id)
    try:
        # ":pause holds the rollout: no pass runs and its gate is not read".
        assert held["state"] == "PAUSED" and held["phase"] == "STAGING", held
        assert held["stages"][0]["state"] == "SOAKING", held["stages"][0]
    finally:
        drive_to_end(small, rollout_id)
        assert_settled(small, amapi_emulator)


# --- every transition in every state ---------------------------------------------------------

def _reach(fleet: Fleet, where: str) -> str:
    """A staged rollout of the fleet's configuration, brought to `where`."""
    if where == "PENDING":
        return stage(fleet, [{"percent": 25}, {"percent": 100}])
    if where == "GATE_FAILED":
        rollout_id = stage(fleet, [{"percent": 25}], autoRollback=False)
        work(rollout_id)
        fleet.soak_over()  # nobody reported: the gate fails, the rollout waits
        assert fleet.rollout(rollout_id)["state"] == "PAUSED"
        return rollout_id
    rollout_id = stage(fleet, [{"percent": 25}])
    run_stage(fleet, rollout_id)  # soaking
    if where == "PAUSED":
        assert verb(fleet, rollout_id, "pause").status_code == 200
    elif where == "PROMOTING":
        assert verb(fleet, rollout_id, "promote").get_json()["phase"] == "PROMOTING"
    elif where == "ROLLING_BACK":
        assert verb(fleet, rollout_id, "rollback").get_json()["phase"] == "ROLLING_BACK"
    elif where == "SUCCEEDED":
        verb(fleet, rollout_id, "promote")
        work(rollout_id)
    elif where == "ROLLED_BACK":
        verb(fleet, rollout_id, "rollback")
        work(rollout_id)
    return rollout_id


@pytest.mark.parametrize("order", [VERBS, tuple(reversed(VERBS))], ids=["forward", "backward"])
def test_every_transition_in_every_state_is_200_or_412_and_the_rollout_ends(
        small, amapi_emulator, order):
    creation = small.config["rollout"]["id"]  # not staged, SUCCEEDED
    for name in VERBS:
        assert verb(small, creation, name).status_code == 412, name
    for where in ("PENDING", "SOAKING", "PAUSED", "GATE_FAILED", "PROMOTING", "ROLLING_BACK",
                  "SUCCEEDED", "ROLLED_BACK"):
        rollout_id = _reach(small, where)
        statuses = {name: verb(small, rollout_id, name).status_code for name in order}
        if where in ("SUCCEEDED", "ROLLED_BACK"):
            assert set(statuses.values()) == {412}, (where, statuses)
        if where in ("PROMOTING", "ROLLING_BACK"):
            assert statuses["promote"] == statuses["rollback"] == 412, (where, statuses)
        done = drive_to_end(small, rollout_id)
        assert done["state"] in ("SUCCEEDED", "ROLLED_BACK"), (where, statuses, done)
        assert_settled(small, amapi_emulator)


def test_a_non_staged_rollout_cannot_be_promoted_or_rolled_back(small, amapi_emulator):
    moved = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}",
                           {"distribution": {"mode": "CUSTOM", "labels": ["none-yet"]}})
    assert moved.status_code == 202, moved.get_json()
    rollout_id = moved.get_json()["rollout"]["id"]
    for name in ("promote", "rollback"):
        refused = verb(small, rollout_id, name)
        assert refused.status_code == 412 and "not staged" in refused.get_json()[
            "error"]["message"]
    work(rollout_id)
    assert small.rollout(rollout_id)["state"] == "SUCCEEDED"
    assert_amapi_matches_the_stores(amapi_emulator)


# --- permissions -----------------------------------------------------------------------------

def test_only_an_administrator_of_the_space_acts_on_a_staged_rollout(small, function_apps):
    assert small.api.call("POST", "/spaces", {"id": "paris", "displayName": "Paris"}
                          ).status_code == 201
    for email, role, space in (("viewer@example.com", "VIEWER", "global"),
                               ("operator@example.com", "OPERATOR", "global"),
                               ("stranger@example.com", "ADMIN", "paris")):
        granted = small.api.call("POST", "/role-bindings",
                                 {"principal": email, "role": role, "space": space})
        assert granted.status_code == 201, granted.get_json()
    rollout_id = stage(small, [{"percent": 25}])
    run_stage(small, rollout_id)
    for email, status in (("viewer@example.com", 403), ("operator@example.com", 403),
                          ("stranger@example.com", 404)):
        caller = Caller(function_apps, email)
        for name in VERBS:
            refused = caller.call("policy", "POST", f"/rollouts/{rollout_id}:{name}")
            assert refused.status_code == status, (email, name, refused.get_json())
            assert refused.get_json()["error"]["code"] == status
    shown = small.rollout(rollout_id)
    assert shown["state"] == "RUNNING" and shown["stages"][0]["state"] == "SOAKING"


# --- plans that slip through validation --------------------------------------------------------

@pytest.mark.parametrize("who", ["unknown", "other-space"])
def test_a_stage_naming_devices_the_space_does_not_have_is_a_400(
        small, amapi_emulator, who):
    if who == "unknown":
        named = ["no-such-device"]
    else:
        assert small.api.call("POST", "/spaces", {"id": "paris", "displayName": "Paris"}
                              ).status_code == 201
        named = [managed_device(amapi_emulator, "P-1", space="paris")["id"]]
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}", {
        **flipped(small), "rollout": {"stages": [{"deviceIds": named}, {"percent": 100}],
                                      "gate": GATE}})
    if response.status_code == 202:  # what happens: the canary stage is empty and passes
        rollout_id = response.get_json()["rollout"]["id"]
        first = run_stage(small, rollout_id)
        assert first["stages"][0]["devices"] == 0
        small.soak_over()
        assert small.rollout(rollout_id)["currentStage"] == 2  # on to every device
        verb(small, rollout_id, "rollback")
        drive_to_end(small, rollout_id)
    assert response.status_code == 400, response.get_json()
    assert any(v["field"].startswith("rollout") for v in response.get_json()["error"][
        "details"])


def test_the_largest_hand_picked_plan_is_202_or_400_never_500(small, amapi_emulator):
    ids = [small.devices[0]["id"]] + [f"x{n:05d}".ljust(200, "x") for n in range(4999)]
    stages = [{"deviceIds": ids[n * 500:(n + 1) * 500]} for n in range(10)]
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}",
                              {**flipped(small), "rollout": {"stages": stages, "gate": GATE}})
    assert response.status_code in (202, 400), response.get_json()
    if response.status_code == 400:
        assert "error" in response.get_json()
        assert_settled(small, amapi_emulator)
        return
    rollout_id = response.get_json()["rollout"]["id"]
    first = run_stage(small, rollout_id)
    assert first["stages"][0]["devices"] == 1
    assert verb(small, rollout_id, "cancel").status_code == 200
    assert drive_to_end(small, rollout_id)["state"] == "ROLLED_BACK"
    assert_settled(small, amapi_emulator)


def test_a_first_stage_of_100_percent_rolled_back_restores_every_policy(small, amapi_emulator):
    before = small.amapi_state()
    clear_calls(amapi_emulator)
    rollout_id = stage(small, [{"percent": 100}])
    first = run_stage(small, rollout_id)
    assert first["stages"][0]["devices"] == SMALL
    placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, small.devices[0][
        "name"])["policyName"])
    assert placed.get("keyguardDisabled") is True
    assert verb(small, rollout_id, "rollback").status_code == 200
    assert drive_to_end(small, rollout_id)["state"] == "ROLLED_BACK"
    assert_same_amapi(small, before)
    assert not device_patches(amapi_emulator)  # patched in place and back: nobody moved
    assert_settled(small, amapi_emulator)


def test_a_staged_patch_that_changes_nothing_ends_without_moving_anyone(small, amapi_emulator):
    clear_calls(amapi_emulator)
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}", {
        "rollout": {"stages": [{"percent": 50}, {"percent": 100}], "gate": GATE}})
    assert response.status_code in (202, 400), response.get_json()
    if response.status_code == 202:
        done = drive_to_end(small, response.get_json()["rollout"]["id"])
        assert done["state"] == "SUCCEEDED", done
    assert not device_patches(amapi_emulator)
    assert_settled(small, amapi_emulator)
    assert_takes_a_new_staged_change(small)


def test_a_stage_no_device_is_on_does_not_show_every_device_non_compliant(small):
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}", {
        "rollout": {"stages": [{"percent": 50}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    done = drive_to_end(small, response.get_json()["rollout"]["id"])
    assert done["state"] == "SUCCEEDED", done
    assert done["stages"][0]["devices"] == 0
    assert done["stages"][0]["nonCompliantPercent"] == 0.0, done["stages"][0]


def test_a_patch_with_a_null_rollout_is_an_ordinary_change(small, amapi_emulator):
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}",
                              {**flipped(small), "rollout": None})
    assert response.status_code in (200, 202), response.get_json()
    assert "pendingChange" not in response.get_json()
    if response.status_code == 202:
        work(response.get_json()["rollout"]["id"])
    assert_settled(small, amapi_emulator)


def test_a_staged_wifi_creation_reaches_the_canaries_only_and_a_rollback_deletes_it(
        small, amapi_emulator):
    before = small.amapi_state()
    response = small.api.call("POST", "/wifi-configs", {
        "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
        "passphrase": "correct horse battery", "distribution": {"mode": "ALL"},
        "rollout": {"stages": [{"percent": 25}, {"percent": 100}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    created = response.get_json()
    assert "correct horse" not in str(created)
    rollout_id = created["rollout"]["id"]
    run_stage(small, rollout_id)
    canaries = set(small.canaries(25))
    for device in small.devices:
        placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
            "policyName"])
        networks = (placed.get("openNetworkConfiguration") or {}).get(
            "NetworkConfigurations") or []
        assert bool(networks) == (device["name"] in canaries), device["name"]
    assert small.api.call("DELETE", f"/wifi-configs/{created['id']}").status_code == 412
    assert verb(small, rollout_id, "rollback").status_code == 200
    assert drive_to_end(small, rollout_id)["state"] == "ROLLED_BACK"
    assert_same_amapi(small, before)
    assert_settled(small, amapi_emulator, f"/wifi-configs/{created['id']}")


def test_a_staged_app_change_is_promoted_to_every_device(small, amapi_emulator):
    response = small.api.call("PATCH", f"/apps/{KIOSK}", {
        "minimumVersionCode": 42,
        "rollout": {"stages": [{"percent": 25}, {"percent": 100}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    rollout_id = response.get_json()["rollout"]["id"]
    assert run_stage(small, rollout_id)["stages"][0]["devices"] == 10
    assert small.api.call("PATCH", f"/apps/{KIOSK}", {"minimumVersionCode": 7}
                          ).status_code == 412
    done = drive_to_end(small, rollout_id)
    assert done["state"] == "SUCCEEDED", done
    app = small.api.call("GET", f"/apps/{KIOSK}").get_json()
    assert app["minimumVersionCode"] == 42 and "pendingChange" not in app
    assert_settled(small, amapi_emulator, f"/apps/{KIOSK}")


def test_a_delegated_resource_is_not_staged(small, amapi_emulator):
    assert small.api.call("POST", "/spaces", {"id": "paris", "displayName": "Paris"}
                          ).status_code == 201
    plan = {"stages": [{"percent": 25}], "gate": GATE}
    delegating = small.api.call("PATCH", f"/apps/{KIOSK}",
                                {"delegatedSpaces": ["paris"], "rollout": plan})
    assert delegating.status_code == 400, delegating.get_json()
    assert small.api.call("PATCH", f"/apps/{KIOSK}", {"delegatedSpaces": ["paris"]}
                          ).status_code in (200, 202)
    changed = small.api.call("PATCH", f"/apps/{KIOSK}", {"minimumVersionCode": 3,
                                                          "rollout": plan})
    assert changed.status_code == 400, changed.get_json()
    assert any(v["field"] == "rollout" for v in changed.get_json()["error"]["details"])
    app = small.api.call("GET", f"/apps/{KIOSK}").get_json()
    assert "pendingChange" not in app and app.get("minimumVersionCode") != 3
    assert_settled(small, amapi_emulator, f"/apps/{KIOSK}")


# --- the space changing under a stage ----------------------------------------------------------

def test_the_staged_resource_cannot_be_deleted_or_changed_while_staged(small, amapi_emulator):
    rollout_id = stage(small, [{"percent": 25}])
    run_stage(small, rollout_id)
    url = f"/cosu-configs/{small.config['id']}"
    for method, body in (("DELETE", None), ("PATCH", {"priority": 11}),
                         ("PATCH", {**flipped(small), "rollout": {"stages": [{"percent": 5}]}})):
        refused = small.api.call(method, url, body)
        assert refused.status_code == 412, (method, refused.get_json())
        assert rollout_id in refused.get_json()["error"]["message"]
    assert verb(small, rollout_id, "rollback").status_code == 200
    drive_to_end(small, rollout_id)
    assert_settled(small, amapi_emulator)


def test_the_app_a_staged_change_newly_pins_cannot_be_deleted_while_staged(
        small, amapi_emulator):
    assert small.api.app(package=HELPER).status_code == 201
    response = small.api.call("PATCH", f"/cosu-configs/{small.config['id']}", {
        "app": {"packageName": HELPER},
        "rollout": {"stages": [{"percent": 25}, {"percent": 100}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    rollout_id = response.get_json()["rollout"]["id"]
    run_stage(small, rollout_id)
    deleted = small.api.call("DELETE", f"/apps/{HELPER}")
    try:
        assert deleted.status_code == 412, deleted.get_json()
    finally:
        verb(small, rollout_id, "rollback")
        drive_to_end(small, rollout_id)
        assert_settled(small, amapi_emulator)


def test_deleting_the_spaces_other_configurations_during_a_stage(small, amapi_emulator):
    wifi = small.api.call("POST", "/wifi-configs", {
        "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
        "passphrase": "correct horse battery", "distribution": {"mode": "ALL"}})
    assert wifi.status_code in (201, 202), wifi.get_json()
    if wifi.status_code == 202:
        work(wifi.get_json()["rollout"]["id"])
    rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
    run_stage(small, rollout_id)
    gone = small.api.call("DELETE", f"/wifi-configs/{wifi.get_json()['id']}")
    assert gone.status_code in (202, 204), gone.get_json()
    if gone.status_code == 202:
        work(gone.get_json()["rollout"]["id"])
    canaries = set(small.canaries(25))
    for device in small.devices:
        placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
            "policyName"])
        assert not (placed.get("openNetworkConfiguration") or {}).get(
            "NetworkConfigurations"), device["name"]
        assert (placed.get("keyguardDisabled") is True) == (device["name"] in canaries)
    done = drive_to_end(small, rollout_id)
    assert done["state"] == "SUCCEEDED", done
    assert_settled(small, amapi_emulator)


def test_relabelling_a_canary_keeps_it_on_the_staged_change(
        small, amapi_emulator, function_apps):
    wifi = small.api.call("POST", "/wifi-configs", {
        "name": "Back office", "ssid": "BackOffice", "security": "WPA_PSK",
        "passphrase": "correct horse battery",
        "distribution": {"mode": "CUSTOM", "labels": ["office"]}})
    assert wifi.status_code in (201, 202), wifi.get_json()
    rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
    run_stage(small, rollout_id)
    canary = small.canaries(25)[0]
    commands = function_apps["commands"].test_client()
    relabelled = commands.patch(f"/devices/{canary.rsplit('/', 1)[1]}",
                                json={"labels": ["office"]}, headers=small.headers)
    assert relabelled.status_code == 200, relabelled.get_json()
    placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, canary)["policyName"])
    try:
        assert [n["WiFi"]["SSID"] for n in placed["openNetworkConfiguration"][
            "NetworkConfigurations"]] == ["BackOffice"]
        assert placed.get("keyguardDisabled") is True  # still a canary
    finally:
        done = drive_to_end(small, rollout_id)
        assert done["state"] == "SUCCEEDED", done
        assert_settled(small, amapi_emulator)


def test_a_canary_deleted_in_amapi_during_a_stage_does_not_stop_the_rollback(
        small, amapi_emulator):
    rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
    run_stage(small, rollout_id)
    canary = small.canaries(25)[0]
    status, body = emulator_call(amapi_emulator, "DELETE", f"/v1/{canary}")
    assert status in (200, 204), body
    assert verb(small, rollout_id, "rollback").status_code == 200
    done = drive_to_end(small, rollout_id)
    assert done["state"] == "ROLLED_BACK", done
    small.reports()  # its DELETED report, whenever it comes
    assert_settled(small, amapi_emulator)
    assert_takes_a_new_staged_change(small)


def test_a_large_ordinary_change_during_a_stage_keeps_the_canaries_and_both_end(
        small, amapi_emulator, tuned):
    rollout_id = stage(small, [{"percent": 25}, {"percent": 100}])
    run_stage(small, rollout_id)
    tuned(ROLLOUT_INLINE_LIMIT=1)
    clear_calls(amapi_emulator)
    wifi = small.api.call("POST", "/wifi-configs", {
        "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
        "passphrase": "correct horse battery", "distribution": {"mode": "ALL"}})
    assert wifi.status_code == 202, wifi.get_json()
    ordinary = wifi.get_json()["rollout"]["id"]
    assert small.rollout(rollout_id)["state"] == "RUNNING"  # not superseded
    work(ordinary)
    assert small.rollout(ordinary)["state"] == "SUCCEEDED"
    canaries = set(small.canaries(25))
    for device in small.devices:
        placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
            "policyName"])
        assert placed["openNetworkConfiguration"]["NetworkConfigurations"], device["name"]
        assert (placed.get("keyguardDisabled") is True) == (device["name"] in canaries)
    assert not device_patches(amapi_emulator)  # groups patched in place: nobody moved
    done = drive_to_end(small, rollout_id)
    assert done["state"] == "SUCCEEDED", done
    assert_settled(small, amapi_emulator)
