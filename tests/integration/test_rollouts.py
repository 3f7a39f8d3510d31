"""Rollouts: changes too large to push inline are stored at once and pushed in paced batches.

The worker runs here as the rollouts function runs it (`rollout_worker.run` with the message's
payload), so a test decides when it runs, how many run at once, and what fails meanwhile.
"""

from __future__ import annotations

import threading
import time

import pytest

from shared.access import roles
from shared.clock import utcnow
from shared.store import devices, rollouts
from tests.integration.enroll_helpers import emulator_call
from tests.integration.policy_helpers import (
    amapi_calls,
    assert_amapi_matches_the_stores,
    clear_calls,
)
from tests.integration.rollout_helpers import (
    bulk_fleet,
    device_patches,
    one_batch,
    throttled,
    work,
    work_into_an_outage,
)
from tests.integration.test_cosu_policies import PolicyApi


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


def started(response) -> dict:
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/rollouts/{body['rollout']['id']}")
    return body


def test_a_change_over_the_inline_limit_is_stored_at_once_and_pushed_by_its_rollout(
        api, amapi_emulator):
    fleet = bulk_fleet(amapi_emulator, 40)
    clear_calls(amapi_emulator)

    body = started(api.config(distribution={"mode": "ALL"}))
    rollout = body["rollout"]
    assert rollout["state"] == "PENDING" and rollout["percent"] == 0
    assert rollout["totals"] == {"devices": 40, "policies": 1}
    assert rollout["trigger"] == {"kind": "COSU_CONFIG", "id": body["id"],
                                  "etag": body["etag"]}
    # Stored before the reply, pushed by nobody yet.
    assert api.call("GET", f"/cosu-configs/{body['id']}").status_code == 200
    assert amapi_calls(amapi_emulator) == []

    work(rollout["id"])

    done = api.call("GET", f"/rollouts/{rollout['id']}").get_json()
    assert done["state"] == "SUCCEEDED" and done["percent"] == 100
    assert done["done"] == {"moved": 40, "patched": 1, "skipped": 0, "failed": 0}
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
    assert rollouts.get(rollout["id"])["generation"] == 1  # nothing changed: never re-planned
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_change_within_the_inline_limit_is_pushed_before_the_reply(api, amapi_emulator):
    bulk_fleet(amapi_emulator, 10)
    created = api.config(distribution={"mode": "ALL"})
    assert created.status_code == 201 and "rollout" not in created.get_json()
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_content_edit_of_a_whole_fleet_stays_one_inline_call(api, amapi_emulator):
    bulk_fleet(amapi_emulator, 60)
    config = started(api.config(distribution={"mode": "ALL"}))
    work(config["rollout"]["id"])
    clear_calls(amapi_emulator)

    edited = api.call("PATCH", f"/cosu-configs/{config['id']}",
                      {"lockdown": {"disableKeyguard": True}})
    assert edited.status_code == 200, edited.get_json()
    assert [c["method"] for c in amapi_calls(amapi_emulator)] == [
        "enterprises.policies.patch"]
    assert_amapi_matches_the_stores(amapi_emulator)


