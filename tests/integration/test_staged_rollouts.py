"""Staged rollouts: a change reaches a few devices first, goes on while what they report stays
healthy, and rolls itself back when they report trouble.

The fleet is the AMAPI emulator's; its notifications reach the notifications function through
a Pub/Sub relay stepped by the test, and the rollout worker runs when the test says, as the
rollouts function would run it on the rollout's message.
"""

from __future__ import annotations

import datetime
import math
import threading
from typing import Any

import pytest

from shared.access import roles
from shared.clock import rfc3339, utcnow
from shared.config import settings
from shared.policy import push, staged_rollouts
from shared.policy.staging import canary_rank
from shared.store import devices, effective_policies
from tests.conftest import ENV
from tests.integration.enroll_helpers import emulator_call
from tests.integration.notification_helpers import Relay
from tests.integration.policy_helpers import (
    amapi_device,
    amapi_policy,
    assert_amapi_matches_the_stores,
    clear_calls,
    managed_device,
)
from tests.integration.rollout_helpers import bulk_fleet, device_patches, work, work_into_an_outage
from tests.integration.test_cosu_policies import KIOSK, PolicyApi

FLEET = 200
THREE_STAGES = [{"percent": 5}, {"percent": 25}, {"percent": 100}]
GATE = {"soakSeconds": 600, "minAppliedPercent": 95, "maxNonCompliantPercent": 2,
        "maxAppErrorDevices": 0}
CHANGE = {"lockdown": {"disableKeyguard": True}}


