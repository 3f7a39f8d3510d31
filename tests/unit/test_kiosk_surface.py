"""The kiosk surface (display, connectivity, private DNS, default home, multi-app kiosks, app
roles and install priority, update control) compiles to policies AMAPI accepts, and what AMAPI
refuses is refused before."""

import pytest
from marshmallow import ValidationError

from devstack.amapi_emulator import validate
from devstack.amapi_emulator.policy_rules import policy_problems
from shared.policy.compiler import PolicyInputError, PolicyInputs, compile_policy
from shared.policy.schemas import AppCreateSchema, CosuConfigCreateSchema

KIOSK_APP = "com.example.kiosk"


def cosu(**changes):
    return CosuConfigCreateSchema().load(
        {"name": "Lobby", "priority": 1, "app": {"packageName": KIOSK_APP}, **changes})


def app(package, **changes):
    return AppCreateSchema().load({"packageName": package, "type": "PUBLIC", **changes})


def compiled(config, apps=(), catalog=()):
    entries = {entry["packageName"]: entry for entry in (app(KIOSK_APP), *apps, *catalog)}
    policy = compile_policy(PolicyInputs(config=config, apps=list(apps), catalog=entries))
    assert validate("Policy", policy) == []
    assert policy_problems(policy) == []  # AMAPI's semantic rules, as the emulator has them
    return policy


def by_package(policy):
    return {entry["packageName"]: entry for entry in policy.get("applications", [])}


