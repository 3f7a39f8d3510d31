"""The device inventory as the API shows it: list with filters, details, labels."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.clock import rfc3339
from shared.pagination import paginate
from shared.policy import push
from shared.store import app_feedback, devices, effective_policies

FILTERS = {"space": "space", "state": "state", "compliant": "compliance.compliant",
           "label": "label", "profileId": "profileId", "userName": "userName"}


def _text(value: Any) -> Any:
    return rfc3339(value) if isinstance(value, datetime.datetime) else value


def represent(device: dict[str, Any], pushed_version: str | None = None,
              feedback: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API representation of an inventory record."""
    compliance = device.get("compliance") or {}
    by_package: dict[str, list[dict[str, Any]]] = {}
    for state in feedback or []:
        by_package.setdefault(state["packageName"], []).append(
            {k: _text(state.get(k)) for k in ("key", "severity", "message", "data",
                                               "lastUpdateTime")})
    apps = [{**app, **({"feedback": by_package.get(app["packageName"], [])}
                       if feedback is not None else {})}
            for app in device.get("apps") or []]
    hardware = dict(device.get("hardware") or {})
    if (device.get("network") or {}).get("imei"):
        hardware["imei"] = device["network"]["imei"]
    body = {
        "id": device["id"], "name": device.get("name"), "space": device.get("space"),
        "userName": device.get("userName"), "profileId": device.get("profileId"),
        "labels": device.get("labels") or [],
        "customAttributes": device.get("customAttributes") or [],
        "state": device.get("state"), "appliedState": device.get("appliedState"),
        "amapiEnabled": True, "managementMode": device.get("managementMode"),
        "enrollTime": _text(device.get("enrollTime")),
        "lastStatusReportTime": _text(device.get("lastStatusReportTime")),
        "lastPolicySyncTime": _text(device.get("lastPolicySyncTime")),
        "policy": {"name": device.get("policyName"), "version": pushed_version,
                   "appliedVersion": compliance.get("appliedPolicyVersion"),
                   "compliant": compliance.get("compliant"),
                   "nonCompliance": compliance.get("nonCompliance") or []},
        "hardware": hardware,
        "software": {**(device.get("software") or {}), "apiLevel": device.get("apiLevel")},
        "apps": apps,
        "enrollmentDecision": {k: _text(v) for k, v in
                               (device.get("enrollmentDecision") or {}).items()},
    }
    return body


def _versions(records: list[dict[str, Any]]) -> dict[str, str | None]:
    keys = [r["effectivePolicy"] for r in records if r.get("effectivePolicy")]
    return {k: v.get("version") for k, v in effective_policies.get_many(keys).items()}


def records_page(filters: dict[str, Any], size: int, token: str | None) -> dict[str, Any]:
    """One page of the inventory records of devices matching the filters that the caller may
    see: `{devices: [record], nextPageToken?}`."""
    scope = "devices|" + "|".join(f"{k}={filters[k]}" for k in sorted(filters))
    spaces = roles.current().spaces_for_list(filters.pop("space", None))
    wanted: dict[str, Any] = {FILTERS[k]: v for k, v in filters.items()}
    if spaces is not None:
        wanted["spaces"] = spaces

    def render_page(limit: int, after: Any) -> list[dict[str, Any]]:
        return devices.page(wanted, limit, after)

    return paginate("devices", scope, size, token, render_page, lambda d: d["id"], lambda d: d)


def list_devices(filters: dict[str, Any], size: int, token: str | None) -> dict[str, Any]:
    """One page of devices matching the filters."""
    body = records_page(filters, size, token)
    versions = _versions(body["devices"])
    body["devices"] = [represent(d, versions.get(d.get("effectivePolicy") or ""))
                       for d in body["devices"]]
    return body


def existing(device_id: str, needed: int = roles.VIEWER) -> dict[str, Any]:
    """The inventory record of a device the caller may act on, or 404 (403: role too low)."""
    device = devices.get(device_id)
    if device is None:
        raise errors.NotFound(f"no device {device_id!r}")
    roles.require(str(device.get("space") or "global"), needed)
    return device


def get_device(device_id: str) -> dict[str, Any]:
    """One device with its apps' feedback and the version of the policy pushed to it."""
    device = existing(device_id)
    return represent(device, _versions([device]).get(device.get("effectivePolicy") or ""),
                     app_feedback.for_device(device["id"]))


def set_labels(device: dict[str, Any], labels: list[str],
               validate_only: bool = False) -> dict[str, Any]:
    """Replace the labels of a device from `existing(…, ADMIN)`; move it when that changes its
    effective policy. `validate_only`: what that would do, doing nothing."""
    labels = list(dict.fromkeys(labels))
    vetted = ((device.get("enrollmentDecision") or {}).get("result") == "ALLOWED"
              and device.get("state") != "DELETED")
    if validate_only:
        from shared.policy import change_preview, rollouts

        plan, inputs = push.plan_relabel(device, labels, vetted)
        return change_preview.preview(plan, change_preview.secret_keys_of(inputs),
                                      rollouts.inline_limit())
    changed = push.relabel(device, labels, vetted)
    if "policyName" in changed:
        logs.log(logging.INFO, "device moved by a label change", device=device["name"],
                 policy=changed["policyName"])
    return get_device(device["id"])