def test_an_outage_half_way_then_a_redelivery_racing_a_second_worker_moves_each_device_once(
        api, amapi_emulator, tuned):
    tuned(ROLLOUT_BATCH_SIZE=20)
    fleet = bulk_fleet(amapi_emulator, 120)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    clear_calls(amapi_emulator)

    work_into_an_outage(amapi_emulator, rollout["id"], 50)
    half = rollouts.get(rollout["id"])
    assert half["state"] == "RUNNING" and 0 < half["done"]["moved"] < 120

    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    redelivered = threading.Thread(target=work, args=(rollout["id"],))
    racer = threading.Thread(target=work, args=(rollout["id"],))
    redelivered.start()
    racer.start()
    redelivered.join(120)
    racer.join(120)

    done = rollouts.get(rollout["id"])
    assert done["state"] == "SUCCEEDED"
    assert done["done"]["moved"] == 120
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_second_large_change_takes_the_first_ones_remaining_work_over(api, amapi_emulator):
    bulk_fleet(amapi_emulator, 40)
    first = started(api.config(name="First", distribution={"mode": "ALL"}))
    second = started(api.config(name="Second", priority=20, distribution={"mode": "ALL"},
                                lockdown={"disableKeyguard": True}))

    older = api.call("GET", f"/rollouts/{first['rollout']['id']}").get_json()
    assert older["state"] == "CANCELLED"
    assert older["supersededBy"] == second["rollout"]["id"]
    work(first["rollout"]["id"])  # its message arrives anyway: nothing happens
    work(second["rollout"]["id"])

    assert rollouts.get(second["rollout"]["id"])["state"] == "SUCCEEDED"
    assert_amapi_matches_the_stores(amapi_emulator)
    groups = {d["effectivePolicy"] for d in devices.managed_in_space("global")}
    assert len(groups) == 1


def test_an_edit_while_a_rollout_runs_is_picked_up_by_its_next_batch(
        api, amapi_emulator, tuned):
    tuned(ROLLOUT_BATCH_SIZE=10)
    bulk_fleet(amapi_emulator, 40, labels=["front"])
    config = started(api.config(distribution={"mode": "CUSTOM", "labels": ["front"]}))
    rollout_id = config["rollout"]["id"]
    assert one_batch(rollout_id, 10)
    edited = api.call("PATCH", f"/cosu-configs/{config['id']}",
                      {"lockdown": {"disableKeyguard": True}})
    assert edited.status_code == 200, edited.get_json()

    work(rollout_id)

    finished = rollouts.get(rollout_id)
    assert finished["state"] == "SUCCEEDED" and finished["generation"] >= 2
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_device_deleted_meanwhile_is_skipped_not_fatal(api, amapi_emulator):
    fleet = bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    gone, wiped = fleet[3], fleet[7]
    devices.put(gone["name"], {"state": "DELETED"})
    emulator_call(amapi_emulator, "DELETE", f"/v1/{wiped['name']}")

    work(rollout["id"])

    done = rollouts.get(rollout["id"])
    assert done["state"] == "SUCCEEDED"
    assert done["done"]["skipped"] == 2 and done["done"]["moved"] == 28


def test_cancel_stops_between_batches_and_says_what_stays(api, amapi_emulator):
    bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]

    cancelled = api.call("POST", f"/rollouts/{rollout['id']}:cancel")
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["state"] == "CANCELLED"
    assert "stay" in cancelled.get_json()["message"]
    work(rollout["id"])
    assert device_patches(amapi_emulator) == {}
    again = api.call("POST", f"/rollouts/{rollout['id']}:cancel")
    assert again.status_code == 412 and again.get_json()["error"]["message"]


def test_rollouts_are_listed_by_state_and_hidden_from_other_spaces(
        api, amapi_emulator, function_apps):
    from shared.store import access_control
    from tests.conftest import token_for

    bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    work(rollout["id"])

    listed = api.call("GET", "/rollouts?state=SUCCEEDED").get_json()
    assert [r["id"] for r in listed["rollouts"]] == [rollout["id"]]
    assert api.call("GET", "/rollouts?state=RUNNING").get_json()["rollouts"] == []
    assert api.call("GET", "/rollouts?state=LATE").status_code == 400

    access_control.put_binding({"principal": "paris@example.com", "role": "ADMIN",
                                "space": "paris"})
    stranger = PolicyApi(function_apps["policy"],
                         {"Authorization": f"Bearer {token_for('paris@example.com')}"})
    assert stranger.call("GET", f"/rollouts/{rollout['id']}").status_code == 404
    assert stranger.call("POST", f"/rollouts/{rollout['id']}:cancel").status_code == 404
    assert stranger.call("GET", "/rollouts").get_json()["rollouts"] == []