# Each new setting: the configuration's section -> the Policy fields it compiles to.
SURFACE = [
    ({"display": {"brightness": {"mode": "FIXED", "level": 180}}},
     {"displaySettings": {"screenBrightnessSettings": {
         "screenBrightnessMode": "BRIGHTNESS_FIXED", "screenBrightness": 180}}}),
    ({"display": {"brightness": {"mode": "AUTOMATIC"}, "screenTimeoutSeconds": 120}},
     {"displaySettings": {
         "screenBrightnessSettings": {"screenBrightnessMode": "BRIGHTNESS_AUTOMATIC"},
         "screenTimeoutSettings": {"screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED",
                                   "screenTimeout": "120s"}}}),
    ({"display": {"brightness": {"mode": "USER_CHOICE"}}},
     {"displaySettings": {"screenBrightnessSettings": {
         "screenBrightnessMode": "BRIGHTNESS_USER_CHOICE"}}}),
    ({"connectivity": {"usbDataAccess": "DISALLOWED", "wifiConfiguration": "LOCKED",
                       "tethering": "DISALLOWED", "bluetoothSharing": False}},
     {"deviceConnectivityManagement": {
         "usbDataAccess": "DISALLOW_USB_DATA_TRANSFER",
         "configureWifi": "DISALLOW_CONFIGURING_WIFI",
         "tetheringSettings": "DISALLOW_ALL_TETHERING",
         "bluetoothSharing": "BLUETOOTH_SHARING_DISALLOWED"}}),
    ({"connectivity": {"usbDataAccess": "NO_FILE_TRANSFER", "wifiConfiguration": "NO_ADD",
                       "tethering": "NO_WIFI", "bluetoothSharing": True,
                       "ssidAllowlist": ["Store-B", "Store-A"]}},
     {"deviceConnectivityManagement": {
         "usbDataAccess": "DISALLOW_USB_FILE_TRANSFER",
         "configureWifi": "DISALLOW_ADD_WIFI_CONFIG",
         "tetheringSettings": "DISALLOW_WIFI_TETHERING",
         "bluetoothSharing": "BLUETOOTH_SHARING_ALLOWED",
         "wifiSsidPolicy": {"wifiSsidPolicyType": "WIFI_SSID_ALLOWLIST",
                            "wifiSsids": [{"wifiSsid": "Store-A"}, {"wifiSsid": "Store-B"}]}}}),
    ({"connectivity": {"airplaneMode": "DISABLED", "wifi": "ENABLED",
                       "minimumWifiSecurity": "ENTERPRISE_192"}},
     {"deviceRadioState": {"airplaneModeState": "AIRPLANE_MODE_DISABLED",
                           "wifiState": "WIFI_ENABLED",
                           "minimumWifiSecurityLevel": "ENTERPRISE_BIT192_NETWORK_SECURITY"}}),
    ({"connectivity": {"airplaneMode": "USER_CHOICE", "wifi": "DISABLED",
                       "minimumWifiSecurity": "PERSONAL"}},
     {"deviceRadioState": {"airplaneModeState": "AIRPLANE_MODE_USER_CHOICE",
                           "wifiState": "WIFI_DISABLED",
                           "minimumWifiSecurityLevel": "PERSONAL_NETWORK_SECURITY"}}),
    ({"privateDns": {"mode": "HOST", "host": "dns.example.com"}},
     {"deviceConnectivityManagement": {"privateDnsSettings": {
         "privateDnsMode": "PRIVATE_DNS_SPECIFIED_HOST", "privateDnsHost": "dns.example.com"}}}),
    ({"privateDns": {"mode": "AUTOMATIC"}},
     {"deviceConnectivityManagement": {"privateDnsSettings": {
         "privateDnsMode": "PRIVATE_DNS_AUTOMATIC"}}}),
    ({"home": {"defaultHome": True}},
     {"defaultApplicationSettings": [{
         "defaultApplicationType": "DEFAULT_HOME",
         "defaultApplicationScopes": ["SCOPE_FULLY_MANAGED"],
         "defaultApplications": [{"packageName": KIOSK_APP}]}]}),
    ({"systemUpdate": {"type": "WINDOWED", "window": {"startMinutes": 120, "endMinutes": 240},
                       "rules": [{"id": "mainline-at-night",
                                  "targets": ["GOOGLE_PLAY_SYSTEM_UPDATE",
                                              "GOOGLE_SYSTEM_SERVICES"],
                                  "outcome": "FORCE",
                                  "when": {"daysOfWeek": ["SUNDAY"], "fromHour": 2,
                                           "toHour": 4}}]}},
     {"systemUpdate": {"type": "WINDOWED", "startMinutes": 120, "endMinutes": 240},
      "unifiedUpdatePolicy": {"rules": [{
          "id": "mainline-at-night",
          "targets": [{"targetType": "GOOGLE_PLAY_SYSTEM_UPDATE"},
                      {"targetType": "GOOGLE_SYSTEM_SERVICES"}],
          "outcome": {"outcomeType": "FORCE"},
          "predicate": {"daysOfWeek": ["SUNDAY"], "timeOfDayLowerBound": {"hours": 2},
                        "timeOfDayUpperBound": {"hours": 4}}}]}}),
    ({"systemUpdate": {"type": "RULES", "rules": [
        {"id": "hold-upgrades", "targets": ["OS_UPDATE_WITH_API_LEVEL_CHANGE"],
         "outcome": "BLOCK", "when": {"fromDate": "2027-11-15", "untilDate": "2028-01-05"},
         "stages": ["DOWNLOAD"]},
        {"id": "patches-after-a-week", "targets": ["OS_UPDATE_WITHOUT_API_LEVEL_CHANGE"],
         "outcome": "FORCE", "when": {"minUpdateAgeDays": 7}}]}},
     {"unifiedUpdatePolicy": {"rules": [
         {"id": "hold-upgrades", "targets": [{"targetType": "OS_UPDATE_WITH_API_LEVEL_CHANGE"}],
          "outcome": {"outcomeType": "BLOCK"},
          "predicate": {"dateLowerBound": {"year": 2027, "month": 11, "day": 15},
                        "dateUpperBound": {"year": 2028, "month": 1, "day": 5}},
          "stages": ["STAGE_DOWNLOAD"]},
         {"id": "patches-after-a-week",
          "targets": [{"targetType": "OS_UPDATE_WITHOUT_API_LEVEL_CHANGE"}],
          "outcome": {"outcomeType": "FORCE"},
          "predicate": {"updateAgeLowerBound": "604800s"}}]}}),
]


@pytest.mark.parametrize(("settings", "expected"), SURFACE,
                         ids=lambda value: next(iter(value)) if isinstance(value, dict) else "")
