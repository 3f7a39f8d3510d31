"""The kiosk surface over HTTP: display, connectivity, private DNS, default home, multi-app
kiosks, app roles and install priority, and update control reach the preview and the devices;
what AMAPI would refuse is a 400 naming the field, with nothing stored or pushed."""

from __future__ import annotations

import pytest

from devstack.amapi_emulator import validate
from tests.integration.policy_helpers import (
    amapi_calls,
    amapi_device,
    amapi_policy,
    assert_amapi_matches_the_stores,
    clear_calls,
    managed_device,
)
from tests.integration.test_cosu_policies import KIOSK, PolicyApi

SCANNER, MAPS, COMPANION = "com.example.scanner", "com.example.maps", "com.example.companion"

KIOSK_SURFACE = {
    "display": {"brightness": {"mode": "FIXED", "level": 200}, "screenTimeoutSeconds": 300},
    "connectivity": {"usbDataAccess": "DISALLOWED", "wifiConfiguration": "LOCKED",
                     "ssidAllowlist": ["Store"], "tethering": "DISALLOWED",
                     "bluetoothSharing": False, "airplaneMode": "DISABLED", "wifi": "ENABLED",
                     "minimumWifiSecurity": "PERSONAL"},
    "privateDns": {"mode": "HOST", "host": "dns.example.com"},
    "home": {"defaultHome": True},
    "systemUpdate": {"type": "WINDOWED", "window": {"startMinutes": 60, "endMinutes": 180},
                     "rules": [{"id": "mainline-sundays", "targets": ["GOOGLE_PLAY_SYSTEM_UPDATE"],
                                "outcome": "FORCE", "when": {"daysOfWeek": ["SUNDAY"]}}]},
}


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    for package in (KIOSK, SCANNER, MAPS):
        assert api.app(package).status_code == 201
    return api


