"""The device inventory as the API shows it: list with filters, details, labels."""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.clock import rfc3339
from shared.pagination import paginate
from shared.policy import push
from shared.store import app_feedback, devices, effective_policies

# Query parameter → the inventory field it matches exactly (`label`: one of the labels;
# `configId`: recorded on an effective policy compiled from that configuration).
FILTERS = {"space": "space", "state": "state", "compliant": "compliance.compliant",
           "label": "label", "profileId": "profileId", "userName": "userName",
           "serialNumber": "hardware.serialNumber", "imei": "network.imei",
           "manufacturer": "hardware.manufacturer", "model": "hardware.model",
           "androidVersion": "software.androidVersion", "configId": "configId",
           "policyName": "policyName", "enrollmentDecision": "enrollmentDecision.result"}
EXPORT_PAGE = 500
# The export's columns, in order: stable (new ones are only ever appended).
EXPORT_COLUMNS = ("id", "name", "space", "userName", "profileId", "labels", "state",
                  "appliedState", "managementMode", "enrollTime", "lastStatusReportTime",
                  "lastPolicySyncTime", "policyName", "appliedPolicyVersion", "compliant",
                  "manufacturer", "brand", "model", "serialNumber", "imei", "androidVersion",
                  "securityPatchLevel", "apiLevel", "enrollmentDecision")
# What the export reads of each record (not its apps or non-compliance details).
EXPORT_FIELDS = ["name", "space", "userName", "profileId", "labels", "state", "appliedState",
                 "managementMode", "enrollTime", "lastStatusReportTime", "lastPolicySyncTime",
                 "policyName", "compliance.appliedPolicyVersion", "compliance.compliant",
                 "hardware", "network.imei", "software", "apiLevel",
                 "enrollmentDecision.result"]


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


@dataclass(frozen=True)
class _Search:
    """A device search resolved against the caller's access: what the store is asked."""

    scope: str
    wanted: dict[str, Any]
    groups: list[str] | None

    def fetch(self, limit: int, after: Any,
              fields: list[str] | None = None) -> list[dict[str, Any]]:
        return devices.page(self.wanted, limit, after, self.groups, fields)


def _search(filters: dict[str, Any]) -> _Search:
    """Resolve the filters once, while the caller's access is known (an export streams
    after the request's access is gone)."""
    filters = dict(filters)
    scope = "devices|" + "|".join(f"{k}={filters[k]}" for k in sorted(filters))
    spaces = roles.current().spaces_for_list(filters.pop("space", None))
    config_id = filters.pop("configId", None)
    wanted: dict[str, Any] = {FILTERS[k]: v for k, v in filters.items()}
    if spaces is not None:
        wanted["spaces"] = spaces
    groups = None
    if config_id is not None:
        groups = sorted(key for key, space in
                        effective_policies.spaces_using(f"cosu:{config_id}").items()
                        if spaces is None or space in spaces)
    return _Search(scope, wanted, groups)


def records_page(filters: dict[str, Any], size: int, token: str | None) -> dict[str, Any]:
    """One page of the inventory records of devices matching the filters that the caller may
    see: `{devices: [record], nextPageToken?}`."""
    search = _search(filters)
    return paginate("devices", search.scope, size, token, search.fetch, lambda d: d["id"],
                    lambda d: d)


def list_devices(filters: dict[str, Any], size: int, token: str | None) -> dict[str, Any]:
    """One page of devices matching the filters."""
    body = records_page(filters, size, token)
    versions = _versions(body["devices"])
    body["devices"] = [represent(d, versions.get(d.get("effectivePolicy") or ""))
                       for d in body["devices"]]
    return body


def devices_of_config(config_id: str, space: str | None, size: int,
                      token: str | None) -> dict[str, Any]:
    """One page of the devices a COSU configuration reaches that the caller may see, of one
    space or all (the same set and pages as `GET /devices?configId=`)."""
    return list_devices({"configId": config_id, **({"space": space} if space else {})},
                        size, token)


