"""COSU configurations, apps, Wi-Fi and VPN compile to AMAPI policies the discovery doc accepts."""

import copy
import datetime
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.amapi_emulator import validate
from devstack.amapi_emulator.policy_rules import policy_problems
from shared.policy.compiler import (
    MASK,
    SEED_GAPS,
    SETTING_RULES,
    PolicyInputError,
    PolicyInputs,
    compile_policy,
    is_secret_key,
    mask_managed_configuration,
    mask_secrets,
    policy_fingerprint,
    unmask_managed_configuration,
)
from shared.policy.schemas import (
    AppCreateSchema,
    ConnectivitySchema,
    CosuConfigCreateSchema,
    DisplaySchema,
    KioskSchema,
    LockdownSchema,
    VpnConfigCreateSchema,
    WifiConfigCreateSchema,
)
from shared.schema_fields import StrictBoolean

KIOSK_APP = "com.example.kiosk"
LOCKDOWN_BOOLEANS = [name for name, field in LockdownSchema().fields.items()
                     if isinstance(field, StrictBoolean)]


def compiled(inputs):
    """Compile and insist the result is a Policy AMAPI accepts."""
    policy = compile_policy(inputs)
    assert validate("Policy", policy) == []
    assert policy_problems(policy) == []  # AMAPI's semantic rules, as the emulator has them
    return policy


def cosu(**changes):
    return CosuConfigCreateSchema().load(
        {"name": "Lobby", "priority": 1, "app": {"packageName": KIOSK_APP}, **changes})


def app(package, **changes):
    return AppCreateSchema().load({"packageName": package, "type": "PUBLIC", **changes})


def catalog(*apps):
    return {entry["packageName"]: entry for entry in apps}


def kiosk_inputs(config=None, apps=(), extra_catalog=(), **others):
    config = cosu() if config is None else config
    entries = catalog(app(KIOSK_APP), *apps, *extra_catalog)
    return PolicyInputs(config=config, apps=list(apps), catalog=entries, **others)


def wifi(wifi_id, **changes):
    body = {"name": f"net-{wifi_id}", "ssid": f"SSID-{wifi_id}", "security": "WPA_PSK",
            "passphrase": f"passphrase-{wifi_id}", **changes}
    body = {key: value for key, value in body.items() if value is not None}
    return {**WifiConfigCreateSchema().load(body), "id": wifi_id}


def by_package(policy):
    return {entry["packageName"]: entry for entry in policy.get("applications", [])}


def target_value(policy, path):
    value = policy
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


# --- Defaults and the mapping table -------------------------------------------------------------

def test_a_minimal_config_compiles_every_default():
    policy = compiled(kiosk_inputs(cosu()))
    assert policy["autoDateAndTimeZone"] == "AUTO_DATE_AND_TIME_ZONE_ENFORCED"
    assert policy["advancedSecurityOverrides"] == {
        "untrustedAppsPolicy": "DISALLOW_INSTALL",
        "developerSettings": "DEVELOPER_SETTINGS_DISABLED"}
    for field in ("funDisabled", "modifyAccountsDisabled", "addUserDisabled",
                  "networkEscapeHatchEnabled", "privateKeySelectionEnabled",
                  "setUserIconDisabled", "setWallpaperDisabled"):
        assert policy[field] is True, field
    for field in ("installAppsDisabled", "keyguardDisabled", "networkResetDisabled",
                  "uninstallAppsDisabled"):
        assert policy[field] is False, field
    assert "stayOnPluggedModes" not in policy
    assert "maximumTimeToLock" not in policy
    assert policy["kioskCustomization"] == {
        "deviceSettings": "SETTINGS_ACCESS_BLOCKED",
        "statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED",
        "systemNavigation": "NAVIGATION_DISABLED",
        "powerButtonActions": "POWER_BUTTON_AVAILABLE",
        "systemErrorWarnings": "ERROR_AND_WARNINGS_MUTED"}
    assert policy["systemUpdate"] == {"type": "AUTOMATIC"}
    assert policy["playStoreMode"] == "WHITELIST"
    assert policy["statusReportingSettings"] == {
        "applicationReportsEnabled": True, "softwareInfoEnabled": True,
        "hardwareStatusEnabled": True, "networkInfoEnabled": True,
        "deviceSettingsEnabled": True, "memoryInfoEnabled": True,
        "powerManagementEventsEnabled": True}
    assert policy["applications"] == [{"packageName": KIOSK_APP,
                                       "installType": "REQUIRED_FOR_SETUP",
                                       "roles": [{"roleType": "KIOSK"}]}]
    assert "kioskCustomLauncherEnabled" not in policy


