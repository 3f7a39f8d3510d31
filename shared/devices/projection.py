"""An AMAPI Device as the inventory keeps it: a small, bounded projection of what matters."""

from __future__ import annotations

import json
from typing import Any

from shared.clock import parse_rfc3339

MAX_APPS = 300
MAX_NON_COMPLIANCE = 50


def report_time(device: dict[str, Any]) -> str:
    """When the payload describes the device (RFC 3339 text, comparable after parsing)."""
    return str(device.get("lastStatusReportTime") or device.get("enrollmentTime") or "")


def is_newer(candidate: str, stored: str | None) -> bool:
    """True when a payload of time `candidate` should replace one of time `stored`."""
    if not stored:
        return True
    if not candidate:
        return False
    return parse_rfc3339(candidate) > parse_rfc3339(stored)


def token_data(device: dict[str, Any]) -> dict[str, Any]:
    """What the enrollment profile put in the token (`additionalData`), or {}."""
    raw = device.get("enrollmentTokenData")
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def is_deleted(device: dict[str, Any]) -> bool:
    """AMAPI's final report after a deletion (state or appliedState DELETED)."""
    return "DELETED" in (device.get("state"), device.get("appliedState"))


def project(device: dict[str, Any]) -> dict[str, Any]:
    """The inventory fields of one AMAPI Device payload (no unbounded lists)."""
    hardware = device.get("hardwareInfo") or {}
    software = device.get("softwareInfo") or {}
    network = device.get("networkInfo") or {}
    projection: dict[str, Any] = {
        "state": device.get("state"),
        "appliedState": device.get("appliedState"),
        "managementMode": device.get("managementMode"),
        "ownership": device.get("ownership"),
        "apiLevel": device.get("apiLevel"),
        "lastPolicySyncTime": device.get("lastPolicySyncTime"),
        "reportTime": report_time(device),
        "hardware": {k: hardware.get(k) for k in ("manufacturer", "brand", "model",
                                                   "serialNumber", "hardware")
                     if hardware.get(k) is not None},
        "software": {k: software.get(k) for k in ("androidVersion", "securityPatchLevel",
                                                   "androidBuildNumber",
                                                   "androidDevicePolicyVersionName")
                     if software.get(k) is not None},
        "network": {k: network.get(k) for k in ("imei", "wifiMacAddress", "meid")
                    if network.get(k) is not None},
        "compliance": {
            "appliedPolicyName": device.get("appliedPolicyName"),
            "appliedPolicyVersion": device.get("appliedPolicyVersion"),
            "compliant": device.get("policyCompliant"),
            "nonCompliance": [
                {k: d.get(k) for k in ("settingName", "nonComplianceReason", "packageName",
                                       "fieldPath", "specificNonComplianceReason")
                 if d.get(k) is not None}
                for d in (device.get("nonComplianceDetails") or [])[:MAX_NON_COMPLIANCE]],
        },
    }
    if device.get("lastStatusReportTime"):
        projection["lastStatusReportTime"] = device["lastStatusReportTime"]
    if device.get("enrollmentTime"):
        projection["enrollTime"] = device["enrollmentTime"]
    if "applicationReports" in device:
        projection["apps"] = [
            {k: app.get(k) for k in ("packageName", "versionName", "versionCode", "state",
                                     "displayName") if app.get(k) is not None}
            for app in (device.get("applicationReports") or [])[:MAX_APPS]]
    return projection


def keyed_app_states(device: dict[str, Any]) -> list[dict[str, Any]]:
    """Every keyed app state (app feedback) in a report, flattened with its package."""
    states = []
    for app in device.get("applicationReports") or []:
        for state in app.get("keyedAppStates") or []:
            if isinstance(state, dict) and state.get("key"):
                states.append({"packageName": app.get("packageName"), "key": state["key"],
                               "severity": state.get("severity", "INFO"),
                               "message": state.get("message", ""),
                               "data": state.get("data", ""),
                               "lastUpdateTime": state.get("lastUpdateTime")
                               or state.get("createTime") or report_time(device)})
    return states