def _export_row(device: dict[str, Any]) -> dict[str, Any]:
    hardware = device.get("hardware") or {}
    software = device.get("software") or {}
    compliance = device.get("compliance") or {}
    return {
        "id": device["id"], "name": device.get("name"), "space": device.get("space"),
        "userName": device.get("userName"), "profileId": device.get("profileId"),
        "labels": list(device.get("labels") or []), "state": device.get("state"),
        "appliedState": device.get("appliedState"),
        "managementMode": device.get("managementMode"),
        "enrollTime": _text(device.get("enrollTime")),
        "lastStatusReportTime": _text(device.get("lastStatusReportTime")),
        "lastPolicySyncTime": _text(device.get("lastPolicySyncTime")),
        "policyName": device.get("policyName"),
        "appliedPolicyVersion": compliance.get("appliedPolicyVersion"),
        "compliant": compliance.get("compliant"),
        "manufacturer": hardware.get("manufacturer"), "brand": hardware.get("brand"),
        "model": hardware.get("model"), "serialNumber": hardware.get("serialNumber"),
        "imei": (device.get("network") or {}).get("imei"),
        "androidVersion": software.get("androidVersion"),
        "securityPatchLevel": software.get("securityPatchLevel"),
        "apiLevel": device.get("apiLevel"),
        "enrollmentDecision": (device.get("enrollmentDecision") or {}).get("result"),
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    text = str(value)
    # A device reports its own serial number and model: a spreadsheet must not run them as
    # formulas (OWASP CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def export(filters: dict[str, Any], fmt: str) -> Iterator[str]:
    """The whole filtered inventory the caller may see, one line per device (CSV with a header
    row, or JSON Lines), read from the store a page at a time as the lines are consumed.

    The caller's access is resolved and the first page read before this returns, so that a
    refusal or an unavailable store is still an HTTP error; a failure later can only end the
    stream early (see `functions/commands`).
    """
    search = _search(filters)
    # A list the generator empties as it goes: holding on to the first page in a closure
    # would keep it alive for the whole export.
    pages = [search.fetch(EXPORT_PAGE, None, EXPORT_FIELDS)]

    def lines() -> Iterator[str]:
        if fmt == "csv":
            yield _csv_line(list(EXPORT_COLUMNS))
        found = pages.pop()
        while found:
            for device in found:
                row = _export_row(device)
                yield (_csv_line([_csv_cell(row[c]) for c in EXPORT_COLUMNS]) if fmt == "csv"
                       else json.dumps(row, separators=(",", ":")) + "\n")
            if len(found) < EXPORT_PAGE:
                return
            after = found[-1]["id"]
            found = []  # released before the next page is read: one page in memory at a time
            found = search.fetch(EXPORT_PAGE, after, EXPORT_FIELDS)

    return lines()


def existing(device_id: str, needed: int = roles.VIEWER) -> dict[str, Any]:
    """The inventory record of a device the caller may act on, or 404 (403: role too low)."""
    device = devices.get(device_id)
    if device is None:
        raise errors.NotFound(f"no device {device_id!r}")
    roles.require(str(device.get("space") or "global"), needed)
    return device


def effective(device: dict[str, Any]) -> dict[str, Any]:
    """What the device gets from its space's configurations and why: its COSU configuration,
    apps, Wi-Fi and VPN (the space's inputs are read: a detail's cost, not a list's)."""
    from shared.policy.explanation import explain

    explained = explain(device, push.load_space(str(device.get("space") or "global")))
    return {key: explained[key] for key in ("cosuConfig", "apps", "wifi", "vpn", "reason",
                                            "wouldGet") if key in explained}


def get_device(device_id: str) -> dict[str, Any]:
    """One device with its apps' feedback, the version of the policy pushed to it and what it
    gets from which configuration (`effective`)."""
    device = existing(device_id)
    body = represent(device, _versions([device]).get(device.get("effectivePolicy") or ""),
                     app_feedback.for_device(device["id"]))
    body["effective"] = effective(device)
    return body


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
