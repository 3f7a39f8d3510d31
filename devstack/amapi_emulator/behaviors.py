"""Simulated devices that misbehave on a policy, for exercising a staged rollout's health gates.

A behaviour names a policy, the devices it concerns (a list, or a stable share of whatever
devices are on the policy) and one effect: the device reports itself non-compliant, one of its
apps reports an ERROR keyed app state, or it never reports the new version applied. Behaviours
are consulted when a device applies a policy (after a policy change or a move), never when it is
set, and only while the device is on the behaviour's policy (`"*"`: any policy it applies next,
such as one a rollout creates): the next report on another policy removes what a behaviour
added.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from devstack.amapi_emulator import errors
from devstack.amapi_emulator.validation import validate

EFFECTS = ("nonCompliance", "appError", "neverApply")
FIELDS = frozenset({"devices", "percent", "policy", *EFFECTS})
APP_ERROR_FIELDS = frozenset({"packageName", "key", "message"})
# A behaviour on every policy the device applies: a change's policy, whatever its name.
ANY_POLICY = "*"
# Hash buckets per device: fine enough for shares like 2.5 %.
BUCKETS = 10_000


@dataclass(frozen=True)
class Behavior:
    """Which devices misbehave on which policy, and how."""

    policy: str
    devices: frozenset[str] | None
    percent: float | None
    non_compliance: tuple[dict[str, Any], ...] = ()
    app_error: dict[str, str] | None = None
    never_apply: bool = False

    def as_json(self) -> dict[str, Any]:
        """The behaviour as the control API shows it."""
        body: dict[str, Any] = {"policy": self.policy}
        if self.devices is not None:
            body["devices"] = sorted(self.devices)
        else:
            body["percent"] = self.percent
        if self.non_compliance:
            body["nonCompliance"] = copy.deepcopy(list(self.non_compliance))
        if self.app_error is not None:
            body["appError"] = dict(self.app_error)
        if self.never_apply:
            body["neverApply"] = True
        return body

    def matches(self, device_name: str, policy_name: str) -> bool:
        """Whether the device, now on `policy_name`, is one this behaviour concerns."""
        on_policy = self.policy == ANY_POLICY or policy_name == self.policy or (
            "/" not in self.policy and policy_name.rsplit("/", 1)[-1] == self.policy)
        if not on_policy:
            return False
        if self.devices is not None:
            return device_name in self.devices
        return self.percent is not None and percent_bucket(device_name) < self.percent


def percent_bucket(device_name: str) -> float:
    """Where a device falls in [0, 100): a `percent` behaviour picks the devices below it."""
    # A cryptographic digest, not hash(): the pick must not change with the process's seed, so
    # a larger share always includes a smaller one and a test can predict the pick.
    digest = hashlib.sha256(device_name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS * 100 / BUCKETS


def parse_behavior(body: Any, devices: Mapping[str, Any]) -> Behavior:
    """A Behavior from a control API body (device ids resolved among `devices`), or a 400."""
    if not isinstance(body, dict):
        raise errors.bad_request(
            'Expected a JSON object {"devices": [...] | "percent": n, "policy": "...", and one '
            'of "nonCompliance", "appError", "neverApply"}.')
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise errors.bad_request(
            f"Unknown field(s): {', '.join(unknown)} (expected {', '.join(sorted(FIELDS))}).")
    policy = _policy(body.get("policy"))
    if ("devices" in body) == ("percent" in body):
        raise errors.bad_request('Give exactly one of "devices" (a list) or "percent" (0-100).')
    names = _device_names(body["devices"], devices) if "devices" in body else None
    percent = _percent(body["percent"]) if "percent" in body else None
    effects = [name for name in EFFECTS if name in body]
    if len(effects) != 1:
        raise errors.bad_request(
            'Give exactly one effect: "nonCompliance", "appError" or "neverApply"'
            + (f" (got {', '.join(effects)})." if effects else "."))
    if "nonCompliance" in body:
        return Behavior(policy, names, percent,
                        non_compliance=_non_compliance(body["nonCompliance"]))
    if "appError" in body:
        return Behavior(policy, names, percent, app_error=_app_error(body["appError"]))
    if body["neverApply"] is not True:
        raise errors.bad_request('"neverApply" must be true.')
    return Behavior(policy, names, percent, never_apply=True)


def _policy(value: Any) -> str:
    if value is None:
        raise errors.bad_request(
            '"policy" is required: enterprises/E/policies/P or the policy id P.')
    if not isinstance(value, str) or not value:
        raise errors.bad_request('"policy" must be a policy name or id.')
    parts = value.split("/")
    if value == ANY_POLICY or len(parts) == 1 or (len(parts) == 4 and parts[0] == "enterprises"
                           and parts[2] == "policies" and all(parts)):
        return value
    raise errors.bad_request(
        f'"policy" must be enterprises/E/policies/P, the policy id P or "*", got {value!r}.')


def _device_names(value: Any, devices: Mapping[str, Any]) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and item for item in value):
        raise errors.bad_request('"devices" must be a non-empty list of device names or ids.')
    # A name contains slashes and an id none, so one map serves both.
    by_key: dict[str, list[str]] = {}
    for name in devices:
        by_key.setdefault(name, []).append(name)
        by_key.setdefault(name.rsplit("/", 1)[-1], []).append(name)
    names: set[str] = set()
    unknown: list[str] = []
    for item in value:
        found = by_key.get(item, [])
        if not found:
            unknown.append(item)
        names.update(found)
    if unknown:
        raise errors.bad_request(f"Unknown device(s): {', '.join(unknown)}.")
    return frozenset(names)


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise errors.bad_request('"percent" must be a number from 0 to 100.')
    return float(value)


def _non_compliance(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not value:
        raise errors.bad_request(
            '"nonCompliance" must be a non-empty list of {settingName, nonComplianceReason}.')
    problems: list[str] = []
    for index, entry in enumerate(value):
        root = f"nonCompliance[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"Invalid value at '{root}': expected a NonComplianceDetail object.")
            continue
        problems += [f"Missing field at '{root}.{key}'."
                     for key in ("settingName", "nonComplianceReason") if key not in entry]
        problems += validate("NonComplianceDetail", entry, root=root)
    if problems:
        raise errors.invalid_argument(problems)
    return tuple(copy.deepcopy(value))


def _app_error(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise errors.bad_request('"appError" must be an object {packageName, key, message?}.')
    unknown = sorted(set(value) - APP_ERROR_FIELDS)
    if unknown:
        raise errors.bad_request(f"Unknown field(s) in appError: {', '.join(unknown)}.")
    for key in ("packageName", "key"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise errors.bad_request(f"appError.{key} is required (a non-empty string).")
    if not isinstance(value.get("message", ""), str):
        raise errors.bad_request("appError.message must be a string.")
    return dict(value)


@dataclass
class Injected:
    """What behaviours added to a device, so that a later report removes exactly that."""

    non_compliance: bool = False
    # (packageName, key) -> createTime, kept while the same state is reported again.
    app_states: dict[tuple[str, str], str] = field(default_factory=dict)
    created_reports: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.non_compliance or bool(self.app_states)


@dataclass(frozen=True)
class Effects:
    """The combined effect of every behaviour matching one device on one policy."""

    never_apply: bool = False
    non_compliance: tuple[dict[str, Any], ...] = ()
    app_errors: tuple[dict[str, str], ...] = ()


def effects_for(behaviors: Iterable[Behavior], device_name: str, policy_name: str) -> Effects:
    """What the device on `policy_name` does differently when it applies that policy."""
    matching = [b for b in behaviors if b.matches(device_name, policy_name)]
    return Effects(
        never_apply=any(b.never_apply for b in matching),
        non_compliance=tuple(entry for b in matching for entry in b.non_compliance),
        app_errors=tuple(b.app_error for b in matching if b.app_error is not None))


def apply_effects(device: dict[str, Any], effects: Effects, injected: Injected | None,
                  now: str) -> Injected | None:
    """Report `effects` on `device` in place, replacing what `injected` added before; returns
    what is injected now (None when nothing is, so a well-behaved device costs nothing)."""
    if injected is None and not effects.non_compliance and not effects.app_errors:
        return None
    previous = injected or Injected()
    current = Injected()
    if effects.non_compliance:
        device["policyCompliant"] = False
        device["nonComplianceDetails"] = copy.deepcopy(list(effects.non_compliance))
        current.non_compliance = True
    elif previous.non_compliance:
        # A device that applied its policy with nothing failing is compliant again.
        device["policyCompliant"] = True
        device.pop("nonComplianceDetails", None)
    _remove_app_states(device, previous)
    for app_error in effects.app_errors:
        _add_app_state(device, app_error, previous, current, now)
    return current if current else None


def _remove_app_states(device: dict[str, Any], previous: Injected) -> None:
    reports = device.get("applicationReports")
    if not previous.app_states or not isinstance(reports, list):
        return
    kept = []
    for report in reports:
        package = report.get("packageName")
        states = [s for s in report.get("keyedAppStates", [])
                  if (package, s.get("key")) not in previous.app_states]
        if states:
            report["keyedAppStates"] = states
        else:
            report.pop("keyedAppStates", None)
            # Only the entry as this module made it goes: one the device has since reported
            # more about (e.g. its version) is the app's own.
            if package in previous.created_reports and set(report) <= {"packageName", "state"}:
                continue
        kept.append(report)
    if kept:
        device["applicationReports"] = kept
    else:
        device.pop("applicationReports", None)


def _add_app_state(device: dict[str, Any], app_error: dict[str, str], previous: Injected,
                   current: Injected, now: str) -> None:
    package, key = app_error["packageName"], app_error["key"]
    reports = device.setdefault("applicationReports", [])
    report = next((r for r in reports if r.get("packageName") == package), None)
    if report is None:
        report = {"packageName": package, "state": "INSTALLED"}
        reports.append(report)
        current.created_reports.add(package)
    elif package in previous.created_reports:
        current.created_reports.add(package)
    created = previous.app_states.get((package, key)) or current.app_states.get(
        (package, key)) or now
    state: dict[str, Any] = {"key": key, "severity": "ERROR", "createTime": created,
                             "lastUpdateTime": now}
    if app_error.get("message"):
        state["message"] = app_error["message"]
    # An app reports one state per key: this one replaces any other with the same key.
    report["keyedAppStates"] = [s for s in report.get("keyedAppStates", [])
                                if s.get("key") != key] + [state]
    current.app_states[(package, key)] = created