def test_the_table_covers_every_device_setting():
    sources = {source for rule in SETTING_RULES for source in rule.sources}
    expected = {f"lockdown.{name}" for name in LockdownSchema().fields} | {
        f"kiosk.{name}" for name in KioskSchema().fields} | {
        f"display.{name}" for name in DisplaySchema().fields} | {
        f"connectivity.{name}" for name in ConnectivitySchema().fields} | {
        "privateDns", "home.defaultHome", "app.packageName"}
    assert sources == expected
    targets = [rule.target for rule in SETTING_RULES]
    assert len(targets) == len(set(targets)), "one row per AMAPI field"
    gap_settings = {setting.split()[0] for setting, _ in SEED_GAPS}
    assert {"lockdown.disallowDisableAccounts", "lockdown.disableOsGames",
            "lockdown.disableStatusBar", "systemUpdate.type"} <= gap_settings


BOOLEAN_RULES = [rule for rule in SETTING_RULES
                 if all(source.removeprefix("lockdown.") in LOCKDOWN_BOOLEANS
                        for source in rule.sources)]


@pytest.mark.parametrize("rule", BOOLEAN_RULES, ids=lambda rule: rule.target)
def test_inverting_every_lockdown_boolean_inverts_every_mapped_field(rule):
    defaults = LockdownSchema().load({})
    inverted = {**defaults, **{name: not defaults[name] for name in LOCKDOWN_BOOLEANS}}
    before = target_value(compiled(kiosk_inputs(cosu())), rule.target)
    after = target_value(compiled(kiosk_inputs(cosu(lockdown=inverted))), rule.target)
    assert before is not None and after is not None
    assert before != after
    if isinstance(before, bool):
        assert after is (not before)


@pytest.mark.parametrize("rule", [rule for rule in BOOLEAN_RULES if len(rule.sources) == 1],
                         ids=lambda rule: rule.target)
def test_inverting_one_setting_inverts_its_field(rule):
    setting = rule.sources[0].removeprefix("lockdown.")
    default = LockdownSchema().load({})[setting]
    before = target_value(compiled(kiosk_inputs(cosu())), rule.target)
    after = target_value(compiled(kiosk_inputs(cosu(lockdown={setting: not default}))),
                         rule.target)
    assert before != after


@pytest.mark.parametrize("setting", ["disallowModifyAccounts", "disallowDisableAccounts",
                                     "disallowAccountCreation"])
def test_any_account_setting_disables_account_changes(setting):
    none = {name: False for name in ("disallowModifyAccounts", "disallowDisableAccounts",
                                     "disallowAccountCreation")}
    assert compiled(kiosk_inputs(cosu(lockdown=none)))["modifyAccountsDisabled"] is False
    policy = compiled(kiosk_inputs(cosu(lockdown={**none, setting: True})))
    assert policy["modifyAccountsDisabled"] is True


def test_disallow_unknown_apps_and_set_time_choose_between_two_values():
    policy = compiled(kiosk_inputs(cosu(lockdown={"disallowUnknownApps": False,
                                                  "disallowSetTime": False})))
    assert policy["advancedSecurityOverrides"]["untrustedAppsPolicy"] == \
        "ALLOW_INSTALL_DEVICE_WIDE"
    assert policy["autoDateAndTimeZone"] == "AUTO_DATE_AND_TIME_ZONE_USER_CHOICE"


def test_keep_screen_on_sets_plugged_modes_and_no_lock_timeout():
    policy = compiled(kiosk_inputs(cosu(lockdown={"keepScreenOn": ["WIRELESS", "AC"]})))
    assert policy["stayOnPluggedModes"] == ["AC", "WIRELESS"]
    assert policy["maximumTimeToLock"] == "0"
    policy = compiled(kiosk_inputs(cosu(lockdown={"keepScreenOn": ["USB", "WIRELESS", "AC"]})))
    assert policy["stayOnPluggedModes"] == ["AC", "USB", "WIRELESS"]


