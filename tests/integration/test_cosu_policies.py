"""COSU configurations, app catalog, Wi-Fi and VPN pushed to AMAPI by the policy function."""

import io
import json
import logging

import pytest

from devstack.amapi_emulator import validate
from shared import logs
from shared.store import app_feedback, devices
from shared.store.client import db
from tests.integration.enroll_helpers import emulator_call
from tests.integration.policy_helpers import (
    amapi_calls,
    amapi_device,
    amapi_policy,
    clear_calls,
    managed_device,
)

KIOSK = "com.example.kiosk"
HELPER = "com.example.helper"
VPN_APP = "com.example.vpn"
SECRET = "s3cret-passphrase-xyz"


class PolicyApi:
    def __init__(self, app, headers):
        self.client = app.test_client()
        self.headers = headers

    def call(self, method, path, body=None, **headers):
        return self.client.open(path, method=method, json=body,
                                headers={**self.headers, **headers})

    def app(self, package=KIOSK, type_="PUBLIC", **fields):
        return self.call("POST", "/apps", {"packageName": package, "type": type_, **fields})

    def config(self, name="Lobby", priority=10, package=KIOSK, **fields):
        return self.call("POST", "/cosu-configs", {"name": name, "priority": priority,
                                                   "app": {"packageName": package}, **fields})


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


def test_defaults_compile_to_a_valid_kiosk_policy(api):
    created = api.config()
    assert created.status_code == 201, created.get_json()
    config = created.get_json()
    assert config["lockdown"]["disallowSetTime"] is True
    assert config["distribution"]["mode"] == "NONE"
    policy = api.call("GET", f"/cosu-configs/{config['id']}/policy").get_json()
    assert validate("Policy", policy) == []
    assert policy["autoDateAndTimeZone"] == "AUTO_DATE_AND_TIME_ZONE_ENFORCED"
    assert policy["advancedSecurityOverrides"]["untrustedAppsPolicy"] == "DISALLOW_INSTALL"
    for flag in ("funDisabled", "modifyAccountsDisabled", "networkEscapeHatchEnabled",
                 "privateKeySelectionEnabled", "setUserIconDisabled", "setWallpaperDisabled"):
        assert policy[flag] is True, flag
    [kiosk] = [a for a in policy["applications"] if a["packageName"] == KIOSK]
    assert kiosk["roles"] == [{"roleType": "KIOSK"}]
    assert policy["kioskCustomization"]["deviceSettings"] == "SETTINGS_ACCESS_BLOCKED"
    assert policy["statusReportingSettings"]["applicationReportsEnabled"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({"app": {"packageName": "com.example.unknown"}}, "app.packageName"),
    ({"systemUpdate": {"type": "WINDOWED"}}, "systemUpdate.window"),
    ({"systemUpdate": {"type": "AUTOMATIC",
                       "freezePeriods": [{"start": "01-01", "end": "04-01"}]}},
     "systemUpdate.freezePeriods"),
    ({"systemUpdate": {"type": "AUTOMATIC",
                       "freezePeriods": [{"start": "02-30", "end": "03-10"}]}},
     "systemUpdate.freezePeriods"),
    ({"systemUpdate": {"type": "AUTOMATIC",
                       "freezePeriods": [{"start": "01-01", "end": "01-10"},
                                         {"start": "02-10", "end": "02-20"}]}},
     "systemUpdate.freezePeriods"),
    ({"kiosk": {"navigation": "SIDEWAYS"}}, "kiosk.navigation"),
    ({"lockdown": {"keepScreenOn": ["SOLAR"]}}, "lockdown.keepScreenOn"),
    ({"lockdown": {"funDisabled": True}}, "lockdown.funDisabled"),
    ({"priority": "high"}, "priority"),
])
def test_bad_configurations_are_400_naming_the_field(api, body, field):
    response = api.config(**body)
    assert response.status_code == 400, response.get_json()
    fields = [d["field"] for d in response.get_json()["error"]["details"]]
    assert any(f.startswith(field) for f in fields), fields
    assert list(db().collection("cosuConfigs").stream()) == []


def test_in_house_kiosk_app_is_refused(api):
    assert api.app("com.example.inhouse", "IN_HOUSE").status_code == 201
    response = api.config(package="com.example.inhouse")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "app.packageName"


