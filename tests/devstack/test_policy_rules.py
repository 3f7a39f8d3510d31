"""The emulator refuses, like AMAPI, a policy that breaks a documented semantic rule."""

from __future__ import annotations

import json
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from devstack.amapi_emulator.policy_rules import RULES, policy_problems
from shared.policy.compiler import PolicyInputs, compile_policy
from shared.policy.holding_policy import holding_policy
from shared.policy.schemas import AppCreateSchema, CosuConfigCreateSchema

from .harness import ENTERPRISE

POLICY = f"{ENTERPRISE}/policies/rules"
BASELINE = {"funDisabled": True}
CERT = {"signingKeyCertFingerprintSha256": "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo="}


def app(package: str, install_type: str = "FORCE_INSTALLED", *roles: str,
        **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"packageName": package, "installType": install_type, **fields}
    if roles:
        entry["roles"] = [{"roleType": role} for role in roles]
    return entry


def apps(*entries: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"applications": list(entries), **fields}


def custom(**fields: Any) -> dict[str, Any]:
    return app("com.example.custom", "CUSTOM", signingKeyCerts=[CERT], **fields)


def default_app(kind: str, scopes: list[str], packages: list[str]) -> dict[str, Any]:
    return {"defaultApplicationType": kind, "defaultApplicationScopes": scopes,
            "defaultApplications": [{"packageName": p} for p in packages]}


def update_rule(rule_id: str = "r", **fields: Any) -> dict[str, Any]:
    return {"id": rule_id, "targets": [{"targetType": "GOOGLE_SYSTEM_SERVICES"}], **fields}


def freeze(start: tuple[int, int], end: tuple[int, int], **start_extra: int) -> dict[str, Any]:
    return {"startDate": {"month": start[0], "day": start[1], **start_extra},
            "endDate": {"month": end[0], "day": end[1]}}


def windowed(*periods: dict[str, Any], start: int = 60, end: int = 120) -> dict[str, Any]:
    return {"systemUpdate": {"type": "WINDOWED", "startMinutes": start, "endMinutes": end,
                             "freezePeriods": list(periods)}}


KIOSK = app("com.example.kiosk", "REQUIRED_FOR_SETUP", "KIOSK")
BROWSER = app("com.example.browser")
LAUNCHER = app("com.example.launcher")