@pytest.mark.parametrize(("kiosk", "field", "expected"), [
    ({"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"}, "statusBar",
     "NOTIFICATIONS_AND_SYSTEM_INFO_ENABLED"),
    ({"statusBar": "SYSTEM_INFO_ONLY"}, "statusBar", "SYSTEM_INFO_ONLY"),
    ({"statusBar": "HIDDEN"}, "statusBar", "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED"),
    ({"navigation": "ENABLED"}, "systemNavigation", "NAVIGATION_ENABLED"),
    ({"navigation": "DISABLED"}, "systemNavigation", "NAVIGATION_DISABLED"),
    ({"navigation": "HOME_ONLY"}, "systemNavigation", "HOME_BUTTON_ONLY"),
    ({"globalActions": True}, "powerButtonActions", "POWER_BUTTON_AVAILABLE"),
    ({"globalActions": False}, "powerButtonActions", "POWER_BUTTON_BLOCKED"),
    ({"errorDialogs": True}, "systemErrorWarnings", "ERROR_AND_WARNINGS_ENABLED"),
    ({"errorDialogs": False}, "systemErrorWarnings", "ERROR_AND_WARNINGS_MUTED"),
])
def test_kiosk_customisation(kiosk, field, expected):
    customization = compiled(kiosk_inputs(cosu(kiosk=kiosk)))["kioskCustomization"]
    assert customization[field] == expected
    assert customization["deviceSettings"] == "SETTINGS_ACCESS_BLOCKED"


def test_disable_status_bar_overrides_the_kiosk_status_bar():
    shown = {"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO", "navigation": "ENABLED"}
    policy = compiled(kiosk_inputs(cosu(kiosk=shown)))
    assert policy["kioskCustomization"]["statusBar"] == "NOTIFICATIONS_AND_SYSTEM_INFO_ENABLED"
    policy = compiled(kiosk_inputs(cosu(kiosk=shown, lockdown={"disableStatusBar": True})))
    assert policy["kioskCustomization"]["statusBar"] == "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED"
    assert "statusBarDisabled" not in policy  # deprecated in AMAPI


def test_a_stored_config_missing_a_newer_setting_compiles_with_its_default():
    config = cosu()
    del config["lockdown"]["disallowUninstallApps"]
    del config["kiosk"]
    assert compiled(kiosk_inputs(config)) == compiled(kiosk_inputs(cosu()))


# --- System updates -----------------------------------------------------------------------------

def test_windowed_updates_with_freeze_periods():
    config = cosu(systemUpdate={"type": "WINDOWED",
                                "window": {"startMinutes": 1380, "endMinutes": 120},
                                "freezePeriods": [{"start": "12-01", "end": "02-29"},
                                                  {"start": "05-01", "end": "05-31"}]})
    assert compiled(kiosk_inputs(config))["systemUpdate"] == {
        "type": "WINDOWED", "startMinutes": 1380, "endMinutes": 120,
        "freezePeriods": [
            {"startDate": {"month": 12, "day": 1}, "endDate": {"month": 2, "day": 28}},
            {"startDate": {"month": 5, "day": 1}, "endDate": {"month": 5, "day": 31}}]}


def test_postpone_has_no_duration():
    policy = compiled(kiosk_inputs(cosu(systemUpdate={"type": "POSTPONE"})))
    assert policy["systemUpdate"] == {"type": "POSTPONE"}


def test_invalid_stored_system_update_is_an_input_error():
    config = cosu()
    config["systemUpdate"] = {"type": "WINDOWED", "freezePeriods": []}
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(kiosk_inputs(config))
    assert caught.value.field == "systemUpdate.window"
    config["systemUpdate"] = {"type": "AUTOMATIC", "freezePeriods": [
        {"start": "01-01", "end": "01-10"}, {"start": "01-20", "end": "01-25"}]}
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(kiosk_inputs(config))
    assert caught.value.field == "systemUpdate.freezePeriods[1]"


# --- Apps ---------------------------------------------------------------------------------------

def test_kiosk_app_carries_its_catalog_settings_and_the_kiosk_role():
    kiosk_app = app(KIOSK_APP, type="PRIVATE", managedConfiguration={"url": "https://k.example"},
                    autoUpdateMode="HIGH_PRIORITY", minimumVersionCode=7,
                    trackIds=["beta", "alpha"], installConstraint={"charging": True})
    policy = compiled(PolicyInputs(config=cosu(), catalog=catalog(kiosk_app)))
    assert policy["applications"] == [{
        "packageName": KIOSK_APP, "installType": "REQUIRED_FOR_SETUP",
        "managedConfiguration": {"url": "https://k.example"},
        "autoUpdateMode": "AUTO_UPDATE_HIGH_PRIORITY", "minimumVersionCode": 7,
        "accessibleTrackIds": ["alpha", "beta"], "roles": [{"roleType": "KIOSK"}]}]


