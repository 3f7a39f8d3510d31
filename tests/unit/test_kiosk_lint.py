"""The kiosk linter: each way out of the pinned app, and each surprise, found and named."""

from __future__ import annotations

from typing import Any

from shared.policy import schemas
from shared.policy.effective_policy import SpaceInputs
from shared.policy.kiosk_lint import ERROR, lint
from shared.store.versioned import Stored

KIOSK = "com.example.kiosk"


def config(**fields: Any) -> dict[str, Any]:
    body = {"name": "Lobby", "priority": 10, "app": {"packageName": KIOSK},
            "distribution": {"mode": "ALL"}, **fields}
    loaded: dict[str, Any] = schemas.CosuConfigCreateSchema().load(body)
    return loaded


def wifi(distribution: dict[str, Any]) -> Stored:
    return Stored("w1", {"name": "Store", "ssid": "S", "security": "WPA_PSK",
                         "distribution": distribution})


def space(data: dict[str, Any], *, others: dict[str, dict[str, Any]] | None = None,
          wifis: list[Stored] = (), app: dict[str, Any] | None = None) -> SpaceInputs:
    configs = {"c1": Stored("c1", data)} | {k: Stored(k, v) for k, v in (others or {}).items()}
    apps = {KIOSK: Stored("a1", app or {"packageName": KIOSK, "type": "PUBLIC"})}
    return SpaceInputs(configs=configs, apps=apps, wifi={w.id: w for w in wifis})


def codes(data: dict[str, Any], **inputs: Any) -> dict[str, str]:
    return {f.code: f.severity for f in lint("c1", data, space(data, **inputs))}


def test_a_locked_down_configuration_has_no_error():
    data = config(kiosk={"globalActions": False}, connectivity={
        "usbDataAccess": "DISALLOWED", "wifi": "ENABLED", "minimumWifiSecurity": "PERSONAL",
        "ssidAllowlist": ["S"]})
    found = lint("c1", data, space(data, wifis=[wifi({"mode": "ALL"})]))
    assert found == []
    defaults = config()
    assert ERROR not in codes(defaults).values()


def test_navigation_and_status_bar_notifications_are_two_errors_naming_their_fields():
    data = config(kiosk={"navigation": "ENABLED", "statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"})
    found = {f.code: f for f in lint("c1", data, space(data))}
    assert found["NAVIGATION_ENABLED"].severity == ERROR
    assert found["NAVIGATION_ENABLED"].field == "kiosk.navigation"
    assert found["STATUS_BAR_NOTIFICATIONS"].severity == ERROR
    assert found["STATUS_BAR_NOTIFICATIONS"].field == "kiosk.statusBar"
    assert all(f.fix for f in found.values())
    assert codes(config(kiosk={"navigation": "HOME_ONLY"}))["HOME_BUTTON_ENABLED"] == "WARNING"


def test_status_bar_notifications_need_the_home_button_to_show():
    quiet = config(kiosk={"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"})
    assert codes(quiet).get("STATUS_BAR_NOTIFICATIONS_INERT") == "INFO"
    assert "STATUS_BAR_NOTIFICATIONS" not in codes(quiet)
    home = config(kiosk={"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO", "navigation": "HOME_ONLY"})
    assert codes(home)["STATUS_BAR_NOTIFICATIONS"] == ERROR
    hidden = config(kiosk={"statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO", "navigation": "ENABLED"},
                    lockdown={"disableStatusBar": True})
    assert "STATUS_BAR_NOTIFICATIONS" not in codes(hidden)


def test_unknown_sources_are_an_error():
    assert codes(config(lockdown={"disallowUnknownApps": False}))[
        "UNKNOWN_SOURCES_ALLOWED"] == ERROR


def test_the_escape_hatch_warns_only_when_no_wifi_reaches_the_devices():
    data = config()
    assert "ESCAPE_HATCH_WITHOUT_WIFI" in codes(data)
    assert "ESCAPE_HATCH_WITHOUT_WIFI" not in codes(data, wifis=[wifi({"mode": "ALL"})])
    custom = config(distribution={"mode": "CUSTOM", "labels": ["lobby"]})
    assert "ESCAPE_HATCH_WITHOUT_WIFI" in codes(
        custom, wifis=[wifi({"mode": "CUSTOM", "labels": ["office"]})])
    assert "ESCAPE_HATCH_WITHOUT_WIFI" not in codes(
        custom, wifis=[wifi({"mode": "CUSTOM", "labels": ["lobby"]})])
    assert "ESCAPE_HATCH_WITHOUT_WIFI" not in codes(
        config(lockdown={"networkEscapeHatch": False}))


