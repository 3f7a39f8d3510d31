"""`?validateOnly=true`: a change is checked and its plan shown, with nothing stored and no
AMAPI call; the plan is the one the change then executes."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store.client import db
from tests.integration.policy_helpers import amapi_calls, clear_calls, managed_device
from tests.integration.rollout_helpers import bulk_fleet, work
from tests.integration.test_cosu_policies import PolicyApi

FLEET = 40


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


def stored_documents() -> dict[str, Any]:
    """Every Firestore document (subcollections included), by path."""
    found: dict[str, Any] = {}

    def walk(collections: Any) -> None:
        for collection in collections:
            for snapshot in collection.stream():
                found[snapshot.reference.path] = snapshot.to_dict()
                walk(snapshot.reference.collections())

    walk(db().collections())
    return found


def nothing_done(amapi_emulator: Any, before: dict[str, Any]) -> None:
    assert amapi_calls(amapi_emulator) == []
    assert stored_documents() == before


def preview_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"plan", "diff", "findings"}
    return dict(body)


def test_a_distribution_previewed_makes_exactly_the_calls_it_said(api, amapi_emulator):
    fleet = bulk_fleet(amapi_emulator, FLEET)
    clear_calls(amapi_emulator)
    before = stored_documents()
    body = {"name": "Lobby", "priority": 10, "app": {"packageName": "com.example.kiosk"},
            "distribution": {"mode": "ALL"}}

    preview = preview_of(api.call("POST", "/cosu-configs?validateOnly=true", body))

    nothing_done(amapi_emulator, before)
    plan = preview["plan"]
    assert plan["devicesMoved"] == FLEET and plan["policiesPatched"] == 1
    assert plan["amapiCalls"] == FLEET + 1 and plan["rollout"] is True
    assert len(plan["sampleDevices"]) == 10
    assert set(plan["sampleDevices"]) <= {d["id"] for d in fleet}
    assert {change["policy"] for change in preview["diff"]} == {"new-1"}
    fields = {change["field"]: change for change in preview["diff"]}
    assert fields["kioskCustomization"]["after"]["deviceSettings"] == "SETTINGS_ACCESS_BLOCKED"
    assert all(change["before"] is None for change in preview["diff"])  # a new policy

    created = api.call("POST", "/cosu-configs", body)
    assert created.status_code == 202
    work(created.get_json()["rollout"]["id"])
    assert len(amapi_calls(amapi_emulator)) == plan["amapiCalls"]


def test_a_content_edit_previewed_shows_each_field_and_makes_its_one_call(api, amapi_emulator):
    bulk_fleet(amapi_emulator, FLEET)
    config = api.config(distribution={"mode": "ALL"}).get_json()
    work(config["rollout"]["id"])
    clear_calls(amapi_emulator)
    before = stored_documents()
    change = {"lockdown": {"disableKeyguard": True}}

    preview = preview_of(api.call("PATCH", f"/cosu-configs/{config['id']}?validateOnly=true",
                                  change))

    nothing_done(amapi_emulator, before)
    assert preview["plan"] == {"policiesPatched": 1, "devicesMoved": 0, "amapiCalls": 1,
                               "rollout": False, "sampleDevices": []}
    assert [(c["field"], c["before"], c["after"]) for c in preview["diff"]] == [
        ("keyguardDisabled", False, True)]
    assert api.call("PATCH", f"/cosu-configs/{config['id']}", change).status_code == 200
    assert [c["method"] for c in amapi_calls(amapi_emulator)] == ["enterprises.policies.patch"]


def test_secrets_are_masked_in_the_diff(api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    api.config(distribution={"mode": "ALL"})
    wifi = api.call("POST", "/wifi-configs", {
        "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
        "passphrase": "first secret phrase", "distribution": {"mode": "ALL"}}).get_json()
    clear_calls(amapi_emulator)

    preview = preview_of(api.call("PATCH", f"/wifi-configs/{wifi['id']}?validateOnly=true",
                                  {"ssid": "StoreWiFi2", "security": "WPA_PSK",
                                   "passphrase": "second secret phrase"}))

    assert "secret phrase" not in str(preview)
    [network] = [c for c in preview["diff"]
                 if c["field"] == "openNetworkConfiguration.NetworkConfigurations"]
    assert network["after"][0]["WiFi"]["Passphrase"] == "********"
    assert network["after"][0]["WiFi"]["SSID"] == "StoreWiFi2"
    assert network["before"][0]["WiFi"]["SSID"] == "StoreWiFi"
    assert amapi_calls(amapi_emulator) == []


def test_a_deletion_previewed_keeps_the_resource(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    clear_calls(amapi_emulator)
    before = stored_documents()

    preview = preview_of(api.call("DELETE", f"/cosu-configs/{config['id']}?validateOnly=true"))

    nothing_done(amapi_emulator, before)
    assert preview["plan"]["devicesMoved"] == 1
    assert preview["plan"]["sampleDevices"] == [device["id"]]
    assert api.call("GET", f"/cosu-configs/{config['id']}").status_code == 200


def test_a_label_change_previewed_moves_nobody_yet(function_apps, api, admin_headers,
                                                   amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    api.config(distribution={"mode": "ALL"})
    api.config(name="Pilot", priority=20,
               distribution={"mode": "CUSTOM", "labels": ["pilot"]},
               lockdown={"disableKeyguard": True})
    clear_calls(amapi_emulator)
    before = stored_documents()
    client = function_apps["commands"].test_client()

    response = client.patch(f"/devices/{device['id']}?validateOnly=true",
                            json={"labels": ["pilot"]}, headers=admin_headers)

    preview = preview_of(response)
    nothing_done(amapi_emulator, before)
    assert preview["plan"]["devicesMoved"] == 1
    assert preview["plan"]["amapiCalls"] == preview["plan"]["policiesPatched"] + 1
    real = client.patch(f"/devices/{device['id']}", json={"labels": ["pilot"]},
                        headers=admin_headers)
    assert real.status_code == 200
    assert len(amapi_calls(amapi_emulator)) == preview["plan"]["amapiCalls"]


def test_an_idempotency_key_is_not_spent_by_a_preview(api, amapi_emulator):
    body = {"name": "Lobby", "priority": 10, "app": {"packageName": "com.example.kiosk"}}
    preview_of(api.call("POST", "/cosu-configs?validateOnly=true", body,
                        **{"Idempotency-Key": "k-1"}))
    created = api.call("POST", "/cosu-configs", body, **{"Idempotency-Key": "k-1"})
    assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers


def test_validation_still_refuses_and_the_parameter_is_checked(api, amapi_emulator):
    refused = api.call("POST", "/cosu-configs?validateOnly=true",
                       {"name": "Lobby", "priority": 10, "app": {"packageName": "com.nope"}})
    assert refused.status_code == 400
    bad = api.call("POST", "/cosu-configs?validateOnly=yes",
                   {"name": "Lobby", "priority": 10, "app": {"packageName": "com.example.kiosk"}})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"][0]["field"] == "validateOnly"