# (body, the field path the refusal must name), at least one per rule.
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "3001 applications": (
        apps(*(app(f"com.example.a{i}") for i in range(3001))), "applications"),
    "a package listed twice": (apps(BROWSER, app("com.example.browser", "AVAILABLE")),
                               "applications[1].packageName"),
    "two KIOSK install types": (apps(app("a.one", "KIOSK"), app("a.two", "KIOSK")),
                                "applications[1].installType"),
    "KIOSK install type beside a KIOSK role": (apps(KIOSK, app("a.two", "KIOSK")),
                                               "applications[1].installType"),
    "ROLE_TYPE_UNSPECIFIED": (apps(app("a.one", "FORCE_INSTALLED", "ROLE_TYPE_UNSPECIFIED")),
                              "applications[0].roles[0].roleType"),
    "a role twice in one app": (apps(app("a.one", "FORCE_INSTALLED", "COMPANION_APP",
                                         "COMPANION_APP")), "applications[0].roles[1]"),
    "one role type on two apps": (
        apps(app("a.one", "FORCE_INSTALLED", "SYSTEM_HEALTH_MONITORING"),
             app("a.two", "FORCE_INSTALLED", "SYSTEM_HEALTH_MONITORING")),
        "applications[1].roles[0]"),
    "KIOSK role on a FORCE_INSTALLED app": (apps(app("a.one", "FORCE_INSTALLED", "KIOSK")),
                                            "applications[0].roles[0]"),
    "custom launcher with a KIOSK role": (apps(KIOSK, kioskCustomLauncherEnabled=True),
                                          "kioskCustomLauncherEnabled"),
    "custom launcher with a KIOSK install type": (
        apps(app("a.one", "KIOSK"), kioskCustomLauncherEnabled=True),
        "kioskCustomLauncherEnabled"),
    "21 minimum version codes": (
        apps(*(app(f"com.example.a{i}", minimumVersionCode=i + 1) for i in range(21))),
        "applications[20].minimumVersionCode"),
    "two install constraints": (
        apps(app("a.one", installConstraint=[
            {"chargingConstraint": "INSTALL_ONLY_WHEN_CHARGING"},
            {"deviceIdleConstraint": "INSTALL_ONLY_WHEN_DEVICE_IDLE"}])),
        "applications[0].installConstraint"),
    "an install constraint setting nothing": (apps(app("a.one", installConstraint=[{}])),
                                              "applications[0].installConstraint[0]"),
    "install priority 10001": (apps(app("a.one", installPriority=10_001)),
                               "applications[0].installPriority"),
    "negative install priority": (apps(app("a.one", installPriority=-1)),
                                  "applications[0].installPriority"),
    "custom app without signing certificates": (apps(app("a.one", "CUSTOM")),
                                                "applications[0].signingKeyCerts"),
    "custom app with a minimum version": (apps(custom(minimumVersionCode=3)),
                                          "applications[0].minimumVersionCode"),
    "custom app with tracks": (apps(custom(accessibleTrackIds=["beta"])),
                               "applications[0].accessibleTrackIds"),
    "custom app with an auto-update mode": (apps(custom(autoUpdateMode="AUTO_UPDATE_DEFAULT")),
                                            "applications[0].autoUpdateMode"),
    "custom app with an install constraint": (
        apps(custom(installConstraint=[{"chargingConstraint": "INSTALL_ONLY_WHEN_CHARGING"}])),
        "applications[0].installConstraint"),
    "custom app with an install priority": (apps(custom(installPriority=5)),
                                            "applications[0].installPriority"),
    "custom app config on a Play app": (
        apps(app("a.one", customAppConfig={"userUninstallSettings": "DISALLOW_UNINSTALL_BY_USER"})),
        "applications[0].customAppConfig"),
    "user control on a companion app": (
        apps(app("a.one", "FORCE_INSTALLED", "COMPANION_APP",
                 userControlSettings="USER_CONTROL_ALLOWED")),
        "applications[0].userControlSettings"),
    "user control on a threat-defense app": (
        apps(app("a.one", "FORCE_INSTALLED", "MOBILE_THREAT_DEFENSE_ENDPOINT_DETECTION_RESPONSE",
                 userControlSettings="USER_CONTROL_ALLOWED")),
        "applications[0].userControlSettings"),
    "two extension apps": (
        apps(app("a.one", extensionConfig={"notificationReceiver": "a.one.R"}),
             app("a.two", extensionConfig={"notificationReceiver": "a.two.R"})),
        "applications[1].extensionConfig"),
    "an extension app beside a companion app": (
        apps(app("a.one", extensionConfig={"notificationReceiver": "a.one.R"}),
             app("a.two", "FORCE_INSTALLED", "COMPANION_APP")),
        "applications[0].extensionConfig"),
    "specified private DNS without a host": (
        {"deviceConnectivityManagement": {"privateDnsSettings": {
            "privateDnsMode": "PRIVATE_DNS_SPECIFIED_HOST"}}},
        "deviceConnectivityManagement.privateDnsSettings.privateDnsHost"),
    "a private DNS host in automatic mode": (
        {"deviceConnectivityManagement": {"privateDnsSettings": {
            "privateDnsMode": "PRIVATE_DNS_AUTOMATIC", "privateDnsHost": "dns.example"}}},
        "deviceConnectivityManagement.privateDnsSettings.privateDnsHost"),
    "brightness 256": (
        {"displaySettings": {"screenBrightnessSettings": {
            "screenBrightnessMode": "BRIGHTNESS_FIXED", "screenBrightness": 256}}},
        "displaySettings.screenBrightnessSettings.screenBrightness"),
    "fixed brightness without a level": (
        {"displaySettings": {"screenBrightnessSettings": {
            "screenBrightnessMode": "BRIGHTNESS_FIXED"}}},
        "displaySettings.screenBrightnessSettings.screenBrightness"),
    "a brightness level left to the user": (
        {"displaySettings": {"screenBrightnessSettings": {
            "screenBrightnessMode": "BRIGHTNESS_USER_CHOICE", "screenBrightness": 100}}},
        "displaySettings.screenBrightnessSettings.screenBrightness"),
    "a brightness level without a mode": (
        {"displaySettings": {"screenBrightnessSettings": {"screenBrightness": 100}}},
        "displaySettings.screenBrightnessSettings.screenBrightness"),
    "a zero screen timeout": (
        {"displaySettings": {"screenTimeoutSettings": {
            "screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED", "screenTimeout": "0s"}}},
        "displaySettings.screenTimeoutSettings.screenTimeout"),
    "an enforced screen timeout without a duration": (
        {"displaySettings": {"screenTimeoutSettings": {
            "screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED"}}},
        "displaySettings.screenTimeoutSettings.screenTimeout"),
    "a screen timeout left to the user": (
        {"displaySettings": {"screenTimeoutSettings": {
            "screenTimeoutMode": "SCREEN_TIMEOUT_USER_CHOICE", "screenTimeout": "60s"}}},
        "displaySettings.screenTimeoutSettings.screenTimeout"),
    "an empty SSID allowlist": (
        {"deviceConnectivityManagement": {"wifiSsidPolicy": {
            "wifiSsidPolicyType": "WIFI_SSID_ALLOWLIST"}}},
        "deviceConnectivityManagement.wifiSsidPolicy.wifiSsids"),
    "two settings for one default type": (
        apps(BROWSER, defaultApplicationSettings=[
            default_app("DEFAULT_BROWSER", ["SCOPE_FULLY_MANAGED"], ["com.example.browser"]),
            default_app("DEFAULT_BROWSER", ["SCOPE_WORK_PROFILE"], ["com.example.browser"])]),
        "defaultApplicationSettings[1].defaultApplicationType"),
    "an unspecified default type": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_APPLICATION_TYPE_UNSPECIFIED", ["SCOPE_FULLY_MANAGED"],
            ["com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplicationType"),
    "no default scope": (
        apps(BROWSER, defaultApplicationSettings=[
            default_app("DEFAULT_BROWSER", [], ["com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplicationScopes"),
    "a default scope twice": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_BROWSER", ["SCOPE_FULLY_MANAGED", "SCOPE_FULLY_MANAGED"],
            ["com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplicationScopes[1]"),
    "an unspecified default scope": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_BROWSER", ["DEFAULT_APPLICATION_SCOPE_UNSPECIFIED"],
            ["com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplicationScopes[0]"),
    "a default home in the work profile": (
        apps(LAUNCHER, defaultApplicationSettings=[default_app(
            "DEFAULT_HOME", ["SCOPE_FULLY_MANAGED", "SCOPE_WORK_PROFILE"],
            ["com.example.launcher"])]),
        "defaultApplicationSettings[0].defaultApplicationScopes[1]"),
    "a default assistant in the personal profile": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_ASSISTANT", ["SCOPE_PERSONAL_PROFILE"], ["com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplicationScopes[0]"),
    "no default application": (
        apps(BROWSER, defaultApplicationSettings=[
            default_app("DEFAULT_BROWSER", ["SCOPE_FULLY_MANAGED"], [])]),
        "defaultApplicationSettings[0].defaultApplications"),
    "a default application twice": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_BROWSER", ["SCOPE_FULLY_MANAGED"],
            ["com.example.browser", "com.example.browser"])]),
        "defaultApplicationSettings[0].defaultApplications[1].packageName"),
    "a default home missing from applications": (
        apps(BROWSER, defaultApplicationSettings=[default_app(
            "DEFAULT_HOME", ["SCOPE_FULLY_MANAGED"], ["com.example.launcher"])]),
        "defaultApplicationSettings[0].defaultApplications[0].packageName"),
    "a blocked default home": (
        apps(app("com.example.launcher", "BLOCKED"), defaultApplicationSettings=[default_app(
            "DEFAULT_HOME", ["SCOPE_FULLY_MANAGED"], ["com.example.launcher"])]),
        "defaultApplicationSettings[0].defaultApplications[0].packageName"),
    "101 update rules": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(f"r{i}") for i in range(101)]}},
        "unifiedUpdatePolicy.rules"),
    "an update rule without an id": (
        {"unifiedUpdatePolicy": {"rules": [update_rule("")]}}, "unifiedUpdatePolicy.rules[0].id"),
    "a 65-character rule id": (
        {"unifiedUpdatePolicy": {"rules": [update_rule("x" * 65)]}},
        "unifiedUpdatePolicy.rules[0].id"),
    "two rules with one id": (
        {"unifiedUpdatePolicy": {"rules": [update_rule("same"), update_rule("same")]}},
        "unifiedUpdatePolicy.rules[1].id"),
    "a rule without targets": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(targets=[])]}},
        "unifiedUpdatePolicy.rules[0].targets"),
    "a target twice": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(targets=[
            {"targetType": "OS_UPDATE_WITH_API_LEVEL_CHANGE"},
            {"targetType": "OS_UPDATE_WITH_API_LEVEL_CHANGE"}])]}},
        "unifiedUpdatePolicy.rules[0].targets[1]"),
    "a time-of-day bound with minutes": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(predicate={
            "timeOfDayLowerBound": {"hours": 2, "minutes": 30}})]}},
        "unifiedUpdatePolicy.rules[0].predicate.timeOfDayLowerBound"),
    "a time-of-day bound at hour 24": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(predicate={
            "timeOfDayUpperBound": {"hours": 24}})]}},
        "unifiedUpdatePolicy.rules[0].predicate.timeOfDayUpperBound.hours"),
    "an update age of one hour": (
        {"unifiedUpdatePolicy": {"rules": [update_rule(predicate={
            "updateAgeLowerBound": "3600s"})]}},
        "unifiedUpdatePolicy.rules[0].predicate.updateAgeLowerBound"),
    "a window starting at minute 1440": (windowed(start=1440), "systemUpdate.startMinutes"),
    "a window ending at minute -1": (windowed(end=-1), "systemUpdate.endMinutes"),
    "a freeze period with a year": (windowed(freeze((1, 1), (1, 10), year=2027)),
                                    "systemUpdate.freezePeriods[0].startDate"),
    "a 91-day freeze period": (windowed(freeze((1, 1), (4, 1))),
                               "systemUpdate.freezePeriods[0].endDate"),
    "freeze periods 59 days apart": (windowed(freeze((1, 1), (1, 31)), freeze((4, 1), (4, 5))),
                                     "systemUpdate.freezePeriods[1]"),
    "freeze periods 59 days apart across the year end": (
        windowed(freeze((11, 1), (12, 31)), freeze((3, 1), (3, 5))),
        "systemUpdate.freezePeriods[1]"),
    "overlapping freeze periods": (windowed(freeze((12, 1), (1, 15)), freeze((1, 10), (2, 1))),
                                   "systemUpdate.freezePeriods[1]"),
}