def test_each_setting_compiles_to_its_amapi_fields(settings, expected):
    policy = compiled(cosu(**settings))
    for field, value in expected.items():
        assert policy[field] == value


def test_update_rules_type_sends_no_system_update_so_the_rules_decide_os_updates():
    policy = compiled(cosu(systemUpdate={"type": "RULES", "rules": [
        {"id": "r", "targets": ["OS_UPDATE_WITHOUT_API_LEVEL_CHANGE"], "outcome": "FORCE"}]}))
    assert "systemUpdate" not in policy


def test_a_configuration_without_the_new_settings_compiles_as_before():
    policy = compiled(cosu())
    for field in ("displaySettings", "deviceConnectivityManagement", "deviceRadioState",
                  "defaultApplicationSettings", "unifiedUpdatePolicy",
                  "kioskCustomLauncherEnabled"):
        assert field not in policy
    # A stored configuration from before the new settings, with them as null, the same.
    assert compiled({**cosu(), "display": None, "connectivity": None, "privateDns": None,
                     "home": None, "additionalKioskApps": None}) == policy


def test_a_multi_app_kiosk_shows_its_apps_on_the_kiosk_launcher_and_pins_none():
    policy = compiled(cosu(additionalKioskApps=[{"packageName": "com.example.scanner"},
                                                {"packageName": "com.example.maps"}]),
                      catalog=[app("com.example.scanner", installPriority=5),
                               app("com.example.maps")])
    assert policy["kioskCustomLauncherEnabled"] is True
    apps = by_package(policy)
    assert apps[KIOSK_APP] == {"packageName": KIOSK_APP, "installType": "REQUIRED_FOR_SETUP"}
    assert apps["com.example.scanner"] == {"packageName": "com.example.scanner",
                                           "installType": "FORCE_INSTALLED",
                                           "installPriority": 5}
    assert apps["com.example.maps"]["installType"] == "FORCE_INSTALLED"


def test_a_multi_app_kiosk_app_must_be_a_play_app_in_the_catalog():
    with pytest.raises(PolicyInputError) as missing:
        compiled(cosu(additionalKioskApps=[{"packageName": "com.example.gone"}]))
    assert missing.value.field == "additionalKioskApps[0].packageName"
    with pytest.raises(PolicyInputError) as in_house:
        compiled(cosu(additionalKioskApps=[{"packageName": "com.example.own"}]),
                 catalog=[app("com.example.own", type="IN_HOUSE")])
    assert in_house.value.field == "additionalKioskApps[0].packageName"


def test_app_roles_and_install_priority_reach_the_policy():
    companion = app("com.example.companion", installOnDevice=True, roles=["COMPANION_APP"],
                    installPriority=1)
    policy = compiled(cosu(), apps=[companion])
    assert by_package(policy)["com.example.companion"] == {
        "packageName": "com.example.companion", "installType": "FORCE_INSTALLED",
        "installPriority": 1, "roles": [{"roleType": "COMPANION_APP"}]}
    # The pinned app's own catalog roles join its KIOSK role; no install priority during setup.
    pinned = app(KIOSK_APP, roles=["COMPANION_APP"], installPriority=3)
    policy = compiled(cosu(), catalog=[pinned])
    assert by_package(policy)[KIOSK_APP] == {
        "packageName": KIOSK_APP, "installType": "REQUIRED_FOR_SETUP",
        "roles": [{"roleType": "COMPANION_APP"}, {"roleType": "KIOSK"}]}


def test_a_catalog_kiosk_app_pins_itself_on_a_device_without_a_configuration():
    kiosk = app("com.example.signage", installOnDevice=True, roles=["KIOSK"])
    policy = compile_policy(PolicyInputs(config=None, apps=[kiosk],
                                         catalog={kiosk["packageName"]: kiosk}))
    assert validate("Policy", policy) == []
    assert by_package(policy)["com.example.signage"]["installType"] == "REQUIRED_FOR_SETUP"
    assert "kioskCustomLauncherEnabled" not in policy