def test_force_installed_apps_carry_their_settings():
    helper = app("com.example.helper", installOnDevice=True, autoUpdateMode="POSTPONED",
                 managedConfiguration={"mode": "oem", "level": 3},
                 installConstraint={"network": "UNMETERED", "charging": True, "idle": True})
    entry = by_package(compiled(kiosk_inputs(apps=[helper])))["com.example.helper"]
    assert entry == {
        "packageName": "com.example.helper", "installType": "FORCE_INSTALLED",
        "managedConfiguration": {"mode": "oem", "level": 3},
        "autoUpdateMode": "AUTO_UPDATE_POSTPONED",
        "installConstraint": [{"networkTypeConstraint": "INSTALL_ONLY_ON_UNMETERED_NETWORK",
                               "chargingConstraint": "INSTALL_ONLY_WHEN_CHARGING",
                               "deviceIdleConstraint": "INSTALL_ONLY_WHEN_DEVICE_IDLE"}]}
    plain = app("com.example.plain", silentInstall=True, installConstraint={})
    entry = by_package(compiled(kiosk_inputs(apps=[plain])))["com.example.plain"]
    assert entry["installConstraint"] == [{"networkTypeConstraint": "INSTALL_ON_ANY_NETWORK",
                                           "chargingConstraint": "CHARGING_NOT_REQUIRED",
                                           "deviceIdleConstraint": "DEVICE_IDLE_NOT_REQUIRED"}]


@pytest.mark.parametrize(("entry", "reaches_devices"), [
    (app("com.example.a", installOnDevice=True), True),
    (app("com.example.a", silentInstall=True), True),
    (app("com.example.a", type="PRIVATE", installOnDevice=True), True),
    (app("com.example.a"), False),
    (app("com.example.a", type="IN_HOUSE", installOnDevice=True), False),
    (app("com.example.a", type="WEB_CLIP", silentInstall=True), False),
])
def test_only_installed_public_and_private_apps_reach_devices(entry, reaches_devices):
    policy = compiled(kiosk_inputs(apps=[entry]))
    assert ("com.example.a" in by_package(policy)) is reaches_devices


def test_the_kiosk_app_appears_once_even_when_distributed():
    distributed = app(KIOSK_APP, installOnDevice=True)
    policy = compiled(PolicyInputs(config=cosu(), apps=[distributed],
                                   catalog=catalog(distributed)))
    assert [entry["packageName"] for entry in policy["applications"]] == [KIOSK_APP]
    assert policy["applications"][0]["installType"] == "REQUIRED_FOR_SETUP"
    assert policy["applications"][0]["roles"] == [{"roleType": "KIOSK"}]


def test_at_most_20_apps_may_set_a_minimum_version():
    apps = [app(f"com.example.app{i:02d}", installOnDevice=True, minimumVersionCode=i + 1)
            for i in range(20)]
    assert len(compiled(kiosk_inputs(apps=apps))["applications"]) == 21
    apps.append(app("com.example.app20", installOnDevice=True, minimumVersionCode=99))
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(kiosk_inputs(apps=apps))
    assert caught.value.field == "minimumVersionCode"
    assert "21" in caught.value.reason


@pytest.mark.parametrize("app_type", ["IN_HOUSE", "WEB_CLIP"])
def test_the_kiosk_app_must_be_public_or_private(app_type):
    inputs = PolicyInputs(config=cosu(), catalog=catalog(app(KIOSK_APP, type=app_type)))
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(inputs)
    assert caught.value.field == "app.packageName"
    assert app_type in caught.value.reason


def test_the_kiosk_app_must_be_in_the_catalog():
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(PolicyInputs(config=cosu(), catalog={}))
    assert caught.value.field == "app.packageName"


def test_an_app_distributed_twice_differently_is_an_input_error():
    twice = [app("com.example.a", installOnDevice=True)] * 2
    assert len(compiled(kiosk_inputs(apps=twice))["applications"]) == 2
    with pytest.raises(PolicyInputError):
        compile_policy(kiosk_inputs(apps=[app("com.example.a", installOnDevice=True),
                                          app("com.example.a", silentInstall=True)]))