def test_automatic_updates_on_an_always_on_device_warn():
    always_on = {"keepScreenOn": ["AC", "USB", "WIRELESS"]}
    assert "UPDATES_WITHOUT_WINDOW" in codes(config(lockdown=always_on))
    windowed = {"type": "WINDOWED", "window": {"startMinutes": 120, "endMinutes": 240}}
    assert "UPDATES_WITHOUT_WINDOW" not in codes(config(lockdown=always_on,
                                                        systemUpdate=windowed))
    assert "UPDATES_WITHOUT_WINDOW" not in codes(config())


def test_freeze_periods_over_90_days_a_year_warn():
    two = {"freezePeriods": [{"start": "01-01", "end": "02-28"},
                             {"start": "06-01", "end": "07-31"}]}
    assert "SECURITY_PATCHES_FROZEN" in codes(config(systemUpdate=two))
    one = {"freezePeriods": [{"start": "11-20", "end": "12-31"}]}
    assert "SECURITY_PATCHES_FROZEN" not in codes(config(systemUpdate=one))


def test_two_configurations_at_the_same_priority_reaching_the_same_devices_warn():
    data = config()
    other = config(name="Other")
    assert "SAME_PRIORITY_OVERLAP" in codes(data, others={"c2": other})
    assert "SAME_PRIORITY_OVERLAP" not in codes(data, others={"c2": config(name="O", priority=9)})
    labelled = config(name="O", distribution={"mode": "CUSTOM", "labels": ["x"]})
    mine = config(distribution={"mode": "CUSTOM", "labels": ["y"]})
    assert "SAME_PRIORITY_OVERLAP" not in codes(mine, others={"c2": labelled})


def test_a_public_pinned_app_on_a_track_warns():
    tracked = {"packageName": KIOSK, "type": "PUBLIC", "trackIds": ["beta"]}
    assert "PINNED_APP_TRACK" in codes(config(), app=tracked)
    assert "PINNED_APP_TRACK" not in codes(config())


def test_usb_data_reachable_warns_until_file_transfer_is_off():
    assert codes(config())["USB_DATA_ALLOWED"] == "WARNING"
    assert codes(config(connectivity={"usbDataAccess": "ALLOWED"}))["USB_DATA_ALLOWED"]
    assert "USB_DATA_ALLOWED" not in codes(config(connectivity={
        "usbDataAccess": "NO_FILE_TRANSFER"}))


def test_wifi_settings_that_keep_devices_off_their_distributed_networks_warn():
    open_network = Stored("w2", {"name": "Guest", "ssid": "Guest", "security": "NONE",
                                 "distribution": {"mode": "ALL"}})
    reaching = [wifi({"mode": "ALL"}), open_network]
    data = config(connectivity={"wifi": "DISABLED", "minimumWifiSecurity": "PERSONAL",
                                "ssidAllowlist": ["S"]})
    found = {f.code: f for f in lint("c1", data, space(data, wifis=reaching))}
    assert found["WIFI_TURNED_OFF"].field == "connectivity.wifi"
    assert "Guest" in found["WIFI_BELOW_MINIMUM_SECURITY"].message
    assert "Store" not in found["WIFI_BELOW_MINIMUM_SECURITY"].message
    assert "Guest" in found["WIFI_OUTSIDE_SSID_ALLOWLIST"].message
    # A network that reaches none of these devices does not count.
    elsewhere = [wifi({"mode": "CUSTOM", "labels": ["other"]})]
    assert not {"WIFI_TURNED_OFF", "WIFI_BELOW_MINIMUM_SECURITY"} & set(codes(
        config(connectivity={"wifi": "DISABLED", "minimumWifiSecurity": "ENTERPRISE"}),
        wifis=elsewhere))


def test_a_default_home_app_is_noted_as_android_16_only():
    assert codes(config(home={"defaultHome": True}))["DEFAULT_HOME_ANDROID_16"] == "INFO"
    assert "DEFAULT_HOME_ANDROID_16" not in codes(config())