@pytest.mark.parametrize(("config", "apps", "field"), [
    (cosu(), [app("com.example.other", installOnDevice=True, roles=["KIOSK"])], "roles"),
    (cosu(), [app("com.example.a", installOnDevice=True, roles=["COMPANION_APP"]),
              app("com.example.b", installOnDevice=True, roles=["COMPANION_APP"])], "roles"),
    (cosu(additionalKioskApps=[{"packageName": "com.example.other"}]),
     [app("com.example.other", installOnDevice=True, roles=["KIOSK"])],
     "additionalKioskApps"),
], ids=["two-kiosk-apps", "two-companions", "kiosk-role-in-a-multi-app-kiosk"])
def test_one_app_per_policy_holds_each_role(config, apps, field):
    with pytest.raises(PolicyInputError) as refused:
        compiled(config, apps=apps)
    assert refused.value.field == field


@pytest.mark.parametrize(("changes", "field"), [
    ({"display": {"brightness": {"mode": "FIXED"}}}, "display"),
    ({"display": {"brightness": {"mode": "USER_CHOICE", "level": 10}}}, "display"),
    ({"display": {"brightness": {"mode": "FIXED", "level": 256}}}, "display"),
    ({"display": {"screenTimeoutSeconds": 0}}, "display"),
    ({"privateDns": {"mode": "HOST"}}, "privateDns"),
    ({"privateDns": {"mode": "AUTOMATIC", "host": "dns.example.com"}}, "privateDns"),
    ({"privateDns": {"mode": "HOST", "host": "not a host"}}, "privateDns"),
    ({"connectivity": {"ssidAllowlist": []}}, "connectivity"),
    ({"connectivity": {"ssidAllowlist": ["a", "a"]}}, "connectivity"),
    ({"connectivity": {"usbDataAccess": "SOMETIMES"}}, "connectivity"),
    ({"additionalKioskApps": [{"packageName": KIOSK_APP}]}, "additionalKioskApps"),
    ({"home": {"defaultHome": True},
      "additionalKioskApps": [{"packageName": "com.example.b"}]}, "home"),
    ({"systemUpdate": {"rules": [{"id": "r", "targets": ["OS_UPDATE_WITH_API_LEVEL_CHANGE"],
                                  "outcome": "BLOCK"}]}}, "systemUpdate"),
    ({"systemUpdate": {"type": "RULES", "freezePeriods": [{"start": "12-01", "end": "12-10"}]}},
     "systemUpdate"),
    ({"systemUpdate": {"type": "RULES", "rules": [
        {"id": "r", "targets": ["GOOGLE_SYSTEM_SERVICES"], "outcome": "FORCE"},
        {"id": "r", "targets": ["GOOGLE_SYSTEM_SERVICES"], "outcome": "BLOCK"}]}}, "systemUpdate"),
    ({"systemUpdate": {"type": "RULES", "rules": [
        {"id": "r", "targets": ["GOOGLE_SYSTEM_SERVICES"], "outcome": "FORCE",
         "stages": ["APPLY"]}]}}, "systemUpdate"),
    ({"systemUpdate": {"type": "RULES", "rules": [
        {"id": "r", "targets": ["GOOGLE_SYSTEM_SERVICES"], "outcome": "FORCE",
         "when": {"fromHour": 9, "toHour": 9}}]}}, "systemUpdate"),
    ({"systemUpdate": {"type": "RULES", "rules": [
        {"id": "x" * 65, "targets": ["GOOGLE_SYSTEM_SERVICES"], "outcome": "FORCE"}]}},
     "systemUpdate"),
])
def test_what_amapi_refuses_is_a_validation_error_naming_the_section(changes, field):
    with pytest.raises(ValidationError) as refused:
        cosu(**changes)
    assert field in refused.value.messages


def test_install_priority_and_roles_are_validated_on_the_app():
    for changes in ({"installPriority": 10_001}, {"installPriority": -1},
                    {"roles": ["MOBILE_THREAT_DEFENSE_ENDPOINT_DETECTION_RESPONSE"]},
                    {"roles": ["KIOSK", "KIOSK"]}):
        with pytest.raises(ValidationError) as refused:
            app("com.example.a", **changes)
        assert set(refused.value.messages) <= {"installPriority", "roles"}