def test_every_setting_reaches_the_preview_and_the_devices(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    created = api.config(distribution={"mode": "ALL"}, **KIOSK_SURFACE)
    assert created.status_code == 201, created.get_json()
    config = created.get_json()
    for section, value in KIOSK_SURFACE.items():
        assert config[section] == {**config[section], **value}

    preview = api.call("GET", f"/cosu-configs/{config['id']}/policy").get_json()
    assert validate("Policy", preview) == []
    assert preview["displaySettings"]["screenBrightnessSettings"] == {
        "screenBrightnessMode": "BRIGHTNESS_FIXED", "screenBrightness": 200}
    assert preview["deviceConnectivityManagement"]["privateDnsSettings"] == {
        "privateDnsMode": "PRIVATE_DNS_SPECIFIED_HOST", "privateDnsHost": "dns.example.com"}
    assert preview["deviceRadioState"]["minimumWifiSecurityLevel"] == "PERSONAL_NETWORK_SECURITY"
    assert preview["defaultApplicationSettings"][0]["defaultApplications"] == [
        {"packageName": KIOSK}]
    assert preview["unifiedUpdatePolicy"]["rules"][0]["id"] == "mainline-sundays"

    # The device is on a policy AMAPI accepted, holding exactly the preview's settings.
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    for field in ("displaySettings", "deviceConnectivityManagement", "deviceRadioState",
                  "defaultApplicationSettings", "unifiedUpdatePolicy", "systemUpdate"):
        assert pushed[field] == preview[field], field
    lint = {f["code"] for f in config["findings"]}
    assert "USB_DATA_ALLOWED" not in lint and "DEFAULT_HOME_ANDROID_16" in lint

    # Taking a section away (null) gives AMAPI's default back: the field leaves the policy.
    patched = api.call("PATCH", f"/cosu-configs/{config['id']}",
                       {"privateDns": None, "display": {"brightness": None}})
    assert patched.status_code == 200, patched.get_json()
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    assert "privateDnsSettings" not in pushed["deviceConnectivityManagement"]
    assert pushed["displaySettings"] == {"screenTimeoutSettings": {
        "screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED", "screenTimeout": "300s"}}
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_new_private_dns_mode_drops_the_old_host(api):
    config = api.config(privateDns={"mode": "HOST", "host": "dns.example.com"}).get_json()
    patched = api.call("PATCH", f"/cosu-configs/{config['id']}",
                       {"privateDns": {"mode": "AUTOMATIC"}})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["privateDns"] == {"mode": "AUTOMATIC"}


def test_a_multi_app_kiosk_runs_the_kiosk_launcher_and_keeps_its_apps(api, amapi_emulator):
    device = managed_device(amapi_emulator, "SN-1")
    assert api.call("PATCH", f"/apps/{SCANNER}", {"installPriority": 1}).status_code == 200
    config = api.config(distribution={"mode": "ALL"}, additionalKioskApps=[
        {"packageName": SCANNER}, {"packageName": MAPS}]).get_json()
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    assert pushed["kioskCustomLauncherEnabled"] is True
    apps = {app["packageName"]: app for app in pushed["applications"]}
    assert set(apps) == {KIOSK, SCANNER, MAPS}
    assert not any(app.get("roles") for app in apps.values())
    assert apps[SCANNER]["installPriority"] == 1

    removed = api.call("DELETE", f"/apps/{MAPS}")
    assert removed.status_code == 412
    assert config["id"] in removed.get_json()["error"]["message"]

    # Back to one pinned app: the launcher goes, the app is pinned again.
    patched = api.call("PATCH", f"/cosu-configs/{config['id']}", {"additionalKioskApps": None})
    assert patched.status_code == 200, patched.get_json()
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    assert "kioskCustomLauncherEnabled" not in pushed
    assert [app["roles"] for app in pushed["applications"] if app["packageName"] == KIOSK] == [
        [{"roleType": "KIOSK"}]]


def test_two_apps_holding_one_role_on_the_same_devices_is_refused_before_any_call(
        api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    api.config(distribution={"mode": "ALL"})
    clear_calls(amapi_emulator)
    second_kiosk = api.app(COMPANION, roles=["KIOSK"], installOnDevice=True,
                           distribution={"mode": "ALL"})
    assert second_kiosk.status_code == 400, second_kiosk.get_json()
    [violation] = second_kiosk.get_json()["error"]["details"]
    assert violation["field"] == "roles" and KIOSK in violation["reason"]
    assert api.call("GET", f"/apps/{COMPANION}").status_code == 404
    assert amapi_calls(amapi_emulator) == []

    companion = api.app(COMPANION, roles=["COMPANION_APP"], installOnDevice=True,
                        distribution={"mode": "ALL"})
    assert companion.status_code == 201, companion.get_json()
    assert_amapi_matches_the_stores(amapi_emulator)


@pytest.mark.parametrize(("body", "field"), [
    ({"display": {"brightness": {"mode": "FIXED"}}}, "display.brightness.level"),
    ({"privateDns": {"mode": "HOST"}}, "privateDns.host"),
    ({"connectivity": {"ssidAllowlist": []}}, "connectivity.ssidAllowlist"),
    ({"additionalKioskApps": [{"packageName": "com.example.unknown"}]},
     "additionalKioskApps[0].packageName"),
    ({"home": {"defaultHome": True}, "additionalKioskApps": [{"packageName": SCANNER}]},
     "home.defaultHome"),
    ({"systemUpdate": {"rules": [{"id": "r", "targets": ["OS_UPDATE_WITH_API_LEVEL_CHANGE"],
                                  "outcome": "BLOCK"}]}}, "systemUpdate.rules[0].targets"),
])
def test_what_amapi_refuses_is_a_400_naming_the_field(api, amapi_emulator, body, field):
    clear_calls(amapi_emulator)
    refused = api.config(**body)
    assert refused.status_code == 400, refused.get_json()
    assert field in {v["field"] for v in refused.get_json()["error"]["details"]}
    assert api.call("GET", "/cosu-configs").get_json()["cosuConfigs"] == []
    assert amapi_calls(amapi_emulator) == []


@pytest.mark.parametrize("package", [KIOSK, SCANNER], ids=["pinned", "multi-app"])
def test_editing_a_kiosk_app_in_the_catalog_reaches_the_devices_showing_it(
        api, amapi_emulator, package):
    device = managed_device(amapi_emulator, "SN-1")
    api.config(distribution={"mode": "ALL"}, additionalKioskApps=[{"packageName": SCANNER}])
    patched = api.call("PATCH", f"/apps/{package}", {"managedConfiguration": {"mode": "store"},
                                                    "roles": ["COMPANION_APP"]})
    assert patched.status_code == 200, patched.get_json()
    pushed = amapi_policy(amapi_emulator, amapi_device(amapi_emulator, device["name"])[
        "policyName"])
    [entry] = [app for app in pushed["applications"] if app["packageName"] == package]
    assert entry["managedConfiguration"] == {"mode": "store"}
    assert entry["roles"] == [{"roleType": "COMPANION_APP"}]
    assert_amapi_matches_the_stores(amapi_emulator)