ACCEPTED: dict[str, dict[str, Any]] = {
    "3000 applications": apps(*(app(f"com.example.a{i}") for i in range(3000))),
    "20 minimum version codes": apps(
        *(app(f"com.example.a{i}", minimumVersionCode=i + 1) for i in range(20)),
        app("com.example.zero", minimumVersionCode=0)),
    "a KIOSK role on a REQUIRED_FOR_SETUP app": apps(KIOSK, BROWSER),
    "a KIOSK role on a custom app": apps(custom(roles=[{"roleType": "KIOSK"}])),
    "one KIOSK install type": apps(app("a.one", "KIOSK"), BROWSER),
    "a custom launcher with no kiosk app": apps(BROWSER, app("a.two", "FORCE_INSTALLED",
                                                             "COMPANION_APP"),
                                                kioskCustomLauncherEnabled=True),
    "every role type on its own app": apps(
        KIOSK, app("a.companion", "FORCE_INSTALLED", "COMPANION_APP"),
        app("a.mtd", "FORCE_INSTALLED", "MOBILE_THREAT_DEFENSE_ENDPOINT_DETECTION_RESPONSE"),
        app("a.health", "FORCE_INSTALLED", "SYSTEM_HEALTH_MONITORING")),
    "user control on a kiosk app": apps(
        app("a.one", "REQUIRED_FOR_SETUP", "KIOSK", userControlSettings="USER_CONTROL_ALLOWED")),
    "install priorities 0 and 10000": apps(app("a.one", installPriority=10_000),
                                           app("a.two", installPriority=0)),
    "one extension app": apps(app("a.one", extensionConfig={"notificationReceiver": "a.R"})),
    "private DNS with a host": {"deviceConnectivityManagement": {"privateDnsSettings": {
        "privateDnsMode": "PRIVATE_DNS_SPECIFIED_HOST", "privateDnsHost": "dns.example"}}},
    "fixed brightness 255, enforced timeout 1s": {"displaySettings": {
        "screenBrightnessSettings": {"screenBrightnessMode": "BRIGHTNESS_FIXED",
                                     "screenBrightness": 255},
        "screenTimeoutSettings": {"screenTimeoutMode": "SCREEN_TIMEOUT_ENFORCED",
                                  "screenTimeout": "1s"}}},
    "automatic brightness with a level": {"displaySettings": {
        "screenBrightnessSettings": {"screenBrightnessMode": "BRIGHTNESS_AUTOMATIC",
                                     "screenBrightness": 1}}},
    "an SSID allowlist": {"deviceConnectivityManagement": {
        "wifiSsidPolicy": {"wifiSsidPolicyType": "WIFI_SSID_ALLOWLIST",
                           "wifiSsids": [{"wifiSsid": "Lobby"}]}}},
    "a default home and a personal-profile browser": apps(LAUNCHER, defaultApplicationSettings=[
        default_app("DEFAULT_HOME", ["SCOPE_FULLY_MANAGED"], ["com.example.launcher"]),
        default_app("DEFAULT_BROWSER", ["SCOPE_PERSONAL_PROFILE"], ["com.android.chrome"])]),
    "100 update rules at their bounds": {"unifiedUpdatePolicy": {"rules": [
        update_rule(f"{i:064d}", predicate={
            "timeOfDayLowerBound": {"hours": 0}, "timeOfDayUpperBound": {"hours": 23},
            "updateAgeLowerBound": "172800s", "updateAgeUpperBound": "0s"})
        for i in range(100)]}},
    "a 0..1439 window, a wrapping and a 90-day period 60 days apart": windowed(
        freeze((12, 1), (1, 31)), freeze((4, 2), (6, 30)), start=0, end=1439),
    "freeze periods on 29 February": windowed(freeze((2, 29), (3, 5))),
}