def test_compiling_does_not_share_state_with_the_inputs():
    helper = app("com.example.helper", installOnDevice=True, managedConfiguration={"k": [1]})
    inputs = kiosk_inputs(apps=[helper])
    snapshot = copy.deepcopy(inputs)
    policy = compile_policy(inputs)
    by_package(policy)["com.example.helper"]["managedConfiguration"]["k"].append(2)
    assert inputs == snapshot


# --- Wi-Fi --------------------------------------------------------------------------------------

def test_wifi_networks_compile_to_onc():
    networks = [
        wifi("w2", name="Store", ssid="StoreWiFi", passphrase="s3cret-pass",
             hiddenSsid=True),
        wifi("w1", name="Guest", ssid="Guest", security="NONE", passphrase=None,
             autoConnect=False),
        wifi("w3", name="Corp", ssid="Corp", security="WPA_EAP", passphrase=None,
             eap={"outer": "TTLS", "inner": "MSCHAPv2", "identity": "kiosk-1",
                  "password": "eap-s3cret"}),
        wifi("w4", name="Legacy", ssid="Old", security="WEP_PSK", passphrase="abcde"),
    ]
    policy = compiled(kiosk_inputs(wifi=networks))
    assert policy["openNetworkConfiguration"] == {"NetworkConfigurations": [
        {"GUID": "wifi-w3", "Name": "Corp", "Type": "WiFi",
         "WiFi": {"SSID": "Corp", "Security": "WPA-EAP", "HiddenSSID": False,
                  "AutoConnect": True,
                  "EAP": {"Outer": "EAP-TTLS", "Inner": "MSCHAPv2", "Identity": "kiosk-1",
                          "Password": "eap-s3cret"}}},
        {"GUID": "wifi-w1", "Name": "Guest", "Type": "WiFi",
         "WiFi": {"SSID": "Guest", "Security": "None", "HiddenSSID": False,
                  "AutoConnect": False}},
        {"GUID": "wifi-w4", "Name": "Legacy", "Type": "WiFi",
         "WiFi": {"SSID": "Old", "Security": "WEP-PSK", "HiddenSSID": False,
                  "AutoConnect": True, "Passphrase": "abcde"}},
        {"GUID": "wifi-w2", "Name": "Store", "Type": "WiFi",
         "WiFi": {"SSID": "StoreWiFi", "Security": "WPA-PSK", "HiddenSSID": True,
                  "AutoConnect": True, "Passphrase": "s3cret-pass"}},
    ]}


def test_no_wifi_means_no_network_configuration():
    assert "openNetworkConfiguration" not in compiled(kiosk_inputs())


def test_mask_secrets_hides_every_passphrase_and_eap_password():
    networks = [wifi("w1", passphrase="s3cret-pass"),
                wifi("w2", security="WPA_EAP", passphrase=None,
                     eap={"outer": "PEAP", "password": "eap-s3cret"})]
    policy = compiled(kiosk_inputs(wifi=networks))
    masked = mask_secrets(policy)
    text = json.dumps(masked)
    assert "s3cret-pass" not in text
    assert "eap-s3cret" not in text
    configurations = masked["openNetworkConfiguration"]["NetworkConfigurations"]
    assert configurations[0]["WiFi"]["Passphrase"] == MASK
    assert configurations[1]["WiFi"]["EAP"]["Password"] == MASK
    assert "s3cret-pass" in json.dumps(policy), "the original is left as it was"
    assert validate("Policy", masked) == []
    assert mask_secrets(compiled(kiosk_inputs())) == compiled(kiosk_inputs())


# --- VPN ----------------------------------------------------------------------------------------

def vpn(**changes):
    return VpnConfigCreateSchema().load({"name": "Corp VPN", "packageName": "com.example.vpn",
                                         **changes})


def test_always_on_vpn_installs_the_vpn_app_with_its_configuration():
    vpn_app = app("com.example.vpn", type="PRIVATE", managedConfiguration={"server": "old"},
                  autoUpdateMode="DEFAULT")
    config = vpn(lockdownEnabled=True, managedConfiguration={"server": "vpn.example.com"})
    policy = compiled(kiosk_inputs(extra_catalog=[vpn_app], vpn=config))
    assert policy["alwaysOnVpnPackage"] == {"packageName": "com.example.vpn",
                                            "lockdownEnabled": True}
    assert by_package(policy)["com.example.vpn"] == {
        "packageName": "com.example.vpn", "installType": "FORCE_INSTALLED",
        "managedConfiguration": {"server": "vpn.example.com"},
        "autoUpdateMode": "AUTO_UPDATE_DEFAULT"}