def test_the_scheduled_reconcile_resumes_a_rollout_whose_message_was_lost(
        api, amapi_emulator, function_apps, admin_headers):
    import datetime

    bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    rollouts.update(rollout["id"], {"updateTime": utcnow() - datetime.timedelta(minutes=5)})

    ran = function_apps["reconcile_commands"].test_client().post("/", headers=admin_headers)
    assert ran.status_code == 200, ran.get_json()
    assert ran.get_json()["rolloutsResumed"] == 1


def test_enrolling_a_hundred_devices_on_an_unchanged_configuration_patches_no_policy(
        api, amapi_emulator):
    from shared.policy import push

    bulk_fleet(amapi_emulator, 1)
    assert api.config(distribution={"mode": "ALL"}).status_code == 201
    newcomers = bulk_fleet(amapi_emulator, 100)
    clear_calls(amapi_emulator)

    with roles.as_system():
        for device in newcomers:
            devices.put(device["name"], push.assign_device(device, "global"))

    methods = [c["method"] for c in amapi_calls(amapi_emulator)]
    assert methods.count("enterprises.policies.patch") == 0
    assert methods.count("enterprises.devices.patch") == 100
    assert_amapi_matches_the_stores(amapi_emulator)


def test_devices_amapi_keeps_refusing_end_the_rollout_failed_naming_them(api, amapi_emulator):
    fleet = bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    status, body = emulator_call(amapi_emulator, "POST", "/emulator/v1/faults", {
        "probability": 1, "codes": [400], "methods": ["enterprises.devices.patch"]})
    assert status == 200, body

    work(rollout["id"])

    failed = api.call("GET", f"/rollouts/{rollout['id']}").get_json()
    assert failed["state"] == "FAILED", rollouts.get(rollout["id"])
    assert {f["deviceId"] for f in failed["failures"]} == {d["id"] for d in fleet}
    assert failed["done"]["moved"] == 0 and failed["done"]["failed"] >= 30


def test_under_a_lowered_quota_a_300_device_rollout_succeeds_without_429_and_a_lock_gets_through(
        api, amapi_emulator, function_apps, admin_headers, monkeypatch, tuned):
    from shared.amapi import budget

    fleet = bulk_fleet(amapi_emulator, 300)
    # AMAPI allows 120 calls per rolling 4 s; the budget keeps 100 per 4 s (10 per 0.4 s
    # slice, 7 of them for background work), so even 12 slices' worth stays within the quota.
    emulator_call(amapi_emulator, "POST", "/emulator/v1/quota", {"calls": 120,
                                                                 "windowSeconds": 4})
    tuned(AMAPI_BUDGET_CALLS=100, AMAPI_BUDGET_WINDOW_SECONDS=4)
    monkeypatch.setattr(budget, "_process", budget.Budget())
    clear_calls(amapi_emulator)

    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    worker = threading.Thread(target=work, args=(rollout["id"],))
    worker.start()
    while rollouts.get(rollout["id"])["done"]["moved"] < 60:
        time.sleep(0.05)

    commands = function_apps["commands"].test_client()
    target = fleet[-1]["id"]
    sent_at = time.monotonic()
    issued = commands.post(f"/devices/{target}/commands", json={"type": "LOCK"},
                           headers=admin_headers)
    assert issued.status_code == 202, issued.get_json()
    command = issued.get_json()
    while command["state"] == "PENDING":
        assert time.monotonic() - sent_at < 5, command
        time.sleep(0.05)
        command = commands.get(f"/devices/{target}/commands/{command['id']}",
                               headers=admin_headers).get_json()
    lock_seconds = time.monotonic() - sent_at
    assert rollouts.get(rollout["id"])["state"] == "RUNNING"  # the LOCK did not wait for it

    worker.join(120)
    done = rollouts.get(rollout["id"])
    assert done["state"] == "SUCCEEDED", done
    assert lock_seconds < 5
    assert throttled(amapi_emulator) == 0
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/quota")
    assert_amapi_matches_the_stores(amapi_emulator)


