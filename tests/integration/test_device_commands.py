"""Device inventory and commands through the commands function, with real notifications."""

import pytest

from shared.store import devices
from tests.conftest import ENV
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.notification_helpers import Relay


class Fleet:
    def __init__(self, apps, headers, server):
        self.apps, self.headers, self.server = apps, headers, server
        self.commands = apps["commands"].test_client()
        self.enroll = EnrollApi(apps["enroll"], headers)
        self.enroll.user("kiosk-operator")
        self.enroll.user("front-desk")
        self.profile = self.enroll.profile().get_json()
        self.relay = Relay(apps["notifications"], ENV.pubsub_host, ENV.topic, "commands-tests")
        self.relay.deliver_all(settle=0)  # drop what earlier tests published

    def device(self, serial, labels=None):
        status, device = emulator_call(self.server, "POST", "/emulator/v1/enroll", {
            "enrollmentToken": self.profile["token"]["value"], "apiLevel": 34,
            "hardwareInfo": {"serialNumber": serial, "manufacturer": "Zebra",
                             "brand": "Zebra", "model": "TC58"},
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
        assert status == 200
        self.relay.deliver_all(settle=0.1)
        device_id = device["name"].rsplit("/", 1)[1]
        if labels:
            devices.put(device["name"], {"labels": labels})
        return device_id

    def call(self, method, path, body=None, **headers):
        return self.commands.open(path, method=method, json=body,
                                  headers={**self.headers, **headers})

    def command(self, device_id, body, **headers):
        return self.call("POST", f"/devices/{device_id}/commands", body, **headers)

    def state_of(self, device_id, command_id):
        return self.call("GET", f"/devices/{device_id}/commands/{command_id}").get_json()


@pytest.fixture
def fleet(function_apps, admin_headers, firestore, amapi_emulator):
    return Fleet(function_apps, admin_headers, amapi_emulator)


@pytest.mark.parametrize("kind", ["LOCK", "REBOOT"])
def test_lock_and_reboot_are_settled_by_the_command_notification(fleet, kind):
    device = fleet.device("SN-1")
    response = fleet.command(device, {"type": kind})
    assert response.status_code == 202, response.get_json()
    command = response.get_json()
    assert command["state"] == "SENT" and command["operationName"]
    assert "COMMAND" in fleet.relay.deliver_all()
    assert fleet.state_of(device, command["id"])["state"] == "SUCCEEDED"


def test_sync_rereads_the_device_and_succeeds(fleet):
    device = fleet.device("SN-1")
    command = fleet.command(device, {"type": "SYNC"}).get_json()
    assert command["state"] == "SUCCEEDED"
    assert "appliedPolicyVersion" in command["result"]


def test_wipe_deletes_the_device_and_the_inventory_shows_it_deleted(fleet):
    device = fleet.device("SN-1")
    assert fleet.command(device, {"type": "WIPE"}).status_code == 400  # a reason is required
    command = fleet.command(device, {"type": "WIPE", "reason": "stolen",
                                     "params": {"wipeDataFlags": ["WIPE_EXTERNAL_STORAGE"]}})
    assert command.status_code == 202 and command.get_json()["state"] == "SUCCEEDED"
    name = f"enterprises/{ENV.enterprise_id}/devices/{device}"
    assert emulator_call(fleet.server, "GET", f"/v1/{name}")[0] == 404
    fleet.relay.deliver_all()
    assert fleet.call("GET", f"/devices/{device}").get_json()["state"] == "DELETED"
    assert fleet.command(device, {"type": "LOCK"}).status_code == 412


@pytest.mark.parametrize(("body", "ok"), [
    ({"type": "RESET_PASSWORD", "params": {"newPassword": "correct-horse"}}, True),
    ({"type": "RESET_PASSWORD"}, False),
    ({"type": "CLEAR_APP_DATA", "params": {"packageNames": ["com.example.kiosk"]}}, True),
    ({"type": "CLEAR_APP_DATA", "params": {"packageNames": []}}, False),
    ({"type": "CLEAR_APP_DATA"}, False),
    ({"type": "START_LOST_MODE", "params": {"lostMessage": "Return to store 42"}}, True),
    ({"type": "START_LOST_MODE", "params": {"lostOrganization": "Example Ltd"}}, False),
    ({"type": "STOP_LOST_MODE"}, True),
    ({"type": "LOCK", "params": {"force": True}}, False),
    ({"type": "SELF_DESTRUCT"}, False),
    ({}, False),
])
def test_other_commands_need_valid_params(fleet, body, ok):
    device = fleet.device("SN-1")
    response = fleet.command(device, body)
    assert response.status_code == (202 if ok else 400), response.get_json()
    if ok:
        fleet.relay.deliver_all()
        settled = fleet.state_of(device, response.get_json()["id"])
        assert settled["state"] == "SUCCEEDED", settled
        assert "correct-horse" not in str(settled)


def test_unknown_device_is_404(fleet):
    assert fleet.command("0000000000000000", {"type": "LOCK"}).status_code == 404
    assert fleet.call("GET", "/devices/0000000000000000").status_code == 404


def test_amapi_rejection_on_the_device_fails_the_command(fleet):
    device = fleet.device("SN-1")
    command = fleet.command(device, {"type": "RESET_PASSWORD",
                                     "params": {"newPassword": "1234"}}).get_json()
    fleet.relay.deliver_all()
    settled = fleet.state_of(device, command["id"])
    assert settled["state"] == "FAILED" and "INVALID_VALUE" in settled["error"]["message"]


def test_throttled_command_stays_pending_and_is_resent_by_reconciliation(fleet):
    device = fleet.device("SN-1")
    emulator_call(fleet.server, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [429],
                   "methods": ["enterprises.devices.issueCommand"]})
    response = fleet.command(device, {"type": "LOCK"})
    assert response.status_code == 202 and response.get_json()["state"] == "PENDING"
    emulator_call(fleet.server, "DELETE", "/emulator/v1/faults")
    reconciled = fleet.apps["reconcile_commands"].test_client().post("/", headers=fleet.headers)
    assert reconciled.status_code == 200 and reconciled.get_json()["sent"] == 1
    assert fleet.state_of(device, response.get_json()["id"])["state"] == "SENT"
    fleet.relay.deliver_all()
    assert fleet.state_of(device, response.get_json()["id"])["state"] == "SUCCEEDED"


def test_idempotency_key_returns_the_first_command(fleet):
    device = fleet.device("SN-1")
    first = fleet.command(device, {"type": "LOCK"}, **{"Idempotency-Key": "lock-1"})
    again = fleet.command(device, {"type": "LOCK"}, **{"Idempotency-Key": "lock-1"})
    assert again.get_json()["id"] == first.get_json()["id"]
    history = fleet.call("GET", f"/devices/{device}/commands").get_json()["commands"]
    assert len(history) == 1


def test_command_history_is_newest_first_and_pages_cover_each_command_once(fleet):
    device = fleet.device("SN-1")
    other = fleet.device("SN-2")
    issued = []
    for kind in ("LOCK", "REBOOT", "LOCK", "SYNC", "REBOOT", "LOCK", "REBOOT"):
        response = fleet.command(device, {"type": kind})
        assert response.status_code == 202, response.get_json()
        issued.append(response.get_json()["id"])
    fleet.command(other, {"type": "LOCK"})
    first = fleet.call("GET", f"/devices/{device}/commands").get_json()["commands"]
    assert [c["id"] for c in first] == issued[::-1]
    seen, token = [], None
    while True:
        url = f"/devices/{device}/commands?pageSize=3" + (f"&pageToken={token}" if token else "")
        body = fleet.call("GET", url).get_json()
        assert len(body["commands"]) <= 3
        seen += [c["id"] for c in body["commands"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert seen == issued[::-1]
    times = [c["createTime"] for c in first]
    assert times == sorted(times, reverse=True)


def test_listing_covers_every_device_once_and_filters(fleet):
    ids = [fleet.device(f"SN-{i:02d}", labels=["lobby"] if i % 3 == 0 else None)
           for i in range(12)]
    seen, token = [], None
    while True:
        url = "/devices?pageSize=5" + (f"&pageToken={token}" if token else "")
        body = fleet.call("GET", url).get_json()
        seen += [d["id"] for d in body["devices"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids)
    lobby = fleet.call("GET", "/devices?label=lobby").get_json()["devices"]
    assert sorted(d["id"] for d in lobby) == sorted(ids[::3])
    by_profile = fleet.call("GET", f"/devices?profileId={fleet.profile['id']}&pageSize=100")
    assert len(by_profile.get_json()["devices"]) == 12
    assert fleet.call("GET", "/devices?userName=nobody").get_json()["devices"] == []
    assert fleet.call("GET", "/devices?compliant=maybe").status_code == 400
    assert fleet.call("GET", "/devices?pageSize=0").status_code == 400


def test_device_details(fleet):
    device = fleet.device("SN-1")
    detail = fleet.call("GET", f"/devices/{device}").get_json()
    assert detail["amapiEnabled"] is True
    assert detail["userName"] == "kiosk-operator"
    assert detail["hardware"]["serialNumber"] == "SN-1"
    assert detail["software"]["apiLevel"] == 34
    assert detail["enrollmentDecision"]["result"] == "ALLOWED"
    assert detail["policy"]["name"].endswith("holding-global")


def test_label_change_moves_the_device_to_its_new_policy(fleet):
    device = fleet.device("SN-1")
    policy = fleet.apps["policy"].test_client()
    policy.post("/apps", json={"packageName": "com.example.kiosk", "type": "PUBLIC"},
                headers=fleet.headers)
    created = policy.post("/cosu-configs", headers=fleet.headers, json={
        "name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "CUSTOM", "labels": ["lobby"]}})
    assert created.status_code == 201
    patched = fleet.call("PATCH", f"/devices/{device}", {"labels": ["lobby"]})
    assert patched.status_code == 200 and patched.get_json()["labels"] == ["lobby"]
    assert "/policies/cosu-" in patched.get_json()["policy"]["name"]
    name = f"enterprises/{ENV.enterprise_id}/devices/{device}"
    assert "/policies/cosu-" in emulator_call(fleet.server, "GET", f"/v1/{name}")[1]["policyName"]
    assert fleet.call("PATCH", f"/devices/{device}", {"labels": ["bad label!"]}).status_code == 400


def test_a_label_change_that_keeps_the_devices_inputs_costs_no_amapi_call(fleet):
    from tests.integration.policy_helpers import amapi_calls, clear_calls

    device = fleet.device("SN-1")
    policy = fleet.apps["policy"].test_client()
    policy.post("/apps", json={"packageName": "com.example.kiosk", "type": "PUBLIC"},
                headers=fleet.headers)
    assert policy.post("/cosu-configs", headers=fleet.headers, json={
        "name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "CUSTOM", "labels": ["lobby"]}}).status_code == 201
    assert fleet.call("PATCH", f"/devices/{device}", {"labels": ["lobby"]}).status_code == 200
    clear_calls(fleet.server)

    kept = fleet.call("PATCH", f"/devices/{device}", {"labels": ["lobby", "floor-2"]})
    assert kept.status_code == 200, kept.get_json()
    assert amapi_calls(fleet.server) == []
    assert "/policies/cosu-" in kept.get_json()["policy"]["name"]