class Fleet:
    """200 emulated devices on one COSU configuration, their reports relayed on demand."""

    def __init__(self, apps: dict[str, Any], headers: dict[str, str], server: Any) -> None:
        self.api = PolicyApi(apps["policy"], headers)
        self.reconcile = apps["reconcile_commands"].test_client()
        self.headers = headers
        self.server = server
        assert self.api.app().status_code == 201
        self.relay = Relay(apps["notifications"], ENV.pubsub_host, ENV.topic,
                           "staged-rollouts")
        self.relay.deliver_all(settle=0)
        self.devices = bulk_fleet(server, FLEET)
        created = self.api.config(distribution={"mode": "ALL"})
        assert created.status_code == 202, created.get_json()
        self.config = created.get_json()
        work(self.config["rollout"]["id"])
        self.reports()

    def reports(self) -> None:
        """Hand every notification the emulator published so far to the function."""
        self.relay.deliver_all()

    def stage(self, changes: dict[str, Any], **plan: Any) -> dict[str, Any]:
        body = {**changes, "rollout": {"stages": THREE_STAGES, "gate": GATE, **plan}}
        response = self.api.call("PATCH", f"/cosu-configs/{self.config['id']}", body)
        assert response.status_code == 202, response.get_json()
        assert response.headers["Location"].endswith(
            f"/rollouts/{response.get_json()['rollout']['id']}")
        return dict(response.get_json())

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        response = self.api.call("GET", f"/rollouts/{rollout_id}")
        assert response.status_code == 200
        return dict(response.get_json())

    def soak_over(self, minutes: int = 11) -> dict[str, Any]:
        """The scheduled target runs with its rollout clock past the stage's soak."""
        later = rfc3339(utcnow() + datetime.timedelta(minutes=minutes))
        response = self.reconcile.post("/", json={"now": later}, headers=self.headers)
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json())

    def canaries(self, share: float) -> list[str]:
        """The devices a share of the fleet stages: first by the stable canary order."""
        ranked = sorted(self.devices, key=lambda d: canary_rank(d["id"]))
        return [d["name"] for d in ranked[:math.ceil(share * len(ranked) / 100)]]

    def amapi_state(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The emulator's policies (content) and each device's policy."""
        enterprise = settings().enterprise
        status, listed = emulator_call(self.server, "GET",
                                       f"/v1/{enterprise}/policies?pageSize=1000")
        assert status == 200, listed
        policies = {p["name"]: {k: v for k, v in p.items() if k != "version"}
                    for p in listed.get("policies", [])}
        placed: dict[str, str] = {}
        token = ""
        while True:
            status, page = emulator_call(self.server, "GET", f"/v1/{enterprise}/devices"
                                         f"?pageSize=100&pageToken={token}")
            assert status == 200, page
            placed.update({d["name"]: d["policyName"] for d in page.get("devices", [])})
            token = page.get("nextPageToken", "")
            if not token:
                return policies, placed


@pytest.fixture
def fleet(function_apps, admin_headers, firestore, amapi_emulator) -> Fleet:
    return Fleet(function_apps, admin_headers, amapi_emulator)


def run_stage(fleet: Fleet, rollout_id: str) -> dict[str, Any]:
    """The worker pushes the current stage; the devices report; the rollout as it then is."""
    work(rollout_id)
    fleet.reports()
    return fleet.rollout(rollout_id)


def test_three_healthy_stages_end_where_an_unstaged_change_ends(fleet, amapi_emulator):
    clear_calls(amapi_emulator)
    staged = fleet.stage(CHANGE)
    rollout_id = staged["rollout"]["id"]
    assert staged["pendingChange"]["rolloutId"] == rollout_id
    assert staged["pendingChange"]["staged"]["lockdown"]["disableKeyguard"] is True
    assert staged["lockdown"]["disableKeyguard"] is False  # stored as it was until promoted
    assert [s["state"] for s in staged["rollout"]["stages"]] == ["PUSHING", "PENDING",
                                                                 "PENDING"]

    first = run_stage(fleet, rollout_id)
    assert first["state"] == "RUNNING" and first["stages"][0]["state"] == "SOAKING"
    assert first["stages"][0]["devices"] == 10
    assert set(device_patches(amapi_emulator)) == set(fleet.canaries(5))
    assert fleet.soak_over(minutes=1)["rolloutGatesRead"] == 0  # still soaking

    assert fleet.soak_over()["rolloutGatesRead"] == 1
    second = run_stage(fleet, rollout_id)
    assert second["stages"][0] | {"startTime": None, "endTime": None} == {
        "percent": 5, "state": "PASSED", "devices": 10, "appliedPercent": 100.0,
        "nonCompliantPercent": 0.0, "appErrorDevices": 0, "startTime": None, "endTime": None}
    assert second["stages"][1]["state"] == "SOAKING" and second["stages"][1]["devices"] == 50
    assert set(device_patches(amapi_emulator)) == set(fleet.canaries(25))

    fleet.soak_over()
    third = run_stage(fleet, rollout_id)
    assert third["stages"][2]["state"] == "SOAKING" and third["stages"][2]["devices"] == FLEET
    fleet.soak_over()
    work(rollout_id)

    done = fleet.rollout(rollout_id)
    assert done["state"] == "SUCCEEDED", done
    assert [s["state"] for s in done["stages"]] == ["PASSED"] * 3
    assert all(s["appliedPercent"] == 100.0 for s in done["stages"])
    # Each canary moved once, nobody else: the rest got the change by a patch of their group.
    assert device_patches(amapi_emulator) == {name: 1 for name in fleet.canaries(25)}
    config = fleet.api.call("GET", f"/cosu-configs/{fleet.config['id']}").get_json()
    assert config["lockdown"]["disableKeyguard"] is True and "pendingChange" not in config
    assert_amapi_matches_the_stores(amapi_emulator)  # the content an unstaged change gives
    with roles.as_system():
        assert not [g for g in effective_policies.in_space("global").values()
                    if g.get("choice", {}).get("variant")]


def test_canary_app_errors_roll_every_device_back(fleet, amapi_emulator, function_apps):
    before = fleet.amapi_state()
    failing = fleet.canaries(5)[:3]
    status, body = emulator_call(amapi_emulator, "POST", "/emulator/v1/behaviors", {
        "devices": failing, "policy": "*", "appError": {
            "packageName": KIOSK, "key": "server_url", "message": "Cannot reach the server"}})
    assert status == 200, body
    rollout_id = fleet.stage(CHANGE)["rollout"]["id"]

    soaking = run_stage(fleet, rollout_id)
    assert soaking["stages"][0]["state"] == "SOAKING"
    fleet.soak_over()
    rolling_back = fleet.rollout(rollout_id)
    assert rolling_back["phase"] == "ROLLING_BACK"
    work(rollout_id)

    done = fleet.rollout(rollout_id)
    assert done["state"] == "ROLLED_BACK", done
    assert done["stages"][0] | {"startTime": None, "endTime": None} == {
        "percent": 5, "state": "FAILED", "devices": 10, "appliedPercent": 100.0,
        "nonCompliantPercent": 0.0, "appErrorDevices": 3, "startTime": None, "endTime": None}
    assert [s["state"] for s in done["stages"][1:]] == ["PENDING", "PENDING"]
    assert done["gateFailure"]["stage"] == 1
    assert "3 devices report an ERROR app state" in done["gateFailure"]["reasons"][0]
    assert {f["deviceId"] for f in done["failures"][:3]} == {n.rsplit("/", 1)[1]
                                                              for n in failing}
    assert all("server_url" in f["reason"] for f in done["failures"][:3])
    assert fleet.amapi_state() == before  # same policies, same content, same assignments
    config = fleet.api.call("GET", f"/cosu-configs/{fleet.config['id']}").get_json()
    assert config["lockdown"]["disableKeyguard"] is False and "pendingChange" not in config
    assert_amapi_matches_the_stores(amapi_emulator)

    audit = fleet.api.call("GET", "/audit-log?pageSize=100").get_json()["entries"]
    about = [e for e in audit if e["resource"] == f"/policy/rollouts/{rollout_id}"]
    actions = {e["action"] for e in about}
    assert {"ROLLOUT stage pushed", "ROLLOUT rollback started",
            "ROLLOUT rollout rolled back"} <= actions
    [why] = [e for e in about if e["action"] == "ROLLOUT rollback started"]
    assert why["principal"] == staged_rollouts.SYSTEM
    assert "3 devices report an ERROR app state" in why["detail"]


def test_pause_holds_resume_continues_and_rollback_mid_way_restores_everything(
        fleet, amapi_emulator):
    before = fleet.amapi_state()
    rollout_id = fleet.stage(CHANGE)["rollout"]["id"]
    run_stage(fleet, rollout_id)

    paused = fleet.api.call("POST", f"/rollouts/{rollout_id}:pause")
    assert paused.status_code == 200 and paused.get_json()["state"] == "PAUSED"
    assert fleet.soak_over()["rolloutGatesRead"] == 0
    held = fleet.rollout(rollout_id)
    assert held["state"] == "PAUSED" and held["stages"][0]["state"] == "SOAKING"

    resumed = fleet.api.call("POST", f"/rollouts/{rollout_id}:resume")
    assert resumed.status_code == 200, resumed.get_json()
    assert fleet.soak_over()["rolloutGatesRead"] == 1
    second = run_stage(fleet, rollout_id)
    assert second["stages"][0]["state"] == "PASSED"
    assert second["stages"][1]["state"] == "SOAKING"

    # A configuration change in the space waits for the staged rollout.
    other = fleet.api.call("PATCH", f"/cosu-configs/{fleet.config['id']}",
                           {"lockdown": {"disableStatusBar": False}})
    assert other.status_code == 412
    assert rollout_id in other.get_json()["error"]["message"]

    rolled = fleet.api.call("POST", f"/rollouts/{rollout_id}:rollback")
    assert rolled.status_code == 200, rolled.get_json()
    assert rolled.get_json()["phase"] == "ROLLING_BACK"
    work(rollout_id)
    done = fleet.rollout(rollout_id)
    assert done["state"] == "ROLLED_BACK"
    assert done["stages"][1]["state"] == "ROLLED_BACK"
    assert fleet.amapi_state() == before
    assert_amapi_matches_the_stores(amapi_emulator)
    again = fleet.api.call("POST", f"/rollouts/{rollout_id}:promote")
    assert again.status_code == 412
    # The space takes changes again.
    assert fleet.api.call("PATCH", f"/cosu-configs/{fleet.config['id']}",
                          {"lockdown": {"disableStatusBar": False}}).status_code == 200


def test_a_report_from_before_the_stage_never_counts_as_applied(fleet, amapi_emulator):
    rollout_id = fleet.stage(CHANGE, stages=[{"percent": 100}], autoRollback=False)[
        "rollout"]["id"]
    work(rollout_id)  # the whole group is patched in place: every device had reported before
    fleet.soak_over()  # no report since the stage started

    paused = fleet.rollout(rollout_id)
    assert paused["state"] == "PAUSED", paused
    assert paused["stages"][0]["state"] == "FAILED"
    assert paused["stages"][0]["appliedPercent"] == 0.0
    assert "0.0 % of 200 devices report the new policy applied" in paused["gateFailure"][
        "reasons"][0]

    fleet.reports()  # now they report the new version
    resumed = fleet.api.call("POST", f"/rollouts/{rollout_id}:resume")
    assert resumed.status_code == 200, resumed.get_json()
    work(rollout_id)  # the gate is read again, passes, and the change is promoted
    work(rollout_id)
    done = fleet.rollout(rollout_id)
    assert done["state"] == "SUCCEEDED", done
    assert done["stages"][0]["appliedPercent"] == 100.0
    assert_amapi_matches_the_stores(amapi_emulator)


def test_hand_picked_canaries_and_promotion_by_an_administrator(fleet, amapi_emulator):
    picked = [fleet.devices[7]["id"], fleet.devices[150]["name"]]
    clear_calls(amapi_emulator)
    rollout_id = fleet.stage(CHANGE, stages=[{"deviceIds": picked}, {"percent": 100}])[
        "rollout"]["id"]
    first = run_stage(fleet, rollout_id)
    assert first["stages"][0]["devices"] == 2
    assert set(device_patches(amapi_emulator)) == {fleet.devices[7]["name"],
                                                   fleet.devices[150]["name"]}

    promoted = fleet.api.call("POST", f"/rollouts/{rollout_id}:promote")
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["stages"][0]["state"] == "PROMOTED"
    run_stage(fleet, rollout_id)
    fleet.api.call("POST", f"/rollouts/{rollout_id}:promote")
    work(rollout_id)
    done = fleet.rollout(rollout_id)
    assert done["state"] == "SUCCEEDED", done.get("gateFailure")
    assert_amapi_matches_the_stores(amapi_emulator)


@pytest.mark.parametrize("plan, field", [
    ({"stages": []}, "stages"),
    ({"stages": [{"percent": 25}, {"percent": 5}]}, "stages"),
    ({"stages": [{"percent": 5, "deviceIds": ["a"]}]}, "stages"),
    ({"stages": [{"percent": 0}]}, "stages"),
    ({"stages": [{"percent": 5}], "gate": {"minAppliedPercent": 101}}, "gate"),
    ({"stages": [{"percent": 5}], "autoRollback": "yes"}, "autoRollback"),
    ({"stages": [{"percent": 5}], "canary": True}, "canary"),
])
def test_a_bad_rollout_plan_is_a_400_naming_the_field(fleet, plan, field):
    response = fleet.api.call("PATCH", f"/cosu-configs/{fleet.config['id']}",
                              {**CHANGE, "rollout": plan})
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert any(v["field"].startswith(field) for v in error["details"]), error
    config = fleet.api.call("GET", f"/cosu-configs/{fleet.config['id']}").get_json()
    assert "pendingChange" not in config


def test_a_staged_creation_reaches_nobody_until_promoted_and_a_rollback_deletes_it(
        fleet, amapi_emulator):
    before = fleet.amapi_state()
    response = fleet.api.call("POST", "/cosu-configs", {
        "name": "Lobby v2", "priority": 20, "app": {"packageName": KIOSK},
        "distribution": {"mode": "ALL"}, "lockdown": {"disableKeyguard": True},
        "rollout": {"stages": [{"percent": 10}, {"percent": 100}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    created = response.get_json()
    assert created["distribution"] == {"mode": "NONE"}  # stored reaching nobody
    assert created["pendingChange"]["staged"]["distribution"]["mode"] == "ALL"
    rollout_id = created["rollout"]["id"]

    first = run_stage(fleet, rollout_id)
    assert first["stages"][0]["devices"] == 20
    config_url = f"/cosu-configs/{created['id']}"
    assert fleet.api.call("PATCH", config_url, {"priority": 30}).status_code == 412

    rolled = fleet.api.call("POST", f"/rollouts/{rollout_id}:cancel")
    assert rolled.status_code == 200 and rolled.get_json()["phase"] == "ROLLING_BACK"
    work(rollout_id)
    assert fleet.rollout(rollout_id)["state"] == "ROLLED_BACK"
    assert fleet.api.call("GET", config_url).status_code == 404
    assert fleet.amapi_state() == before
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_staged_creation_promoted_switches_the_fleet(fleet, amapi_emulator):
    response = fleet.api.call("POST", "/cosu-configs", {
        "name": "Lobby v2", "priority": 20, "app": {"packageName": KIOSK},
        "distribution": {"mode": "ALL"}, "lockdown": {"disableKeyguard": True},
        "rollout": {"stages": [{"percent": 10}, {"percent": 100}], "gate": GATE}})
    assert response.status_code == 202, response.get_json()
    rollout_id = response.get_json()["rollout"]["id"]
    run_stage(fleet, rollout_id)
    fleet.soak_over()
    run_stage(fleet, rollout_id)
    fleet.soak_over()
    work(rollout_id)

    done = fleet.rollout(rollout_id)
    assert done["state"] == "SUCCEEDED", (done.get("gateFailure"), done["stages"])
    config = fleet.api.call("GET", f"/cosu-configs/{response.get_json()['id']}").get_json()
    assert config["distribution"]["mode"] == "ALL" and "pendingChange" not in config
    assert config["etag"] == done["trigger"]["etag"]
    assert_amapi_matches_the_stores(amapi_emulator)


def test_other_changes_go_on_during_a_stage_and_the_canaries_keep_the_staged_change(
        fleet, amapi_emulator):
    rollout_id = fleet.stage(CHANGE)["rollout"]["id"]
    run_stage(fleet, rollout_id)
    canaries = set(fleet.canaries(5))

    wifi = fleet.api.call("POST", "/wifi-configs", {
        "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
        "passphrase": "correct horse battery", "distribution": {"mode": "ALL"}})
    assert wifi.status_code == 201, wifi.get_json()
    second = fleet.api.call("PATCH", f"/cosu-configs/{fleet.config['id']}",
                            {**CHANGE, "rollout": {"stages": [{"percent": 50}]}})
    assert second.status_code == 412 and rollout_id in second.get_json()["error"]["message"]

    for device in fleet.devices:
        placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator,
                                                           device["name"])["policyName"])
        assert [n["WiFi"]["SSID"] for n in placed["openNetworkConfiguration"][
            "NetworkConfigurations"]] == ["StoreWiFi"], device["name"]
        assert (placed.get("keyguardDisabled") is True) == (device["name"] in canaries)
    assert fleet.rollout(rollout_id)["stages"][0]["state"] == "SOAKING"

    fleet.reports()  # the devices apply the Wi-Fi: the gate counts the version they now run
    for _ in range(3):
        fleet.soak_over()
        run_stage(fleet, rollout_id)
    work(rollout_id)
    done = fleet.rollout(rollout_id)
    assert done["state"] == "SUCCEEDED", done.get("gateFailure")
    assert_amapi_matches_the_stores(amapi_emulator)
def test_an_outage_mid_stage_then_two_workers_move_each_canary_once(fleet, amapi_emulator,
                                                                    tuned):
    tuned(ROLLOUT_BATCH_SIZE=10)
    rollout_id = fleet.stage(CHANGE)["rollout"]["id"]
    run_stage(fleet, rollout_id)
    fleet.soak_over()
    clear_calls(amapi_emulator)

    work_into_an_outage(amapi_emulator, rollout_id, 15)
    assert fleet.rollout(rollout_id)["stages"][1]["state"] == "PUSHING"
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    workers = [threading.Thread(target=work, args=(rollout_id,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)

    second = fleet.rollout(rollout_id)["stages"][1]
    assert second["state"] == "SOAKING" and second["devices"] == 50
    assert device_patches(amapi_emulator) == {
        name: 1 for name in set(fleet.canaries(25)) - set(fleet.canaries(5))}


def test_a_device_enrolling_during_a_stage_gets_the_stored_version_until_promotion(
        fleet, amapi_emulator):
    rollout_id = fleet.stage(CHANGE, stages=[{"percent": 5}, {"percent": 100}])[
        "rollout"]["id"]
    run_stage(fleet, rollout_id)
    newcomer = managed_device(amapi_emulator, "LATE-1")
    with roles.as_system():
        devices.put(newcomer["name"], push.assign_device(newcomer, "global"))
    placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator,
                                                       newcomer["name"])["policyName"])
    assert placed.get("keyguardDisabled") is not True  # the stored version, not the staged

    fleet.soak_over()
    run_stage(fleet, rollout_id)
    fleet.soak_over()
    work(rollout_id)
    assert fleet.rollout(rollout_id)["state"] == "SUCCEEDED"
    assert_amapi_matches_the_stores(amapi_emulator)  # the newcomer too, on the new content
    placed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator,
                                                       newcomer["name"])["policyName"])
    assert placed["keyguardDisabled"] is True