def test_pause_holds_a_rollout_between_batches_and_resume_finishes_it(
        api, amapi_emulator, tuned):
    tuned(ROLLOUT_BATCH_SIZE=10)
    fleet = bulk_fleet(amapi_emulator, 40)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    assert one_batch(rollout["id"], 10)

    paused = api.call("POST", f"/rollouts/{rollout['id']}:pause")
    assert paused.status_code == 200 and paused.get_json()["state"] == "PAUSED"
    work(rollout["id"])  # a redelivered message: the pause holds
    held = rollouts.get(rollout["id"])
    assert held["state"] == "PAUSED" and 0 < held["done"]["moved"] < 40
    assert api.call("POST", f"/rollouts/{rollout['id']}:pause").status_code == 412

    resumed = api.call("POST", f"/rollouts/{rollout['id']}:resume")
    assert resumed.status_code == 200 and resumed.get_json()["state"] == "PENDING"
    work(rollout["id"])

    done = api.call("GET", f"/rollouts/{rollout['id']}").get_json()
    assert done["state"] == "SUCCEEDED" and done["done"]["moved"] == 40
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
    audit = api.call("GET", "/audit-log").get_json()
    actions = " ".join(str(entry) for entry in audit["entries"])
    assert ":pause" in actions and ":resume" in actions


def test_a_worker_killed_before_its_checkpoint_leaves_no_device_moved_twice(
        api, amapi_emulator, monkeypatch, tuned):
    tuned(ROLLOUT_BATCH_SIZE=10)
    fleet = bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    clear_calls(amapi_emulator)

    def killed(*args, **kwargs):
        raise SystemExit("the instance was stopped")  # after AMAPI moved the batch

    with monkeypatch.context() as crash:
        crash.setattr(rollouts, "checkpoint", killed)
        with pytest.raises(SystemExit):
            work(rollout["id"])
    moved_unrecorded = sum(device_patches(amapi_emulator).values())
    assert moved_unrecorded == 9  # the first batch: the policy, then 9 devices
    assert rollouts.get(rollout["id"])["done"]["moved"] == 0
    config_id = rollout["trigger"]["id"]
    edited = api.call("PATCH", f"/cosu-configs/{config_id}",
                      {"lockdown": {"disableKeyguard": True}})  # so the rest is planned again
    assert edited.status_code == 200, edited.get_json()

    work(rollout["id"])  # the redelivered message

    done = rollouts.get(rollout["id"])
    assert done["state"] == "SUCCEEDED" and done["done"]["moved"] == 30
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
    assert_amapi_matches_the_stores(amapi_emulator)


def test_the_contract_declares_the_202_of_every_change_that_may_become_a_rollout(api):
    paths = api.call("GET", "/openapi.json").get_json()["paths"]
    for collection in ("/apps", "/wifi-configs", "/vpn-configs", "/cosu-configs"):
        item = next(p for p in paths if p.startswith(f"{collection}/{{") and p.count("/") == 2)
        for method, path in (("post", collection), ("patch", item), ("delete", item)):
            accepted = paths[path][method]["responses"]["202"]
            assert "Location" in accepted["headers"], (method, path)
    assert "202" not in paths["/rollouts/{rollout_id}:cancel"]["post"]["responses"]


def test_a_worker_whose_time_is_up_stops_between_steps_and_sends_itself_on(
        api, amapi_emulator, tuned):
    tuned(ROLLOUT_SLICE_SECONDS=0)
    fleet = bulk_fleet(amapi_emulator, 30)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]

    work(rollout["id"])  # its time is up after the first step: the rest waits for its message

    first = rollouts.get(rollout["id"])
    assert first["state"] == "RUNNING" and first["cursor"] == 1 and first["inFlight"] is None
    while rollouts.get(rollout["id"])["state"] == "RUNNING":
        work(rollout["id"])  # the messages it sent itself
    assert rollouts.get(rollout["id"])["state"] == "SUCCEEDED"
    assert device_patches(amapi_emulator) == {d["name"]: 1 for d in fleet}
