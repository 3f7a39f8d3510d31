"""AMAPI's semantic rules for a Policy: what Google refuses beyond the discovery schema.

The discovery document types every field, but its descriptions also state rules across fields
("Multiple apps cannot hold a role with the same roleType", "At most 20 apps may specify a
minimum version code") that the real API enforces with 400 INVALID_ARGUMENT. Each rule below is
one small check, listed in RULES in the order the README lists them. Checks see a policy that
already conforms to the schema (types and enums are right), with proto3 semantics: an absent
field, a zero number, an empty list and an `*_UNSPECIFIED` enum all mean "not set".

The emulator is the product's test oracle, so nothing here is shared with the product's own
policy code (shared/policy): a rule the product gets wrong must still be refused here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ROOT = "policy"
MAX_APPLICATIONS = 3000
MAX_APPS_WITH_MINIMUM_VERSION = 20
MAX_INSTALL_CONSTRAINTS = 1
MAX_INSTALL_PRIORITY = 10_000
MAX_SCREEN_BRIGHTNESS = 255
MAX_UPDATE_RULES = 100
MAX_RULE_ID_LENGTH = 64
LAST_MINUTE_OF_DAY = 1439
SECONDS_PER_DAY = 86_400
MAX_FREEZE_DAYS = 90
MIN_FREEZE_SEPARATION_DAYS = 60
YEAR_DAYS = 365
# Freeze periods ignore leap years: 29 February counts as 28 February.
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

KIOSK_ROLE_INSTALL_TYPES = ("REQUIRED_FOR_SETUP", "CUSTOM")
# Only a KIOSK role leaves USER_CONTROL_ALLOWED possible (RoleType docs).
ROLES_FORBIDDING_USER_CONTROL = ("COMPANION_APP",
                                 "MOBILE_THREAT_DEFENSE_ENDPOINT_DETECTION_RESPONSE",
                                 "SYSTEM_HEALTH_MONITORING")
PLAY_ONLY_FIELDS = ("minimumVersionCode", "accessibleTrackIds", "autoUpdateMode",
                    "installConstraint", "installPriority")
MANAGED_SCOPES = ("SCOPE_FULLY_MANAGED", "SCOPE_WORK_PROFILE")
ALL_SCOPES = ("SCOPE_FULLY_MANAGED", "SCOPE_WORK_PROFILE", "SCOPE_PERSONAL_PROFILE")
# DefaultApplicationType -> the scopes its enum description allows.
SCOPES_BY_DEFAULT_TYPE = {
    "DEFAULT_ASSISTANT": ("SCOPE_FULLY_MANAGED",),
    "DEFAULT_HOME": ("SCOPE_FULLY_MANAGED",),
    "DEFAULT_BROWSER": ALL_SCOPES,
    "DEFAULT_CALL_REDIRECTION": ("SCOPE_FULLY_MANAGED", "SCOPE_WORK_PROFILE"),
    "DEFAULT_CALL_SCREENING": ("SCOPE_FULLY_MANAGED", "SCOPE_WORK_PROFILE"),
    "DEFAULT_DIALER": ALL_SCOPES,
    "DEFAULT_SMS": ("SCOPE_FULLY_MANAGED", "SCOPE_PERSONAL_PROFILE"),
    "DEFAULT_WALLET": ALL_SCOPES,
}

Policy = Mapping[str, Any]
Check = Callable[[Policy], Iterator[str]]


@dataclass(frozen=True)
class PolicyRule:
    """One documented refusal: a short name, the rule in words, and its check."""

    name: str
    summary: str
    check: Check


def problem(path: str, text: str) -> str:
    """A refusal worded like the discovery validation: `Invalid value at 'policy.<path>': ...`."""
    return f"Invalid value at '{ROOT}.{path}': {text}."


def _set(value: Any) -> bool:
    # proto3: zero, empty and *_UNSPECIFIED are indistinguishable from absent.
    if isinstance(value, str) and value.endswith("_UNSPECIFIED"):
        return False
    return value not in (None, 0, "", [], {})


def _apps(policy: Policy) -> list[tuple[int, Mapping[str, Any]]]:
    return [(index, app) for index, app in enumerate(policy.get("applications") or [])
            if isinstance(app, Mapping)]


def _roles(app: Mapping[str, Any]) -> list[tuple[int, str]]:
    return [(index, role.get("roleType") or "ROLE_TYPE_UNSPECIFIED")
            for index, role in enumerate(app.get("roles") or []) if isinstance(role, Mapping)]


def _role_types(policy: Policy) -> set[str]:
    return {role for _, app in _apps(policy) for _, role in _roles(app)}


def _kiosk_app_indexes(policy: Policy) -> list[int]:
    return [index for index, app in _apps(policy)
            if app.get("installType") == "KIOSK"
            or any(role == "KIOSK" for _, role in _roles(app))]


def _seconds(duration: Any) -> Decimal | None:
    if not isinstance(duration, str):
        return None
    try:
        return Decimal(duration.removesuffix("s"))
    except InvalidOperation:
        return None


def _duplicates(values: Sequence[Any]) -> Iterator[tuple[int, int]]:
    """(index, index of its first occurrence) for every repeated value."""
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        key = json.dumps(value, sort_keys=True)
        if key in first:
            yield index, first[key]
        else:
            first[key] = index


# Applications.

def _applications_limit(policy: Policy) -> Iterator[str]:
    count = len(policy.get("applications") or [])
    if count > MAX_APPLICATIONS:
        yield problem("applications", f"at most {MAX_APPLICATIONS} applications are allowed, "
                                      f"got {count}")


def _unique_package_names(policy: Policy) -> Iterator[str]:
    names = [app.get("packageName") for _, app in _apps(policy)]
    for index, first in _duplicates(names):
        if names[index]:
            yield problem(f"applications[{index}].packageName",
                          f"{names[index]} is already listed at applications[{first}]")


def _one_kiosk_install_type(policy: Policy) -> Iterator[str]:
    kiosk = [index for index, app in _apps(policy) if app.get("installType") == "KIOSK"]
    for index in kiosk[1:]:
        yield problem(f"applications[{index}].installType",
                      f"installType KIOSK can be set for only one app per policy; "
                      f"applications[{kiosk[0]}] already has it")


def _no_kiosk_install_type_with_kiosk_role(policy: Policy) -> Iterator[str]:
    if "KIOSK" not in _role_types(policy):
        return
    for index, app in _apps(policy):
        if app.get("installType") == "KIOSK":
            yield problem(f"applications[{index}].installType",
                          "installType KIOSK cannot be set when an app has a KIOSK role")


def _roles_have_a_type(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        for role_index, role in _roles(app):
            if role == "ROLE_TYPE_UNSPECIFIED":
                yield problem(f"applications[{index}].roles[{role_index}].roleType",
                              "a role with type ROLE_TYPE_UNSPECIFIED is not allowed")


def _roles_unique_in_app(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        roles = [role for _, role in _roles(app)]
        for role_index, first in _duplicates(roles):
            yield problem(f"applications[{index}].roles[{role_index}]",
                          f"duplicate role with roleType {roles[role_index]} "
                          f"(already at roles[{first}])")


def _roles_unique_across_apps(policy: Policy) -> Iterator[str]:
    holder: dict[str, int] = {}
    for index, app in _apps(policy):
        for role_index, role in _roles(app):
            if role == "ROLE_TYPE_UNSPECIFIED" or holder.get(role) == index:
                continue  # a repeat within one app is roles-unique-in-app's to report
            first = holder.setdefault(role, index)
            if first != index:
                yield problem(f"applications[{index}].roles[{role_index}]",
                              f"multiple apps cannot hold a role with the same roleType "
                              f"({role}); applications[{first}] already holds it")


def _kiosk_role_install_type(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        for role_index, role in _roles(app):
            install_type = app.get("installType") or "INSTALL_TYPE_UNSPECIFIED"
            if role == "KIOSK" and install_type not in KIOSK_ROLE_INSTALL_TYPES:
                yield problem(f"applications[{index}].roles[{role_index}]",
                              f"an app can have the KIOSK role only with installType "
                              f"REQUIRED_FOR_SETUP or CUSTOM, not {install_type}")


def _custom_launcher_without_kiosk_app(policy: Policy) -> Iterator[str]:
    kiosk = _kiosk_app_indexes(policy)
    if policy.get("kioskCustomLauncherEnabled") is True and kiosk:
        yield problem("kioskCustomLauncherEnabled",
                      f"the kiosk custom launcher cannot be enabled together with a kiosk app "
                      f"(installType KIOSK or a KIOSK role, applications[{kiosk[0]}])")


def _minimum_version_codes_limit(policy: Policy) -> Iterator[str]:
    with_minimum = [index for index, app in _apps(policy)
                    if _set(app.get("minimumVersionCode"))]
    if len(with_minimum) > MAX_APPS_WITH_MINIMUM_VERSION:
        yield problem(f"applications[{with_minimum[MAX_APPS_WITH_MINIMUM_VERSION]}]"
                      ".minimumVersionCode",
                      f"at most {MAX_APPS_WITH_MINIMUM_VERSION} apps may specify a minimum "
                      f"version code per policy, got {len(with_minimum)}")


def _install_constraints(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        constraints = app.get("installConstraint") or []
        if len(constraints) > MAX_INSTALL_CONSTRAINTS:
            yield problem(f"applications[{index}].installConstraint",
                          f"at most {MAX_INSTALL_CONSTRAINTS} InstallConstraint may be "
                          f"specified, got {len(constraints)}")
        for position, constraint in enumerate(constraints):
            if not any(_set(value) for value in (constraint or {}).values()):
                yield problem(f"applications[{index}].installConstraint[{position}]",
                              "at least one of the fields must be set")


def _install_priority_range(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        priority = app.get("installPriority")
        if priority is not None and not 0 <= priority <= MAX_INSTALL_PRIORITY:
            yield problem(f"applications[{index}].installPriority",
                          f"must be between 0 and {MAX_INSTALL_PRIORITY}, got {priority}")


def _custom_apps(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        if app.get("installType") != "CUSTOM":
            if _set(app.get("customAppConfig")):
                yield problem(f"applications[{index}].customAppConfig",
                              "can be set only for an app with installType CUSTOM")
            continue
        if not _set(app.get("signingKeyCerts")):
            yield problem(f"applications[{index}].signingKeyCerts",
                          "is required for an app with installType CUSTOM")
        for field in PLAY_ONLY_FIELDS:
            if _set(app.get(field)):
                yield problem(f"applications[{index}].{field}",
                              "cannot be set for an app with installType CUSTOM")


def _user_control_with_roles(policy: Policy) -> Iterator[str]:
    for index, app in _apps(policy):
        if app.get("userControlSettings") != "USER_CONTROL_ALLOWED":
            continue
        forbidding = [role for _, role in _roles(app) if role in ROLES_FORBIDDING_USER_CONTROL]
        if forbidding:
            yield problem(f"applications[{index}].userControlSettings",
                          f"USER_CONTROL_ALLOWED cannot be set for an app with the "
                          f"{forbidding[0]} role")


def _extension_config(policy: Policy) -> Iterator[str]:
    extensions = [index for index, app in _apps(policy) if _set(app.get("extensionConfig"))]
    for index in extensions[1:]:
        yield problem(f"applications[{index}].extensionConfig",
                      f"can be set for at most one app; applications[{extensions[0]}] "
                      "already has it")
    if extensions and "COMPANION_APP" in _role_types(policy):
        yield problem(f"applications[{extensions[0]}].extensionConfig",
                      "cannot be set when an app has the COMPANION_APP role")


# Device settings.

def _private_dns(policy: Policy) -> Iterator[str]:
    settings = (policy.get("deviceConnectivityManagement") or {}).get("privateDnsSettings")
    if not settings:
        return
    path = "deviceConnectivityManagement.privateDnsSettings.privateDnsHost"
    specified = settings.get("privateDnsMode") == "PRIVATE_DNS_SPECIFIED_HOST"
    if specified and not settings.get("privateDnsHost"):
        yield problem(path, "must be set when privateDnsMode is PRIVATE_DNS_SPECIFIED_HOST")
    if not specified and settings.get("privateDnsHost"):
        yield problem(path, "must be set only when privateDnsMode is "
                            "PRIVATE_DNS_SPECIFIED_HOST")


def _screen_brightness(policy: Policy) -> Iterator[str]:
    settings = (policy.get("displaySettings") or {}).get("screenBrightnessSettings")
    if not settings:
        return
    path = "displaySettings.screenBrightnessSettings.screenBrightness"
    brightness = settings.get("screenBrightness") or 0
    mode = settings.get("screenBrightnessMode") or "SCREEN_BRIGHTNESS_MODE_UNSPECIFIED"
    if not 0 <= brightness <= MAX_SCREEN_BRIGHTNESS:
        yield problem(path, f"must be between 1 and {MAX_SCREEN_BRIGHTNESS} (0 means not set), "
                            f"got {brightness}")
    elif mode == "BRIGHTNESS_FIXED" and brightness == 0:
        yield problem(path, "must be set when screenBrightnessMode is BRIGHTNESS_FIXED")
    elif mode not in ("BRIGHTNESS_FIXED", "BRIGHTNESS_AUTOMATIC") and brightness != 0:
        yield problem(path, f"cannot be set when screenBrightnessMode is {mode}; it must be "
                            "BRIGHTNESS_AUTOMATIC or BRIGHTNESS_FIXED")


def _screen_timeout(policy: Policy) -> Iterator[str]:
    settings = (policy.get("displaySettings") or {}).get("screenTimeoutSettings")
    if not settings:
        return
    path = "displaySettings.screenTimeoutSettings.screenTimeout"
    timeout = settings.get("screenTimeout")
    enforced = settings.get("screenTimeoutMode") == "SCREEN_TIMEOUT_ENFORCED"
    seconds = _seconds(timeout)
    if timeout is not None and (seconds is None or seconds <= 0):
        yield problem(path, f"must be greater than 0, got {json.dumps(timeout)}")
    elif enforced and timeout is None:
        yield problem(path, "must be set when screenTimeoutMode is SCREEN_TIMEOUT_ENFORCED")
    elif not enforced and timeout is not None:
        yield problem(path, "can be set only when screenTimeoutMode is SCREEN_TIMEOUT_ENFORCED")


def _wifi_ssid_policy(policy: Policy) -> Iterator[str]:
    ssid_policy = (policy.get("deviceConnectivityManagement") or {}).get("wifiSsidPolicy")
    if not ssid_policy:
        return
    path = "deviceConnectivityManagement.wifiSsidPolicy.wifiSsids"
    kind = ssid_policy.get("wifiSsidPolicyType") or "WIFI_SSID_POLICY_TYPE_UNSPECIFIED"
    ssids = ssid_policy.get("wifiSsids") or []
    if kind == "WIFI_SSID_ALLOWLIST" and not ssids:
        yield problem(path, "must not be empty when wifiSsidPolicyType is WIFI_SSID_ALLOWLIST")
    if kind == "WIFI_SSID_POLICY_TYPE_UNSPECIFIED" and ssids:
        yield problem(path, "must not be set when wifiSsidPolicyType is unspecified")


# Default applications.

def _default_application_types(policy: Policy) -> Iterator[str]:
    seen: dict[str, int] = {}
    for index, setting in enumerate(policy.get("defaultApplicationSettings") or []):
        path = f"defaultApplicationSettings[{index}].defaultApplicationType"
        kind = setting.get("defaultApplicationType") or "DEFAULT_APPLICATION_TYPE_UNSPECIFIED"
        if kind == "DEFAULT_APPLICATION_TYPE_UNSPECIFIED":
            yield problem(path, "is required and cannot be DEFAULT_APPLICATION_TYPE_UNSPECIFIED")
            continue
        first = seen.setdefault(kind, index)
        if first != index:
            yield problem(path, f"only one setting is allowed for each defaultApplicationType; "
                                f"{kind} is already set at defaultApplicationSettings[{first}]")


def _default_application_scopes(policy: Policy) -> Iterator[str]:
    for index, setting in enumerate(policy.get("defaultApplicationSettings") or []):
        path = f"defaultApplicationSettings[{index}].defaultApplicationScopes"
        scopes = list(setting.get("defaultApplicationScopes") or [])
        kind = setting.get("defaultApplicationType")
        if not scopes:
            yield problem(path, "must not be empty")
            continue
        for position, _ in _duplicates(scopes):
            yield problem(f"{path}[{position}]", f"duplicate scope {scopes[position]}")
        for position, scope in enumerate(scopes):
            if scope == "DEFAULT_APPLICATION_SCOPE_UNSPECIFIED":
                yield problem(f"{path}[{position}]",
                              "DEFAULT_APPLICATION_SCOPE_UNSPECIFIED must not be used")
            elif kind in SCOPES_BY_DEFAULT_TYPE and scope not in SCOPES_BY_DEFAULT_TYPE[kind]:
                yield problem(f"{path}[{position}]", f"{kind} cannot be set for {scope}")
        if kind == "DEFAULT_WALLET" and {"SCOPE_WORK_PROFILE",
                                         "SCOPE_PERSONAL_PROFILE"} <= set(scopes):
            yield problem(path, "DEFAULT_WALLET cannot have both SCOPE_WORK_PROFILE and "
                                "SCOPE_PERSONAL_PROFILE")


def _default_applications(policy: Policy) -> Iterator[str]:
    installable = {app.get("packageName") for _, app in _apps(policy)
                   if app.get("installType") != "BLOCKED"}
    for index, setting in enumerate(policy.get("defaultApplicationSettings") or []):
        path = f"defaultApplicationSettings[{index}].defaultApplications"
        apps = [app.get("packageName") or "" for app in setting.get("defaultApplications") or []]
        managed = set(MANAGED_SCOPES) & set(setting.get("defaultApplicationScopes") or [])
        if not apps:
            yield problem(path, "must not be empty")
        for position, _ in _duplicates(apps):
            yield problem(f"{path}[{position}].packageName",
                          f"duplicate default application {apps[position]}")
        for position, package in enumerate(apps):
            if not package:
                yield problem(f"{path}[{position}].packageName", "is required")
            elif managed and package not in installable:
                yield problem(f"{path}[{position}].packageName",
                              f"{package} must have an entry in applications with an "
                              f"installType other than BLOCKED for {sorted(managed)[0]}")


# Updates.

def _unified_update_rules(policy: Policy) -> Iterator[str]:
    rules = (policy.get("unifiedUpdatePolicy") or {}).get("rules") or []
    if len(rules) > MAX_UPDATE_RULES:
        yield problem("unifiedUpdatePolicy.rules",
                      f"at most {MAX_UPDATE_RULES} rules are allowed, got {len(rules)}")
    ids: dict[str, int] = {}
    for index, rule in enumerate(rules):
        path = f"unifiedUpdatePolicy.rules[{index}]"
        rule_id = rule.get("id") or ""
        if not rule_id:
            yield problem(f"{path}.id", "is required and must not be empty")
        elif len(rule_id) > MAX_RULE_ID_LENGTH:
            yield problem(f"{path}.id", f"must be at most {MAX_RULE_ID_LENGTH} characters, "
                                        f"got {len(rule_id)}")
        elif ids.setdefault(rule_id, index) != index:
            yield problem(f"{path}.id", f"{rule_id} is already the id of "
                                        f"unifiedUpdatePolicy.rules[{ids[rule_id]}]")
        yield from _update_rule_targets(rule, path)
        yield from _update_rule_predicate(rule.get("predicate") or {}, f"{path}.predicate")


def _update_rule_targets(rule: Mapping[str, Any], path: str) -> Iterator[str]:
    targets = rule.get("targets") or []
    if not targets:
        yield problem(f"{path}.targets", "must not be empty")
    for position, first in _duplicates(targets):
        yield problem(f"{path}.targets[{position}]", f"duplicates targets[{first}]")
    for position, target in enumerate(targets):
        kind = target.get("targetType") or "TARGET_TYPE_UNSPECIFIED"
        if kind == "TARGET_TYPE_UNSPECIFIED":
            yield problem(f"{path}.targets[{position}].targetType",
                          "is required and cannot be TARGET_TYPE_UNSPECIFIED")
        elif kind == "SINGLE_APP" and not (target.get("singleApp") or {}).get("packageName"):
            yield problem(f"{path}.targets[{position}].singleApp",
                          "must be set with a packageName when targetType is SINGLE_APP")
    for position, stage in enumerate(rule.get("stages") or []):
        if stage == "STAGE_UNSPECIFIED":
            yield problem(f"{path}.stages[{position}]", "STAGE_UNSPECIFIED must not be used")


def _update_rule_predicate(predicate: Mapping[str, Any], path: str) -> Iterator[str]:
    for bound in ("timeOfDayLowerBound", "timeOfDayUpperBound"):
        time_of_day = predicate.get(bound)
        if time_of_day is None:
            continue
        if any(_set(time_of_day.get(part)) for part in ("minutes", "seconds", "nanos")):
            yield problem(f"{path}.{bound}",
                          "must specify only the hour; minutes, seconds and nanos are rejected")
        elif not 0 <= (time_of_day.get("hours") or 0) <= 23:
            yield problem(f"{path}.{bound}.hours",
                          f"must be between 0 and 23, got {time_of_day.get('hours')}")
    for bound in ("updateAgeLowerBound", "updateAgeUpperBound"):
        age = predicate.get(bound)
        seconds = _seconds(age)
        if age is not None and (seconds is None or seconds % SECONDS_PER_DAY != 0):
            yield problem(f"{path}.{bound}",
                          f"must be a multiple of 24 hours, got {json.dumps(age)}")


def _maintenance_window(policy: Policy) -> Iterator[str]:
    system_update = policy.get("systemUpdate") or {}
    if system_update.get("type") != "WINDOWED":
        return
    for field in ("startMinutes", "endMinutes"):
        minutes = system_update.get(field) or 0
        if not 0 <= minutes <= LAST_MINUTE_OF_DAY:
            yield problem(f"systemUpdate.{field}",
                          f"must be between 0 and {LAST_MINUTE_OF_DAY}, got {minutes}")


def _day_of_year(date: Mapping[str, Any]) -> int:
    # 1..365 of a 365-day year: 29 February is the same day as 28 February.
    month, day = date["month"], date["day"]
    if month == 2:
        day = min(day, 28)
    return sum(DAYS_IN_MONTH[:month - 1]) - (1 if month > 2 else 0) + day


def _freeze_date_problem(date: Any) -> str | None:
    if not isinstance(date, Mapping):
        return "is required"
    if _set(date.get("year")):
        return "year must not be set: a freeze period repeats every year"
    month, day = date.get("month") or 0, date.get("day") or 0
    if not 1 <= month <= 12:
        return f"month must be between 1 and 12, got {month}"
    if not 1 <= day <= DAYS_IN_MONTH[month - 1]:
        return (f"day must be between 1 and {DAYS_IN_MONTH[month - 1]} for month {month}, "
                f"got {day}")
    return None


def _freeze_periods(policy: Policy) -> Iterator[str]:
    periods = (policy.get("systemUpdate") or {}).get("freezePeriods") or []
    spans: list[tuple[int, int, int]] = []  # (first day, length in days, index)
    for index, period in enumerate(periods):
        path = f"systemUpdate.freezePeriods[{index}]"
        dates_ok = True
        for field in ("startDate", "endDate"):
            date_problem = _freeze_date_problem(period.get(field))
            if date_problem:
                dates_ok = False
                yield problem(f"{path}.{field}", date_problem)
        if not dates_ok:
            continue
        start, end = _day_of_year(period["startDate"]), _day_of_year(period["endDate"])
        length = (end - start) % YEAR_DAYS + 1
        if length > MAX_FREEZE_DAYS:
            yield problem(f"{path}.endDate", f"must be no later than {MAX_FREEZE_DAYS} days "
                                             f"from the start date; the period lasts {length}")
            continue
        spans.append((start, length, index))
    yield from _freeze_separation(sorted(spans))


def _freeze_separation(spans: Sequence[tuple[int, int, int]]) -> Iterator[str]:
    if len(spans) < 2:
        return
    # In calendar order, each period against the one before it (the first against the last).
    for position, (start, _, index) in enumerate(spans):
        previous_start, previous_length, previous = spans[position - 1]
        gap = (start - previous_start) % YEAR_DAYS - previous_length
        if gap < MIN_FREEZE_SEPARATION_DAYS:
            overlap = "overlaps" if gap < 0 else f"starts {gap} days after"
            yield problem(f"systemUpdate.freezePeriods[{index}]",
                          f"{overlap} freeze period {previous}; freeze periods must be "
                          f"separated by at least {MIN_FREEZE_SEPARATION_DAYS} days")


RULES: tuple[PolicyRule, ...] = (
    PolicyRule("applications-limit", "applications has at most 3,000 entries",
               _applications_limit),
    PolicyRule("unique-package-names", "no two applications entries share a packageName",
               _unique_package_names),
    PolicyRule("one-kiosk-install-type", "at most one app has installType KIOSK",
               _one_kiosk_install_type),
    PolicyRule("kiosk-install-type-or-role",
               "installType KIOSK cannot be set when any app has a KIOSK role",
               _no_kiosk_install_type_with_kiosk_role),
    PolicyRule("role-type-required", "no role with roleType ROLE_TYPE_UNSPECIFIED",
               _roles_have_a_type),
    PolicyRule("roles-unique-in-app", "no duplicate roleType within an app's roles",
               _roles_unique_in_app),
    PolicyRule("roles-unique-across-apps", "no two apps hold a role of the same roleType",
               _roles_unique_across_apps),
    PolicyRule("kiosk-role-install-type",
               "a KIOSK role only on an app with installType REQUIRED_FOR_SETUP or CUSTOM",
               _kiosk_role_install_type),
    PolicyRule("custom-launcher-or-kiosk-app",
               "kioskCustomLauncherEnabled is not combined with a kiosk app (installType KIOSK "
               "or a KIOSK role)", _custom_launcher_without_kiosk_app),
    PolicyRule("minimum-version-codes-limit", "at most 20 apps set minimumVersionCode",
               _minimum_version_codes_limit),
    PolicyRule("install-constraint", "installConstraint has at most one element, and each "
               "sets at least one constraint", _install_constraints),
    PolicyRule("install-priority-range", "installPriority is within 0..10,000",
               _install_priority_range),
    PolicyRule("custom-apps", "installType CUSTOM requires signingKeyCerts and forbids "
               "minimumVersionCode, accessibleTrackIds, autoUpdateMode, installConstraint and "
               "installPriority; customAppConfig only with CUSTOM", _custom_apps),
    PolicyRule("user-control-with-roles", "userControlSettings USER_CONTROL_ALLOWED not on an "
               "app with a COMPANION_APP, MTD/EDR or SYSTEM_HEALTH_MONITORING role",
               _user_control_with_roles),
    PolicyRule("extension-config", "extensionConfig on at most one app, and on none when an "
               "app has the COMPANION_APP role", _extension_config),
    PolicyRule("private-dns-host", "privateDnsHost is set if and only if privateDnsMode is "
               "PRIVATE_DNS_SPECIFIED_HOST", _private_dns),
    PolicyRule("screen-brightness", "screenBrightness within 0..255 (0 = not set); required by "
               "BRIGHTNESS_FIXED; only with BRIGHTNESS_FIXED or BRIGHTNESS_AUTOMATIC",
               _screen_brightness),
    PolicyRule("screen-timeout", "screenTimeout is greater than 0, and set if and only if "
               "screenTimeoutMode is SCREEN_TIMEOUT_ENFORCED", _screen_timeout),
    PolicyRule("wifi-ssid-policy", "wifiSsids is non-empty for WIFI_SSID_ALLOWLIST and unset "
               "for an unspecified type", _wifi_ssid_policy),
    PolicyRule("default-application-types", "one defaultApplicationSettings entry per "
               "defaultApplicationType, never DEFAULT_APPLICATION_TYPE_UNSPECIFIED",
               _default_application_types),
    PolicyRule("default-application-scopes", "defaultApplicationScopes non-empty, no "
               "duplicates or unspecified scope, each allowed for the type (DEFAULT_HOME and "
               "DEFAULT_ASSISTANT: SCOPE_FULLY_MANAGED only)", _default_application_scopes),
    PolicyRule("default-applications", "defaultApplications non-empty without duplicates; for "
               "SCOPE_FULLY_MANAGED or SCOPE_WORK_PROFILE each app has a non-BLOCKED "
               "applications entry", _default_applications),
    PolicyRule("unified-update-rules", "at most 100 rules; ids non-empty, at most 64 "
               "characters, unique; targets non-empty, typed, without duplicates; time-of-day "
               "bounds whole hours 0-23; update-age bounds multiples of 24 h",
               _unified_update_rules),
    PolicyRule("maintenance-window", "WINDOWED startMinutes and endMinutes within 0..1439",
               _maintenance_window),
    PolicyRule("freeze-periods", "freeze period dates are month and day without a year, a "
               "period lasts at most 90 days, periods are at least 60 days apart",
               _freeze_periods),
)


def policy_problems(policy: Policy, rules: Iterable[PolicyRule] = RULES) -> list[str]:
    """Every way `policy` breaks AMAPI's documented semantic rules; empty when it is accepted."""
    return [message for rule in rules for message in rule.check(policy)]
