"""The kiosk linter (pure): ways out of the pinned app, and settings that surprise people on a
dedicated device, found in a COSU configuration before it reaches any device.

Each finding names the field at fault and how to fix it. ERROR: a person at the device can leave
the pinned app, or install what they like; WARNING: the device may stop serving, or behave
otherwise than its administrator expects; INFO: worth knowing. Findings never block a change
unless it asks to be strict (`?strict=true`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.policy.effective_policy import SpaceInputs
from shared.policy.freeze_periods import parse_month_day, period_length

ERROR, WARNING, INFO = "ERROR", "WARNING", "INFO"
MAX_FROZEN_DAYS = 90  # security patches wait out every freeze period


@dataclass(frozen=True)
class Finding:
    """One thing the linter found."""

    code: str
    severity: str
    field: str
    message: str
    fix: str

    def as_json(self) -> dict[str, str]:
        """The finding as the API shows it."""
        return {"code": self.code, "severity": self.severity, "field": self.field,
                "message": self.message, "fix": self.fix}


def lint(config_id: str, config: Mapping[str, Any], inputs: SpaceInputs) -> list[Finding]:
    """The findings of a COSU configuration (`config`, as stored) in its space's `inputs`."""
    kiosk = config.get("kiosk") or {}
    lockdown = config.get("lockdown") or {}
    updates = config.get("systemUpdate") or {}
    found: list[Finding] = []
    if kiosk.get("navigation") == "ENABLED":
        found.append(Finding(
            "NAVIGATION_ENABLED", ERROR, "kiosk.navigation",
            "the home and overview buttons are enabled: the overview button switches to other "
            "apps while the kiosk app is pinned", 'set it to "DISABLED" (or "HOME_ONLY")'))
    elif kiosk.get("navigation") == "HOME_ONLY":
        found.append(Finding(
            "HOME_BUTTON_ENABLED", WARNING, "kiosk.navigation",
            "the home button is enabled: it returns to the kiosk app's start screen, losing "
            "whatever a person was doing in it", 'set it to "DISABLED" unless that is wanted'))
    if (kiosk.get("statusBar") == "NOTIFICATIONS_AND_SYSTEM_INFO"
            and not lockdown.get("disableStatusBar")):
        # AMAPI shows a kiosk's notifications only while its home button is enabled.
        if kiosk.get("navigation", "DISABLED") != "DISABLED":
            found.append(Finding(
                "STATUS_BAR_NOTIFICATIONS", ERROR, "kiosk.statusBar",
                "the status bar shows notifications: pulling it down opens other apps from "
                "their notifications, and quick settings",
                'set it to "SYSTEM_INFO_ONLY" or "HIDDEN"'))
        else:
            found.append(Finding(
                "STATUS_BAR_NOTIFICATIONS_INERT", INFO, "kiosk.statusBar",
                "notifications are asked for, but a kiosk shows them only while its home button "
                "is enabled, and navigation is DISABLED: none show",
                'set it to "SYSTEM_INFO_ONLY" to say what the devices do'))
    if lockdown.get("disallowUnknownApps") is False:
        found.append(Finding(
            "UNKNOWN_SOURCES_ALLOWED", ERROR, "lockdown.disallowUnknownApps",
            "apps from unknown sources can be installed on the whole device",
            "set it to true; distribute private apps through the catalog instead"))
    found += _connectivity(config, inputs)
    if lockdown.get("networkEscapeHatch", True) and not _wifi_reaching(config, inputs):
        found.append(Finding(
            "ESCAPE_HATCH_WITHOUT_WIFI", WARNING, "lockdown.networkEscapeHatch",
            "no Wi-Fi configuration is distributed to these devices: one that boots without "
            "a network shows the network escape hatch, where anyone can pick a network",
            "distribute a Wi-Fi configuration to the same devices, or turn the hatch off for "
            "devices on mobile data or Ethernet"))
    if updates.get("type", "AUTOMATIC") == "AUTOMATIC" and lockdown.get("keepScreenOn"):
        found.append(Finding(
            "UPDATES_WITHOUT_WINDOW", WARNING, "systemUpdate.type",
            "system updates install as soon as they arrive and restart the device, on a "
            "device kept on to serve", 'use "WINDOWED" with a window outside opening hours'))
    frozen = sum(period_length((parse_month_day(p["start"]), parse_month_day(p["end"])))
                 for p in updates.get("freezePeriods") or [])
    if frozen > MAX_FROZEN_DAYS:
        found.append(Finding(
            "SECURITY_PATCHES_FROZEN", WARNING, "systemUpdate.freezePeriods",
            f"the freeze periods block every system update, security patches included, for "
            f"{frozen} days a year", f"keep them to {MAX_FROZEN_DAYS} days a year or less"))
    found += _pinned_app(config, inputs)
    found += _same_priority(config_id, config, inputs)
    if (config.get("home") or {}).get("defaultHome"):
        found.append(Finding(
            "DEFAULT_HOME_ANDROID_16", INFO, "home.defaultHome",
            "AMAPI sets a default home app only on Android 16 and later: older devices report "
            "the setting as not applied, which a staged rollout's gate counts as non-compliant",
            "keep it for Android 16 fleets; the pinned app is the home screen anyway"))
    if kiosk.get("globalActions", True):
        found.append(Finding(
            "POWER_MENU", INFO, "kiosk.globalActions",
            "the power button's menu lets a person restart or power off the device",
            "set it to false if only an administrator should"))
    return found