def test_vpn_without_its_own_configuration_keeps_the_catalog_one():
    vpn_app = app("com.example.vpn", managedConfiguration={"server": "catalog"})
    policy = compiled(kiosk_inputs(extra_catalog=[vpn_app], vpn=vpn()))
    assert by_package(policy)["com.example.vpn"]["managedConfiguration"] == {
        "server": "catalog"}
    assert policy["alwaysOnVpnPackage"]["lockdownEnabled"] is False


@pytest.mark.parametrize("vpn_catalog", [[], [app("com.example.vpn", type="IN_HOUSE")]])
def test_the_vpn_app_must_be_a_public_or_private_catalog_app(vpn_catalog):
    with pytest.raises(PolicyInputError) as caught:
        compile_policy(kiosk_inputs(extra_catalog=vpn_catalog, vpn=vpn()))
    assert caught.value.field == "packageName"


# --- No configuration ---------------------------------------------------------------------------

def test_without_a_config_the_device_is_locked_down_with_its_apps():
    helper = app("com.example.helper", installOnDevice=True)
    vpn_app = app("com.example.vpn")
    policy = compiled(PolicyInputs(config=None, apps=[helper],
                                   catalog=catalog(helper, vpn_app),
                                   wifi=[wifi("w1")], vpn=vpn()))
    assert policy["kioskCustomLauncherEnabled"] is True
    assert all("roles" not in entry for entry in policy["applications"])
    assert sorted(by_package(policy)) == ["com.example.helper", "com.example.vpn"]
    assert policy["kioskCustomization"]["deviceSettings"] == "SETTINGS_ACCESS_BLOCKED"
    assert policy["modifyAccountsDisabled"] is True
    assert policy["advancedSecurityOverrides"]["untrustedAppsPolicy"] == "DISALLOW_INSTALL"
    assert "openNetworkConfiguration" in policy
    assert "alwaysOnVpnPackage" in policy


def test_without_anything_the_policy_is_still_valid():
    policy = compiled(PolicyInputs(config=None))
    assert "applications" not in policy
    assert policy["kioskCustomLauncherEnabled"] is True


# --- Determinism --------------------------------------------------------------------------------

def test_shuffled_inputs_compile_to_the_same_policy_and_fingerprint():
    apps = [app(f"com.example.app{i}", installOnDevice=True, trackIds=["b", "a", "c"])
            for i in range(8)]
    networks = [wifi(f"w{i}", name=f"net-{i % 3}") for i in range(6)]
    vpn_app = app("com.example.vpn")
    first = compiled(kiosk_inputs(apps=apps, extra_catalog=[vpn_app], wifi=networks,
                                  vpn=vpn()))
    shuffler = random.Random(7)
    for _ in range(5):
        shuffler.shuffle(apps)
        shuffler.shuffle(networks)
        again = compile_policy(kiosk_inputs(apps=apps, extra_catalog=[vpn_app],
                                            wifi=networks, vpn=vpn()))
        assert again == first
        assert json.dumps(again) == json.dumps(first)
        assert policy_fingerprint(again) == policy_fingerprint(first)


def test_the_fingerprint_changes_with_the_policy():
    base = compiled(kiosk_inputs())
    changed = compiled(kiosk_inputs(cosu(lockdown={"disableKeyguard": True})))
    assert policy_fingerprint(base) != policy_fingerprint(changed)
    assert len(policy_fingerprint(base)) == 64
    reordered = dict(reversed(list(base.items())))
    assert policy_fingerprint(reordered) == policy_fingerprint(base)


# --- Any valid configuration compiles -----------------------------------------------------------

def _month_day(day_of_year):
    date = datetime.date(2001, 1, 1) + datetime.timedelta(days=day_of_year - 1)
    return f"{date.month:02d}-{date.day:02d}"