def test_distribution_moves_devices_and_a_content_change_costs_one_call(api, amapi_emulator):
    fleet = [managed_device(amapi_emulator, f"SN-{i:02d}") for i in range(20)]
    clear_calls(amapi_emulator)
    config = api.config(distribution={"mode": "ALL"}).get_json()
    calls = amapi_calls(amapi_emulator)
    assert [c["method"] for c in calls].count("enterprises.policies.patch") == 1
    assert [c["method"] for c in calls].count("enterprises.devices.patch") == 20
    policy_names = {amapi_device(amapi_emulator, d["name"])["policyName"] for d in fleet}
    assert len(policy_names) == 1 and "/policies/cosu-" in policy_names.pop()

    clear_calls(amapi_emulator)
    changed = api.call("PATCH", f"/cosu-configs/{config['id']}",
                       {"lockdown": {"disableKeyguard": True}},
                       **{"If-Match": config["etag"]})
    assert changed.status_code == 200, changed.get_json()
    calls = amapi_calls(amapi_emulator)
    assert len(calls) <= 3
    assert [c["method"] for c in calls] == ["enterprises.policies.patch"]
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, fleet[0]["name"])[
        "policyName"])
    assert pushed["keyguardDisabled"] is True


def test_unchanged_compilation_is_not_pushed(api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    clear_calls(amapi_emulator)
    again = api.call("PATCH", f"/cosu-configs/{config['id']}", {"description": "same policy"})
    assert again.status_code == 200
    assert amapi_calls(amapi_emulator) == []


def test_highest_priority_wins_and_ties_go_to_the_older(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    api.app("com.example.second")
    api.app("com.example.third")
    api.config("Low", 5, KIOSK, distribution={"mode": "ALL"})
    api.config("High", 50, "com.example.second", distribution={"mode": "ALL"})
    api.config("High too", 50, "com.example.third", distribution={"mode": "ALL"})
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    kiosk = [a["packageName"] for a in pushed["applications"] if a.get("roles")]
    assert kiosk == ["com.example.second"]


def test_custom_distribution_reaches_only_its_targets(api, amapi_emulator):
    tagged = managed_device(amapi_emulator, "SN-1", labels=["lobby"])
    by_user = managed_device(amapi_emulator, "SN-2", user="front-desk")
    other = managed_device(amapi_emulator, "SN-3")
    api.config(distribution={"mode": "CUSTOM", "labels": ["lobby"], "userNames": ["front-desk"]})
    assert "/policies/cosu-" in amapi_device(amapi_emulator, tagged["name"])["policyName"]
    assert "/policies/cosu-" in amapi_device(amapi_emulator, by_user["name"])["policyName"]
    assert amapi_device(amapi_emulator, other["name"])["policyName"].endswith("holding-global")
    assert devices.get(other["name"]).get("effectivePolicy") is None


def test_apps_wifi_and_vpn_reach_the_devices_they_are_distributed_to(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    assert api.app(HELPER, installOnDevice=True, managedConfiguration={"url": "https://x"},
                   distribution={"mode": "ALL"}).status_code == 201
    assert api.app(VPN_APP).status_code == 201
    wifi = api.call("POST", "/wifi-configs", {"name": "Store", "ssid": "StoreWiFi",
                                               "security": "WPA_PSK", "passphrase": SECRET,
                                               "distribution": {"mode": "ALL"}})
    assert wifi.status_code == 201, wifi.get_json()
    vpn = api.call("POST", "/vpn-configs", {"name": "Tunnel", "packageName": VPN_APP,
                                             "lockdownEnabled": True,
                                             "distribution": {"mode": "ALL"}})
    assert vpn.status_code == 201, vpn.get_json()
    api.config(distribution={"mode": "ALL"})
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    assert validate("Policy", pushed) == []
    packages = {a["packageName"] for a in pushed["applications"]}
    assert {KIOSK, HELPER, VPN_APP} <= packages
    assert pushed["alwaysOnVpnPackage"] == {"packageName": VPN_APP, "lockdownEnabled": True}
    [network] = pushed["openNetworkConfiguration"]["NetworkConfigurations"]
    assert network["WiFi"]["SSID"] == "StoreWiFi" and network["WiFi"]["Passphrase"] == SECRET


def test_wifi_passphrase_appears_in_no_response_and_no_log(api, amapi_emulator):
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logs.CloudLoggingFormatter())
    logs.configure()
    logs.logger.addHandler(handler)
    try:
        managed_device(amapi_emulator, "SN-1")
        api.config(distribution={"mode": "ALL"})
        created = api.call("POST", "/wifi-configs", {
            "name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK", "passphrase": SECRET,
            "distribution": {"mode": "ALL"}})
        config_id = api.call("GET", "/cosu-configs").get_json()["cosuConfigs"][0]["id"]
        responses = [created, api.call("GET", f"/wifi-configs/{created.get_json()['id']}"),
                     api.call("GET", "/wifi-configs"),
                     api.call("PATCH", f"/wifi-configs/{created.get_json()['id']}",
                              {"autoConnect": False}),
                     api.call("GET", f"/cosu-configs/{config_id}/policy")]
    finally:
        logs.logger.removeHandler(handler)
    assert created.get_json()["hasPassphrase"] is True
    for response in responses:
        assert response.status_code in (200, 201)
        assert SECRET not in response.get_data(as_text=True)
    assert lines.getvalue() and SECRET not in lines.getvalue()


def test_amapi_failure_stores_nothing_and_keeps_the_old_policy(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    before = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    emulator_call(amapi_emulator, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [503],
                   "methods": ["enterprises.policies.patch"]})
    response = api.call("PATCH", f"/cosu-configs/{config['id']}",
                        {"lockdown": {"disableKeyguard": True}})
    assert response.status_code == 503
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    stored = {k: v for k, v in config.items() if k != "findings"}  # only on create and patch
    assert api.call("GET", f"/cosu-configs/{config['id']}").get_json() == stored
    after = amapi_policy(amapi_emulator, before["name"])
    assert after["version"] == before["version"]


def test_failed_device_moves_are_undone(api, amapi_emulator):
    fleet = [managed_device(amapi_emulator, f"SN-{i}") for i in range(3)]
    emulator_call(amapi_emulator, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [503],
                   "methods": ["enterprises.devices.patch"]})
    response = api.config(distribution={"mode": "ALL"})
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    assert response.status_code == 503
    assert list(db().collection("cosuConfigs").stream()) == []
    for device in fleet:
        assert amapi_device(amapi_emulator, device["name"])["policyName"].endswith(
            "holding-global")


def test_app_in_use_cannot_be_deleted(api):
    api.config()
    response = api.call("DELETE", f"/apps/{KIOSK}")
    assert response.status_code == 412
    assert api.call("GET", f"/apps/{KIOSK}").status_code == 200


def test_stale_etag_and_immutable_fields(api):
    config = api.config().get_json()
    api.call("PATCH", f"/cosu-configs/{config['id']}", {"priority": 11})
    stale = api.call("PATCH", f"/cosu-configs/{config['id']}", {"priority": 12},
                     **{"If-Match": config["etag"]})
    assert stale.status_code == 412
    immutable = api.call("PATCH", f"/apps/{KIOSK}", {"type": "PRIVATE"})
    assert immutable.status_code == 400
    assert immutable.get_json()["error"]["details"][0]["field"] == "type"


def test_app_feedback_is_aggregated_over_devices(api):
    for device, severity in (("d1", "ERROR"), ("d2", "INFO"), ("d3", "ERROR")):
        db().collection(app_feedback.COLLECTION).document(
            app_feedback.state_id(device, KIOSK, "server_url")).set({
                "space": "global", "packageName": KIOSK, "deviceId": device,
                "key": "server_url", "severity": severity, "message": "unreachable",
                "data": "HTTP 503", "lastUpdateTime": "2026-11-20T10:21:00Z"})
    body = api.call("GET", f"/apps/{KIOSK}/feedback").get_json()
    assert body["devicesReporting"] == 3
    assert body["bySeverity"] == {"ERROR": 2, "INFO": 1}
    assert [s["severity"] for s in body["states"]] == ["ERROR", "ERROR", "INFO"]
    assert api.call("GET", "/apps/com.example.none/feedback").status_code == 404


def test_catalog_lists_and_pages(api):
    for i in range(6):
        api.app(f"com.example.app{i}")
    first = api.call("GET", "/apps?pageSize=4").get_json()
    second = api.call("GET", f"/apps?pageSize=4&pageToken={first['nextPageToken']}").get_json()
    names = [a["packageName"] for a in first["apps"] + second["apps"]]
    assert len(names) == 7 and len(set(names)) == 7
    assert json.loads(json.dumps(first))  # plain JSON
