"""Where a COSU configuration, its apps, Wi-Fi and VPN become one AMAPI `Policy`.

`compile_policy` is pure and deterministic: the same inputs give an identical dict whatever the
order of the apps and networks, so `policy_fingerprint` can tell when a push is needed.

`SETTING_RULES` is the whole lockdown and kiosk mapping, one row per AMAPI field: which settings
it reads and how they become its value. Booleans are always sent, true or false, so inverting a
setting inverts the field. What AMAPI cannot express exactly is listed in `SEED_GAPS`.

When no COSU configuration applies (`config` is None) the device still gets a locked-down
policy: the seed's default lockdown, kiosk customisation and automatic system updates, the
distributed apps, Wi-Fi and VPN, and AMAPI's kiosk launcher (`kioskCustomLauncherEnabled`)
showing only those apps, since there is no app to pin and no KIOSK role. A dedicated device must
never fall back to an open home screen with Settings.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from shared.policy.freeze_periods import FreezePeriodError, check_freeze_periods, parse_month_day
from shared.policy.holding_policy import STATUS_REPORTING_SETTINGS
from shared.policy.schemas import AMAPI_APP_TYPES, PLUGGED_MODES, default_device_settings

MASK = "********"
# A managed-configuration key is a secret when its last word is one of these (`vpnPassword`,
# `api_key`, `token`); `secretKeys` on the app names the others.
SECRET_KEY_WORDS = frozenset({"password", "passwd", "secret", "token", "apikey", "key"})
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
MAX_APPS_WITH_MINIMUM_VERSION = 20  # AMAPI refuses a policy with more

AUTO_UPDATE_MODES = {
    "DEFAULT": "AUTO_UPDATE_DEFAULT",
    "POSTPONED": "AUTO_UPDATE_POSTPONED",
    "HIGH_PRIORITY": "AUTO_UPDATE_HIGH_PRIORITY",
}
NETWORK_TYPE_CONSTRAINTS = {
    "ANY": "INSTALL_ON_ANY_NETWORK",
    "UNMETERED": "INSTALL_ONLY_ON_UNMETERED_NETWORK",
}
STATUS_BAR = {
    "NOTIFICATIONS_AND_SYSTEM_INFO": "NOTIFICATIONS_AND_SYSTEM_INFO_ENABLED",
    "SYSTEM_INFO_ONLY": "SYSTEM_INFO_ONLY",
    "HIDDEN": "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED",
}
SYSTEM_NAVIGATION = {
    "ENABLED": "NAVIGATION_ENABLED",
    "DISABLED": "NAVIGATION_DISABLED",
    "HOME_ONLY": "HOME_BUTTON_ONLY",
}
ONC_SECURITY = {"NONE": "None", "WEP_PSK": "WEP-PSK", "WPA_PSK": "WPA-PSK", "WPA_EAP": "WPA-EAP"}
ONC_EAP_OUTER = {"PEAP": "PEAP", "TTLS": "EAP-TTLS", "EAP-TLS": "EAP-TLS"}
# Install constraints and priorities only apply to these install types (ApplicationPolicy).
CONSTRAINED_INSTALL_TYPES = ("FORCE_INSTALLED", "PREINSTALLED")
# AMAPI: an app with the KIOSK role must be installed during setup (or be a custom app).
KIOSK_INSTALL_TYPE = "REQUIRED_FOR_SETUP"
BRIGHTNESS_MODES = {"USER_CHOICE": "BRIGHTNESS_USER_CHOICE",
                    "AUTOMATIC": "BRIGHTNESS_AUTOMATIC", "FIXED": "BRIGHTNESS_FIXED"}
USB_DATA_ACCESS = {"ALLOWED": "ALLOW_USB_DATA_TRANSFER",
                   "NO_FILE_TRANSFER": "DISALLOW_USB_FILE_TRANSFER",
                   "DISALLOWED": "DISALLOW_USB_DATA_TRANSFER"}
CONFIGURE_WIFI = {"ALLOWED": "ALLOW_CONFIGURING_WIFI", "NO_ADD": "DISALLOW_ADD_WIFI_CONFIG",
                  "LOCKED": "DISALLOW_CONFIGURING_WIFI"}
TETHERING = {"ALLOWED": "ALLOW_ALL_TETHERING", "NO_WIFI": "DISALLOW_WIFI_TETHERING",
             "DISALLOWED": "DISALLOW_ALL_TETHERING"}
AIRPLANE_MODE = {"USER_CHOICE": "AIRPLANE_MODE_USER_CHOICE", "DISABLED": "AIRPLANE_MODE_DISABLED"}
WIFI_STATE = {"USER_CHOICE": "WIFI_STATE_USER_CHOICE", "ENABLED": "WIFI_ENABLED",
              "DISABLED": "WIFI_DISABLED"}
WIFI_SECURITY_LEVEL = {"OPEN": "OPEN_NETWORK_SECURITY", "PERSONAL": "PERSONAL_NETWORK_SECURITY",
                       "ENTERPRISE": "ENTERPRISE_NETWORK_SECURITY",
                       "ENTERPRISE_192": "ENTERPRISE_BIT192_NETWORK_SECURITY"}
PRIVATE_DNS_MODES = {"USER_CHOICE": "PRIVATE_DNS_USER_CHOICE",
                     "AUTOMATIC": "PRIVATE_DNS_AUTOMATIC", "HOST": "PRIVATE_DNS_SPECIFIED_HOST"}
UPDATE_STAGES = {"DOWNLOAD": "STAGE_DOWNLOAD", "APPLY": "STAGE_APPLY"}

# Sent whatever the configuration says.
BASELINE_POLICY: dict[str, Any] = {
    "playStoreMode": "WHITELIST",
    "advancedSecurityOverrides": {"developerSettings": "DEVELOPER_SETTINGS_DISABLED"},
    # AMAPI's default lets a kiosk open Settings, which would undo every other restriction.
    "kioskCustomization": {"deviceSettings": "SETTINGS_ACCESS_BLOCKED"},
    "statusReportingSettings": STATUS_REPORTING_SETTINGS,
}


class PolicyInputError(Exception):
    """The inputs cannot make a valid AMAPI policy; `field` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class PolicyInputs:
    """Everything one device's policy is made of, already loaded through the schemas."""

    config: dict[str, Any] | None
    apps: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    catalog: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    wifi: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    vpn: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class SettingRule:
    """One AMAPI field: the settings it reads and how their values become its value."""

    sources: tuple[str, ...]  # dotted paths in a loaded configuration: lockdown.x, kiosk.y
    target: str  # dotted path in the Policy
    # The sources' values in order -> the field's value; None omits it. An optional setting a
    # configuration leaves out is None, and omitting its field keeps AMAPI's default.
    value: Callable[..., Any]