@st.composite
def freeze_periods(draw):
    """0-2 periods that follow the rules, possibly wrapping the year end."""
    count = draw(st.integers(0, 2))
    start = draw(st.integers(1, 365))
    first_length = draw(st.integers(1, 90))
    periods = [(start, first_length)]
    if count == 2:
        gap = draw(st.integers(60, 365 - 60 - first_length - 1))
        second_length = draw(st.integers(1, min(90, 365 - 60 - first_length - gap)))
        periods.append((start + first_length + gap, second_length))
    return [{"start": _month_day((first - 1) % 365 + 1),
             "end": _month_day((first + length - 2) % 365 + 1)}
            for first, length in periods[:count]]


@st.composite
def system_updates(draw):
    update_type = draw(st.sampled_from(["AUTOMATIC", "POSTPONE", "WINDOWED"]))
    update = {"type": update_type, "freezePeriods": draw(freeze_periods())}
    if update_type == "WINDOWED":
        update["window"] = {"startMinutes": draw(st.integers(0, 1439)),
                            "endMinutes": draw(st.integers(0, 1439))}
    return update


lockdowns = st.fixed_dictionaries({}, optional={
    **{name: st.booleans() for name in LOCKDOWN_BOOLEANS},
    "keepScreenOn": st.lists(st.sampled_from(["AC", "USB", "WIRELESS"]), unique=True)})
kiosks = st.fixed_dictionaries({}, optional={
    "statusBar": st.sampled_from(["NOTIFICATIONS_AND_SYSTEM_INFO", "SYSTEM_INFO_ONLY",
                                  "HIDDEN"]),
    "navigation": st.sampled_from(["ENABLED", "DISABLED", "HOME_ONLY"]),
    "globalActions": st.booleans(),
    "errorDialogs": st.booleans()})


@settings(max_examples=200, deadline=None)
@given(lockdown=lockdowns, kiosk=kiosks, system_update=system_updates())
def test_any_valid_configuration_compiles_to_a_valid_policy(lockdown, kiosk, system_update):
    config = cosu(lockdown=lockdown, kiosk=kiosk, systemUpdate=system_update)
    policy = compiled(kiosk_inputs(config))
    for name in LOCKDOWN_BOOLEANS:
        rules = [rule for rule in SETTING_RULES if rule.sources == (f"lockdown.{name}",)]
        for rule in rules:
            value = target_value(policy, rule.target)
            if isinstance(value, bool):
                assert value is config["lockdown"][name]
    assert policy["systemUpdate"]["type"] == system_update["type"]
    assert len(policy["systemUpdate"].get("freezePeriods", [])) == len(
        system_update["freezePeriods"])


@pytest.mark.parametrize(("key", "secret"), [
    ("password", True), ("vpnPassword", True), ("api_key", True), ("apikey", True),
    ("APIKey", True), ("passwd", True), ("sharedSecret", True), ("auth-token", True),
    ("PASSWORD", True), ("key", True), ("monkey", False), ("keyboardLayout", False),
    ("passwordHint", False), ("server", False), ("tokens_enabled", False),
])
def test_secret_keys_are_recognised_by_their_last_word(key, secret):
    assert is_secret_key(key) is secret


def test_managed_configuration_secrets_are_masked_at_every_depth_and_restored_from_the_mask():
    stored = {"server": "x", "pin": "1234", "vpnPassword": "pw",
              "profiles": [{"name": "a", "authToken": "t1"}], "advanced": {"apiKey": "k"}}
    masked = mask_managed_configuration(stored, ["pin"])
    assert masked == {"server": "x", "pin": MASK, "vpnPassword": MASK,
                      "profiles": [{"name": "a", "authToken": MASK}],
                      "advanced": {"apiKey": MASK}}
    sent_back = {**masked, "server": "y", "vpnPassword": "new-pw"}
    assert unmask_managed_configuration(sent_back, stored, ["pin"]) == {
        **stored, "server": "y", "vpnPassword": "new-pw"}
    with pytest.raises(PolicyInputError) as refused:
        unmask_managed_configuration({"token": MASK}, {}, [])
    assert refused.value.field == "managedConfiguration.token"


def test_mask_secrets_masks_managed_configuration_secrets_of_every_app():
    policy = {"applications": [{"packageName": "com.example.vpn", "managedConfiguration": {
        "server": "x", "pin": "1234", "userPassword": "pw"}}]}
    masked = mask_secrets(policy, {"com.example.vpn": ["pin"]})
    assert masked["applications"][0]["managedConfiguration"] == {
        "server": "x", "pin": MASK, "userPassword": MASK}
    assert policy["applications"][0]["managedConfiguration"]["pin"] == "1234"