def policies(amapi: Any) -> Any:
    return amapi.enterprises().policies()


def refusal(amapi: Any, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(HttpError) as caught:
        policies(amapi).patch(name=POLICY, body=body, **params).execute()
    assert caught.value.status_code == 400
    error: dict[str, Any] = json.loads(caught.value.content)["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    return error


def violated_fields(error: dict[str, Any]) -> list[str]:
    return [violation["field"] for detail in error.get("details", [])
            for violation in detail.get("fieldViolations", [])]


@pytest.mark.parametrize(("body", "path"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_policy_breaking_a_rule_is_refused_and_nothing_changes(
        amapi: Any, body: dict[str, Any], path: str) -> None:
    stored = policies(amapi).patch(name=POLICY, body=BASELINE).execute()

    error = refusal(amapi, body)

    assert f"Invalid value at 'policy.{path}': " in error["message"]
    assert f"policy.{path}" in violated_fields(error)
    assert policies(amapi).get(name=POLICY).execute() == stored


@pytest.mark.parametrize("body", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_a_policy_at_the_boundary_of_a_rule_is_accepted(amapi: Any, body: dict[str, Any]) -> None:
    stored = policies(amapi).patch(name=POLICY, body=body).execute()

    assert stored["version"] == "1"
    assert {key: stored[key] for key in body} == body


def test_the_policy_a_masked_patch_leaves_is_judged(amapi: Any) -> None:
    stored = policies(amapi).patch(name=POLICY, body=apps(KIOSK)).execute()

    error = refusal(amapi, {"kioskCustomLauncherEnabled": True, "applications": []},
                    updateMask="kioskCustomLauncherEnabled")

    assert "'policy.kioskCustomLauncherEnabled'" in error["message"]
    assert policies(amapi).get(name=POLICY).execute() == stored
    moved = policies(amapi).patch(
        name=POLICY, updateMask="kioskCustomLauncherEnabled,applications",
        body=apps(BROWSER, kioskCustomLauncherEnabled=True)).execute()
    assert moved["version"] == "2"


def test_a_refused_first_patch_creates_no_policy(amapi: Any) -> None:
    refusal(amapi, apps(app("a.one", "KIOSK"), app("a.two", "KIOSK")))

    with pytest.raises(HttpError) as caught:
        policies(amapi).get(name=POLICY).execute()
    assert caught.value.status_code == 404


def test_every_broken_rule_is_reported(amapi: Any) -> None:
    body = apps(app("a.one", "FORCE_INSTALLED", "KIOSK", installPriority=20_000),
                kioskCustomLauncherEnabled=True, **windowed(start=2000))

    fields = violated_fields(refusal(amapi, body))

    assert fields == ["policy.applications[0].roles[0]", "policy.kioskCustomLauncherEnabled",
                      "policy.applications[0].installPriority", "policy.systemUpdate.startMinutes"]


def test_the_products_compiled_policies_are_accepted(amapi: Any) -> None:
    kiosk_app = AppCreateSchema().load({"packageName": "com.example.kiosk", "type": "PUBLIC",
                                        "minimumVersionCode": 7})
    helper = AppCreateSchema().load({"packageName": "com.example.helper", "type": "PUBLIC",
                                     "installOnDevice": True})
    config = CosuConfigCreateSchema().load(
        {"name": "Lobby", "priority": 1, "app": {"packageName": "com.example.kiosk"}})
    catalog = {entry["packageName"]: entry for entry in (kiosk_app, helper)}
    pinned = compile_policy(PolicyInputs(config=config, apps=[helper], catalog=catalog))
    launcher = compile_policy(PolicyInputs(config=None, apps=[helper], catalog=catalog))

    for name, body in (("pinned", pinned), ("launcher", launcher),
                       ("holding", holding_policy())):
        stored = policies(amapi).patch(name=f"{ENTERPRISE}/policies/{name}", body=body).execute()
        assert stored["version"] == "1"


def test_each_rule_has_a_name_a_summary_and_a_refused_case() -> None:
    names = [rule.name for rule in RULES]
    refused_rules = {rule.name for body, _ in REFUSED.values() for rule in RULES
                     if list(rule.check(body))}

    assert len(set(names)) == len(names)
    assert all(rule.summary for rule in RULES)
    assert refused_rules == set(names)
    assert all(policy_problems(body) == [] for body in ACCEPTED.values())