def _same(enabled: bool) -> bool:
    return enabled


def _either(when_true: str, when_false: str) -> Callable[[bool], str]:
    return lambda enabled: when_true if enabled else when_false


def _any(*settings: bool) -> bool:
    return any(settings)


def _plugged_modes(modes: Sequence[str]) -> list[str] | None:
    return [mode for mode in PLUGGED_MODES if mode in modes] or None


def _no_lock_while_plugged(modes: Sequence[str]) -> str | None:
    # AMAPI: clear the lock timeout, or a screen kept on still locks itself.
    return "0" if modes else None


def _status_bar(status_bar: str, disable_status_bar: bool) -> str:
    if disable_status_bar:
        return "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED"
    return STATUS_BAR[status_bar]


def _mapped(table: Mapping[Any, str]) -> Callable[[Any], str | None]:
    return lambda setting: None if setting is None else table[setting]


def _brightness(brightness: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if brightness is None:
        return None
    compiled: dict[str, Any] = {"screenBrightnessMode": BRIGHTNESS_MODES[brightness["mode"]]}
    if brightness.get("level") is not None:
        compiled["screenBrightness"] = brightness["level"]
    return compiled


def _screen_timeout(seconds: int | None) -> dict[str, str] | None:
    if seconds is None:
        return None
    return {"screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED", "screenTimeout": f"{seconds}s"}


def _ssid_allowlist(ssids: Sequence[str] | None) -> dict[str, Any] | None:
    if not ssids:
        return None
    return {"wifiSsidPolicyType": "WIFI_SSID_ALLOWLIST",
            "wifiSsids": [{"wifiSsid": ssid} for ssid in sorted(ssids)]}


def _bluetooth_sharing(allowed: bool | None) -> str | None:
    if allowed is None:
        return None
    return "BLUETOOTH_SHARING_ALLOWED" if allowed else "BLUETOOTH_SHARING_DISALLOWED"


def _private_dns(private_dns: Mapping[str, Any] | None) -> dict[str, str] | None:
    if private_dns is None:
        return None
    compiled = {"privateDnsMode": PRIVATE_DNS_MODES[private_dns["mode"]]}
    if private_dns.get("host"):
        compiled["privateDnsHost"] = private_dns["host"]
    return compiled


def _default_home(default_home: bool | None, package_name: str | None) -> list[Any] | None:
    if not default_home or package_name is None:
        return None
    return [{"defaultApplicationType": "DEFAULT_HOME",
             "defaultApplicationScopes": ["SCOPE_FULLY_MANAGED"],
             "defaultApplications": [{"packageName": package_name}]}]


def _rule(source: str, target: str, value: Callable[..., Any]) -> SettingRule:
    return SettingRule((source,), target, value)


SETTING_RULES: tuple[SettingRule, ...] = (
    _rule("lockdown.keepScreenOn", "stayOnPluggedModes", _plugged_modes),
    _rule("lockdown.keepScreenOn", "maximumTimeToLock", _no_lock_while_plugged),
    _rule("lockdown.disallowSetTime", "autoDateAndTimeZone",
          _either("AUTO_DATE_AND_TIME_ZONE_ENFORCED", "AUTO_DATE_AND_TIME_ZONE_USER_CHOICE")),
    _rule("lockdown.disallowUnknownApps", "advancedSecurityOverrides.untrustedAppsPolicy",
          _either("DISALLOW_INSTALL", "ALLOW_INSTALL_DEVICE_WIDE")),
    _rule("lockdown.disableOsGames", "funDisabled", _same),
    _rule("lockdown.disallowInstallApps", "installAppsDisabled", _same),
    _rule("lockdown.disableKeyguard", "keyguardDisabled", _same),
    SettingRule(("lockdown.disallowModifyAccounts", "lockdown.disallowDisableAccounts",
                 "lockdown.disallowAccountCreation"), "modifyAccountsDisabled", _any),
    _rule("lockdown.disallowAccountCreation", "addUserDisabled", _same),
    _rule("lockdown.networkEscapeHatch", "networkEscapeHatchEnabled", _same),
    _rule("lockdown.disableNetworkReset", "networkResetDisabled", _same),
    _rule("lockdown.allowCertificateSelection", "privateKeySelectionEnabled", _same),
    _rule("lockdown.disallowUserIconChange", "setUserIconDisabled", _same),
    _rule("lockdown.disallowWallpaperChange", "setWallpaperDisabled", _same),
    _rule("lockdown.disallowUninstallApps", "uninstallAppsDisabled", _same),
    SettingRule(("kiosk.statusBar", "lockdown.disableStatusBar"), "kioskCustomization.statusBar",
                _status_bar),
    _rule("kiosk.navigation", "kioskCustomization.systemNavigation", SYSTEM_NAVIGATION.__getitem__),
    _rule("kiosk.globalActions", "kioskCustomization.powerButtonActions",
          _either("POWER_BUTTON_AVAILABLE", "POWER_BUTTON_BLOCKED")),
    _rule("kiosk.errorDialogs", "kioskCustomization.systemErrorWarnings",
          _either("ERROR_AND_WARNINGS_ENABLED", "ERROR_AND_WARNINGS_MUTED")),
    _rule("display.brightness", "displaySettings.screenBrightnessSettings", _brightness),
    _rule("display.screenTimeoutSeconds", "displaySettings.screenTimeoutSettings",
          _screen_timeout),
    _rule("connectivity.usbDataAccess", "deviceConnectivityManagement.usbDataAccess",
          _mapped(USB_DATA_ACCESS)),
    _rule("connectivity.wifiConfiguration", "deviceConnectivityManagement.configureWifi",
          _mapped(CONFIGURE_WIFI)),
    _rule("connectivity.ssidAllowlist", "deviceConnectivityManagement.wifiSsidPolicy",
          _ssid_allowlist),
    _rule("connectivity.tethering", "deviceConnectivityManagement.tetheringSettings",
          _mapped(TETHERING)),
    _rule("connectivity.bluetoothSharing", "deviceConnectivityManagement.bluetoothSharing",
          _bluetooth_sharing),
    _rule("privateDns", "deviceConnectivityManagement.privateDnsSettings", _private_dns),
    _rule("connectivity.airplaneMode", "deviceRadioState.airplaneModeState",
          _mapped(AIRPLANE_MODE)),
    _rule("connectivity.wifi", "deviceRadioState.wifiState", _mapped(WIFI_STATE)),
    _rule("connectivity.minimumWifiSecurity", "deviceRadioState.minimumWifiSecurityLevel",
          _mapped(WIFI_SECURITY_LEVEL)),
    SettingRule(("home.defaultHome", "app.packageName"), "defaultApplicationSettings",
                _default_home),
)

SEED_GAPS: list[tuple[str, str]] = [
    ("lockdown.disallowDisableAccounts",
     "AMAPI has no 'disable accounts' restriction; it is folded into modifyAccountsDisabled, "
     "which blocks adding and removing accounts, so it is on if any account setting is."),
    ("lockdown.disallowAccountCreation",
     "modifyAccountsDisabled for accounts and addUserDisabled for users; AMAPI ignores "
     "addUserDisabled on fully managed devices, where users can never add users anyway."),
    ("lockdown.disableOsGames",
     "funDisabled only disables the Easter-egg game in Settings; preinstalled game apps stay "
     "(kiosk mode hides them)."),
    ("lockdown.disallowSetTime",
     "there is no 'set time' restriction: enforcing automatic date, time and time zone is the "
     "closest; false leaves the choice to the user."),
    ("lockdown.disallowUnknownApps",
     "false allows unknown sources device-wide (ALLOW_INSTALL_DEVICE_WIDE): there is no "
     "per-app permission."),
    ("lockdown.keepScreenOn",
     "stayOnPluggedModes; maximumTimeToLock is also set to 0 (no auto-lock), as AMAPI advises."),
    ("lockdown.disableStatusBar",
     "statusBarDisabled is deprecated: kioskCustomization.statusBar is set to "
     "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED instead, which only acts in kiosk mode."),
    ("lockdown.disableNetworkReset", "networkResetDisabled only acts on fully managed devices."),
    ("kiosk.statusBar",
     "NOTIFICATIONS_AND_SYSTEM_INFO only shows notifications when navigation enables the home "
     "button."),
    ("kiosk.globalActions", "powerButtonActions: only the power button's menu (restart, off)."),
    ("kiosk (always)",
     "deviceSettings is always SETTINGS_ACCESS_BLOCKED: AMAPI's default lets a kiosk reach "
     "Settings."),
    ("systemUpdate.type POSTPONE",
     "AMAPI's POSTPONE has no duration: updates wait at most 30 days, security patches do not "
     "wait."),
    ("systemUpdate.freezePeriods",
     "a freeze blocks every system update, security patches included; 29 February is sent as "
     "28 February."),
    ("app.packageName installConstraint",
     "AMAPI applies install constraints only to force-installed apps; the kiosk app is "
     "REQUIRED_FOR_SETUP (setup waits for it), so its catalog constraint is not sent."),
    ("wifi eap.outer EAP-TLS",
     "needs a client certificate, which a Wi-Fi configuration cannot carry yet: the device "
     "reports the network as non-compliant until one is provided."),
    ("vpn",
     "the VPN profile lives in the VPN app's managed configuration: AMAPI does not accept ONC "
     "VPN networks."),
]


def _setting(settings: Mapping[str, Any], path: str) -> Any:
    value: Any = settings
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _put(policy: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    target = policy
    for key in parents:
        target = target.setdefault(key, {})
    target[leaf] = value


def _device_settings(config: Mapping[str, Any] | None) -> dict[str, Any]:
    # Defaults fill what a configuration stored before a setting existed does not have; the
    # optional sections (display, connectivity…) have none and stay as they are.
    settings = dict(config or {})
    for section, values in default_device_settings().items():
        settings[section] = {**values, **(settings.get(section) or {})}
    return settings


def _month_day(text: str) -> dict[str, int]:
    month, day = parse_month_day(text)
    # AMAPI follows AOSP: 29 February does not exist in a freeze period's year.
    return {"month": month, "day": 28 if (month, day) == (2, 29) else day}


def _system_update(system_update: Mapping[str, Any]) -> dict[str, Any] | None:
    if system_update["type"] == "RULES":
        return None  # AMAPI's system update type would decide OS updates before the rules
    compiled: dict[str, Any] = {"type": system_update["type"]}
    if system_update["type"] == "WINDOWED":
        window = system_update.get("window")
        if not window:
            raise PolicyInputError("systemUpdate.window", "is required when type is WINDOWED")
        compiled["startMinutes"] = window["startMinutes"]
        compiled["endMinutes"] = window["endMinutes"]
    periods = system_update.get("freezePeriods") or []
    try:
        check_freeze_periods([(parse_month_day(period["start"]), parse_month_day(period["end"]))
                              for period in periods])
    except FreezePeriodError as exc:
        raise PolicyInputError(f"systemUpdate.freezePeriods[{exc.index}]", exc.reason) from None
    except ValueError as exc:
        raise PolicyInputError("systemUpdate.freezePeriods", str(exc)) from None
    if periods:
        compiled["freezePeriods"] = [
            {"startDate": _month_day(period["start"]), "endDate": _month_day(period["end"])}
            for period in periods]
    return compiled


def _date(text: str) -> dict[str, int]:
    year, month, day = (int(part) for part in text.split("-"))
    return {"year": year, "month": month, "day": day}


def _predicate(when: Mapping[str, Any]) -> dict[str, Any]:
    predicate: dict[str, Any] = {}
    if when.get("daysOfWeek"):
        predicate["daysOfWeek"] = list(when["daysOfWeek"])
    for ours, amapi_field in (("fromHour", "timeOfDayLowerBound"),
                              ("toHour", "timeOfDayUpperBound")):
        if when.get(ours) is not None:
            predicate[amapi_field] = {"hours": when[ours]}
    for ours, amapi_field in (("fromDate", "dateLowerBound"), ("untilDate", "dateUpperBound")):
        if when.get(ours):
            predicate[amapi_field] = _date(when[ours])
    for ours, amapi_field in (("minUpdateAgeDays", "updateAgeLowerBound"),
                              ("maxUpdateAgeDays", "updateAgeUpperBound")):
        if when.get(ours) is not None:
            predicate[amapi_field] = f"{when[ours] * 86400}s"
    return predicate


def _update_rules(rules: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """AMAPI's unified update control: the rules in order, the first matching one decides."""
    if not rules:
        return None
    compiled = []
    for rule in rules:
        entry: dict[str, Any] = {
            "id": rule["id"],
            "targets": [{"targetType": target} for target in rule["targets"]],
            "outcome": {"outcomeType": rule["outcome"]}}
        if rule.get("when"):
            entry["predicate"] = _predicate(rule["when"])
        if rule.get("stages"):
            entry["stages"] = [UPDATE_STAGES[stage] for stage in rule["stages"]]
        compiled.append(entry)
    return {"rules": compiled}


def _reaches_devices(app: Mapping[str, Any]) -> bool:
    return app.get("type") in AMAPI_APP_TYPES and bool(
        app.get("installOnDevice") or app.get("silentInstall"))


def _catalog_app(catalog: Mapping[str, dict[str, Any]], package_name: str, *, field: str,
                 role: str) -> dict[str, Any]:
    app = catalog.get(package_name)
    if app is None:
        raise PolicyInputError(field, f"{package_name} is not in the app catalog")
    if app.get("type") not in AMAPI_APP_TYPES:
        raise PolicyInputError(field, f"the {role} must be a PUBLIC or PRIVATE catalog app; "
                                      f"{package_name} is {app.get('type')}")
    return app


def _application(app: Mapping[str, Any], install_type: str,
                 roles: Collection[str] = ()) -> dict[str, Any]:
    app_roles = sorted({*(app.get("roles") or ()), *roles})
    if "KIOSK" in app_roles:
        install_type = KIOSK_INSTALL_TYPE
    compiled: dict[str, Any] = {"packageName": app["packageName"], "installType": install_type}
    if app.get("managedConfiguration"):
        compiled["managedConfiguration"] = copy.deepcopy(app["managedConfiguration"])
    if app.get("autoUpdateMode"):
        compiled["autoUpdateMode"] = AUTO_UPDATE_MODES[app["autoUpdateMode"]]
    if app.get("minimumVersionCode") is not None:
        compiled["minimumVersionCode"] = app["minimumVersionCode"]
    if app.get("trackIds"):
        compiled["accessibleTrackIds"] = sorted(set(app["trackIds"]))
    constraint = app.get("installConstraint")
    if constraint and install_type in CONSTRAINED_INSTALL_TYPES:
        compiled["installConstraint"] = [{
            "networkTypeConstraint": NETWORK_TYPE_CONSTRAINTS[constraint.get("network", "ANY")],
            "chargingConstraint": "INSTALL_ONLY_WHEN_CHARGING" if constraint.get("charging")
            else "CHARGING_NOT_REQUIRED",
            "deviceIdleConstraint": "INSTALL_ONLY_WHEN_DEVICE_IDLE" if constraint.get("idle")
            else "DEVICE_IDLE_NOT_REQUIRED",
        }]
    if app.get("installPriority") and install_type in CONSTRAINED_INSTALL_TYPES:
        compiled["installPriority"] = app["installPriority"]
    if app_roles:
        compiled["roles"] = [{"roleType": role} for role in app_roles]
    return compiled


def _distributed_apps(apps: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    by_package: dict[str, Mapping[str, Any]] = {}
    for app in apps:
        known = by_package.setdefault(app["packageName"], app)
        # Two different entries would make the result depend on the order of the inputs.
        if known != app:
            raise PolicyInputError("packageName", f"{app['packageName']} is distributed twice "
                                                  "with different settings")
    return by_package


def _applications(inputs: PolicyInputs) -> list[dict[str, Any]]:
    entries = {package: _application(app, "FORCE_INSTALLED")
               for package, app in _distributed_apps(inputs.apps).items()
               if _reaches_devices(app)}
    if inputs.vpn is not None:
        package = inputs.vpn["packageName"]
        vpn_app = _catalog_app(inputs.catalog, package, field="packageName",
                               role="always-on VPN app")
        entries[package] = _application(vpn_app, "FORCE_INSTALLED")
    if inputs.config is not None:
        package = inputs.config["app"]["packageName"]
        kiosk_app = _catalog_app(inputs.catalog, package, field="app.packageName",
                                 role="kiosk app")
        extras = inputs.config.get("additionalKioskApps") or []
        # A multi-app kiosk pins nothing: AMAPI's kiosk launcher shows the policy's apps.
        entries[package] = _application(kiosk_app, KIOSK_INSTALL_TYPE,
                                        roles=() if extras else ("KIOSK",))
        for index, extra in enumerate(extras):
            app = _catalog_app(inputs.catalog, extra["packageName"],
                               field=f"additionalKioskApps[{index}].packageName",
                               role="kiosk app")
            entries[extra["packageName"]] = _application(app, "FORCE_INSTALLED")
    if inputs.vpn is not None and inputs.vpn.get("managedConfiguration"):
        # The VPN profile lives in the VPN app's managed configuration.
        entries[inputs.vpn["packageName"]]["managedConfiguration"] = copy.deepcopy(
            inputs.vpn["managedConfiguration"])

    with_minimum = [package for package, entry in entries.items()
                    if "minimumVersionCode" in entry]
    if len(with_minimum) > MAX_APPS_WITH_MINIMUM_VERSION:
        raise PolicyInputError("minimumVersionCode", (
            f"{len(with_minimum)} apps of this policy set a minimum version code; AMAPI allows "
            f"at most {MAX_APPS_WITH_MINIMUM_VERSION}"))
    _refuse_shared_roles(entries, inputs.config)
    return [entries[package] for package in sorted(entries)]


def role_holders(applications: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Role type -> the packages holding it in a compiled policy's applications."""
    holders: dict[str, list[str]] = {}
    for entry in applications:
        for role in entry.get("roles") or ():
            holders.setdefault(role["roleType"], []).append(entry["packageName"])
    return holders


def _refuse_shared_roles(entries: Mapping[str, Mapping[str, Any]],
                         config: Mapping[str, Any] | None) -> None:
    holders = role_holders([entries[package] for package in sorted(entries)])
    for role, packages in sorted(holders.items()):
        if len(packages) > 1:
            raise PolicyInputError("roles", (
                f"{' and '.join(packages)} would both hold the {role} role on the same "
                "devices; AMAPI lets one app per policy hold each role"))
    if config is not None and config.get("additionalKioskApps") and "KIOSK" in holders:
        raise PolicyInputError("additionalKioskApps", (
            f"{holders['KIOSK'][0]} holds the KIOSK role, which pins it: a multi-app kiosk "
            "shows its apps on the kiosk launcher instead"))


def _network(wifi: Mapping[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "SSID": wifi["ssid"],
        "Security": ONC_SECURITY[wifi["security"]],
        "HiddenSSID": bool(wifi.get("hiddenSsid", False)),
        "AutoConnect": bool(wifi.get("autoConnect", True)),
    }
    if wifi.get("passphrase") is not None:
        settings["Passphrase"] = wifi["passphrase"]
    eap = wifi.get("eap")
    if wifi["security"] == "WPA_EAP" and eap:
        compiled_eap = {"Outer": ONC_EAP_OUTER[eap["outer"]]}
        for ours, onc in (("inner", "Inner"), ("identity", "Identity"),
                          ("password", "Password")):
            if eap.get(ours) is not None:
                compiled_eap[onc] = eap[ours]
        settings["EAP"] = compiled_eap
    return {"GUID": f"wifi-{wifi['id']}", "Name": wifi["name"], "Type": "WiFi",
            "WiFi": settings}


def compile_policy(inputs: PolicyInputs) -> dict[str, Any]:
    """The AMAPI Policy body for a device given its configuration, apps, Wi-Fi and VPN."""
    settings = _device_settings(inputs.config)
    policy = copy.deepcopy(BASELINE_POLICY)
    for rule in SETTING_RULES:
        value = rule.value(*(_setting(settings, source) for source in rule.sources))
        if value is not None:
            _put(policy, rule.target, value)
    system_update = _system_update(settings["systemUpdate"])
    if system_update is not None:
        policy["systemUpdate"] = system_update
    update_rules = _update_rules(settings["systemUpdate"].get("rules") or [])
    if update_rules is not None:
        policy["unifiedUpdatePolicy"] = update_rules

    applications = _applications(inputs)
    if applications:
        policy["applications"] = applications
    pinned = "KIOSK" in role_holders(applications)
    if not pinned and (inputs.config is None or inputs.config.get("additionalKioskApps")):
        # No app to pin: AMAPI's kiosk launcher, never an open home screen.
        policy["kioskCustomLauncherEnabled"] = True
    if inputs.wifi:
        networks = sorted(inputs.wifi, key=lambda wifi: (wifi["name"], str(wifi["id"])))
        policy["openNetworkConfiguration"] = {
            "NetworkConfigurations": [_network(wifi) for wifi in networks]}
    if inputs.vpn is not None:
        policy["alwaysOnVpnPackage"] = {
            "packageName": inputs.vpn["packageName"],
            "lockdownEnabled": bool(inputs.vpn.get("lockdownEnabled", False))}
    return policy


def is_secret_key(key: str, secret_keys: Collection[str] = ()) -> bool:
    """True when a managed-configuration key holds a secret (listed, or named like one)."""
    if key in secret_keys:
        return True
    words = _WORD.findall(key)
    return bool(words) and words[-1].lower() in SECRET_KEY_WORDS


def mask_managed_configuration(value: Any, secret_keys: Collection[str] = ()) -> Any:
    """A copy of a managed configuration with the value of every secret key masked."""
    if isinstance(value, dict):
        return {key: MASK if is_secret_key(key, secret_keys) and item is not None
                else mask_managed_configuration(item, secret_keys)
                for key, item in value.items()}
    if isinstance(value, list):
        return [mask_managed_configuration(item, secret_keys) for item in value]
    return value


def unmask_managed_configuration(value: Any, stored: Any, secret_keys: Collection[str] = (),
                                 path: str = "managedConfiguration") -> Any:
    """`value` with every masked secret replaced by the stored one at the same place.

    So a client that sends back what it read keeps the secret instead of storing the mask;
    PolicyInputError names a mask that has no stored secret behind it.
    """
    if isinstance(value, dict):
        before = stored if isinstance(stored, dict) else {}
        restored: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if item == MASK and is_secret_key(key, secret_keys):
                if before.get(key) is None:
                    raise PolicyInputError(where, "is the mask of a secret that is not set: "
                                                  "send the secret itself")
                restored[key] = before[key]
            else:
                restored[key] = unmask_managed_configuration(item, before.get(key),
                                                             secret_keys, where)
        return restored
    if isinstance(value, list):
        earlier = stored if isinstance(stored, list) else []
        return [unmask_managed_configuration(item, earlier[i] if i < len(earlier) else None,
                                             secret_keys, f"{path}[{i}]")
                for i, item in enumerate(value)]
    return value


def mask_secrets(policy: Mapping[str, Any],
                 secret_keys: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:
    """A deep copy of the policy with Wi-Fi passphrases, EAP passwords and the secrets of
    apps' managed configurations (`secret_keys`: package → listed keys) masked."""
    masked = copy.deepcopy(dict(policy))
    for application in masked.get("applications") or []:
        if "managedConfiguration" in application:
            listed = (secret_keys or {}).get(application.get("packageName", ""), ())
            application["managedConfiguration"] = mask_managed_configuration(
                application["managedConfiguration"], listed)
    networks = (masked.get("openNetworkConfiguration") or {}).get("NetworkConfigurations") or []
    for network in networks:
        wifi = network.get("WiFi") or {}
        if "Passphrase" in wifi:
            wifi["Passphrase"] = MASK
        eap = wifi.get("EAP") or {}
        if "Password" in eap:
            eap["Password"] = MASK
    return masked


def policy_fingerprint(policy: Mapping[str, Any]) -> str:
    """SHA-256 of the policy's canonical JSON: equal fingerprints mean nothing to push."""
    # The policy holds Wi-Fi secrets, so its hash is not for display: it stays server-side.
    canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