def _wifi_reaching(config: Mapping[str, Any], inputs: SpaceInputs) -> list[Mapping[str, Any]]:
    """The Wi-Fi configurations that reach every device the configuration may reach."""
    mode = (config.get("distribution") or {}).get("mode", "NONE")
    reaching: list[Mapping[str, Any]] = []
    for _, wifi in sorted(inputs.wifi.items()):
        reach = (wifi.data.get("distribution") or {}).get("mode", "NONE")
        if reach == "ALL" or (reach == "CUSTOM" and mode == "CUSTOM" and overlap(
                config.get("distribution"), wifi.data.get("distribution"))):
            reaching.append(wifi.data)
    return reaching


# The weakest security each AMAPI minimum Wi-Fi security level still lets a device join.
ALLOWED_WIFI_SECURITY = {
    "OPEN": {"NONE", "WEP_PSK", "WPA_PSK", "WPA_EAP"},
    "PERSONAL": {"WEP_PSK", "WPA_PSK", "WPA_EAP"},
    "ENTERPRISE": {"WPA_EAP"},
    "ENTERPRISE_192": set(),  # needs WPA3-Enterprise 192-bit, which no configuration offers
}


def _connectivity(config: Mapping[str, Any], inputs: SpaceInputs) -> list[Finding]:
    connectivity = config.get("connectivity") or {}
    found = []
    if connectivity.get("usbDataAccess", "ALLOWED") == "ALLOWED":
        found.append(Finding(
            "USB_DATA_ALLOWED", WARNING, "connectivity.usbDataAccess",
            "files can be copied to and from the device over USB by anyone with a cable "
            "(USB debugging is always off)",
            'set it to "NO_FILE_TRANSFER", or "DISALLOWED" if no USB accessory is needed'))
    networks = _wifi_reaching(config, inputs)
    if connectivity.get("wifi") == "DISABLED" and networks:
        found.append(Finding(
            "WIFI_TURNED_OFF", WARNING, "connectivity.wifi",
            f"Wi-Fi is kept off, yet {len(networks)} Wi-Fi configuration(s) reach these "
            "devices: they never connect to them", 'set it to "ENABLED" or "USER_CHOICE"'))
    minimum = connectivity.get("minimumWifiSecurity")
    if minimum is not None:
        weaker = [wifi["name"] for wifi in networks
                  if wifi.get("security") not in ALLOWED_WIFI_SECURITY[minimum]]
        if weaker:
            found.append(Finding(
                "WIFI_BELOW_MINIMUM_SECURITY", WARNING, "connectivity.minimumWifiSecurity",
                f"{', '.join(weaker)} is weaker than {minimum}: devices will not join it",
                "lower the minimum, or secure those networks"))
    allowed = connectivity.get("ssidAllowlist")
    if allowed:
        outside = [wifi["name"] for wifi in networks if wifi.get("ssid") not in allowed]
        if outside:
            found.append(Finding(
                "WIFI_OUTSIDE_SSID_ALLOWLIST", WARNING, "connectivity.ssidAllowlist",
                f"{', '.join(outside)} is distributed but its SSID is not in the allowlist: "
                "devices will not join it", "add its SSID to the allowlist"))
    return found


def _pinned_app(config: Mapping[str, Any], inputs: SpaceInputs) -> list[Finding]:
    package = (config.get("app") or {}).get("packageName")
    app = inputs.apps.get(str(package))
    if app is None or not app.data.get("trackIds") or app.data.get("type") != "PUBLIC":
        return []
    return [Finding(
        "PINNED_APP_TRACK", WARNING, "app.packageName",
        f"{package} is pinned on track(s) {', '.join(app.data['trackIds'])}: a device gets a "
        "public app's testing track only once its developer shares it with the enterprise, "
        "and a kiosk without its app shows an error screen",
        "check that the track is shared in the Play Console, or remove trackIds")]


def _same_priority(config_id: str, config: Mapping[str, Any],
                   inputs: SpaceInputs) -> list[Finding]:
    found = []
    for other_id, other in sorted(inputs.configs.items()):
        if (other_id != config_id and other.data.get("priority") == config.get("priority")
                and overlap(config.get("distribution"), other.data.get("distribution"))):
            found.append(Finding(
                "SAME_PRIORITY_OVERLAP", WARNING, "priority",
                f"COSU configuration {other.data.get('name')!r} ({other_id}) has the same "
                f"priority and reaches some of the same devices: the older of the two wins",
                "give one of them a higher priority"))
    return found


def overlap(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> bool:
    """True when two distributions can reach the same device."""
    modes = ((first or {}).get("mode", "NONE"), (second or {}).get("mode", "NONE"))
    if "NONE" in modes:
        return False
    if "ALL" in modes:
        return True
    assert first is not None and second is not None
    return any(set(first.get(name) or []) & set(second.get(name) or [])
               for name in ("deviceIds", "labels", "userNames"))
