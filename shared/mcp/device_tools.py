"""MCP tools on devices: the inventory (read from the stores, never from AMAPI), why a device
has its policy, labels, commands, and the two destructive commands."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from typing import Any

from marshmallow import Schema, fields, validate

from shared import errors
from shared.access import roles
from shared.access.spaces import SPACE_ID
from shared.clock import rfc3339
from shared.devices import commands as device_commands
from shared.devices import inventory, schemas
from shared.enterprise import enterprise_name
from shared.mcp.tools import READ, Hints, Invocation, Output, Plan, Tool
from shared.pagination import MAX_PAGE_SIZE
from shared.store.keys import is_storable_id

PARENT = re.compile(r"^(enterprises/[A-Za-z0-9_-]+|spaces/[a-z][a-z0-9-]{0,62})\Z")
DEFAULT_PAGE_SIZE = 10  # seed 001: ListDevicesRequest
SAFE_COMMANDS = ("LOCK", "REBOOT", "SYNC", "START_LOST_MODE", "STOP_LOST_MODE",
                 "CLEAR_APP_DATA")


def _device_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=300), metadata={
        "description": "the device's id, or its AMAPI name enterprises/{e}/devices/{id}"})


class ListDevicesRequest(Schema):
    """Android Device Management's ListDevicesRequest."""

    parent = fields.String(required=True, validate=validate.Regexp(PARENT, error=(
        "must be enterprises/{{enterpriseId}}, or spaces/{{space}} to list one space")),
        metadata={"description": "enterprises/{enterpriseId}, or spaces/{space} to narrow"})
    pageSize = fields.Integer(strict=True, load_default=DEFAULT_PAGE_SIZE,
                              validate=validate.Range(min=0), metadata={
        "description": f"at most {DEFAULT_PAGE_SIZE} devices when not set; values above "
                       f"{MAX_PAGE_SIZE} are coerced to {MAX_PAGE_SIZE}"})
    pageToken = fields.String(validate=validate.Length(max=2000), metadata={
        "description": "nextPageToken of the previous page"})


class DeviceRequest(Schema):
    """One device."""

    deviceId = _device_field()


class DeviceCommandsRequest(DeviceRequest):
    """A device's command history."""

    pageSize = fields.Integer(strict=True, load_default=DEFAULT_PAGE_SIZE,
                              validate=validate.Range(min=1, max=MAX_PAGE_SIZE))
    pageToken = fields.String(validate=validate.Length(max=2000))


class SetLabelsRequest(DeviceRequest, schemas.DeviceLabelsSchema):
    """The labels a device should have (replacing its labels)."""


class IssueCommandRequest(DeviceRequest, schemas.CommandRequestSchema):
    """A device command that destroys nothing."""

    type = fields.String(required=True, validate=validate.OneOf(SAFE_COMMANDS))


class WipeRequest(DeviceRequest):
    """A factory reset."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "why (shown in the audit log)"})
    wipeDataFlags = fields.List(fields.String(validate=validate.OneOf(schemas.WIPE_FLAGS)))


class ResetPasswordRequest(DeviceRequest, schemas.ResetPasswordParams):
    """A new device password."""

    newPassword = fields.String(required=True, validate=validate.Length(min=4, max=64),
                                metadata={"description": "write-only: never shown or logged"})
    reason = fields.String(validate=validate.Length(min=1, max=200))


def _device_id(given: str) -> str:
    """Our id of a device named by id or by AMAPI name (of this enterprise only)."""
    prefix = f"{enterprise_name()}/devices/"
    own = given[len(prefix):] if given.startswith(prefix) else given
    if not is_storable_id(own):
        raise errors.NotFound(f"no device {given!r}")
    return own


def _time(value: Any) -> Any:
    return rfc3339(value) if isinstance(value, datetime.datetime) else value


def amapi_device(record: dict[str, Any]) -> dict[str, Any]:
    """An inventory record in AMAPI's Device shape and field names (what AMAPI last said)."""
    compliance = record.get("compliance") or {}
    device: dict[str, Any] = {
        "name": record.get("name"), "managementMode": record.get("managementMode"),
        "ownership": record.get("ownership"), "state": record.get("state"),
        "appliedState": record.get("appliedState"),
        "policyCompliant": compliance.get("compliant"),
        "nonComplianceDetails": compliance.get("nonCompliance") or [],
        "enrollmentTime": _time(record.get("enrollTime")),
        "lastStatusReportTime": _time(record.get("lastStatusReportTime")),
        "lastPolicySyncTime": _time(record.get("lastPolicySyncTime")),
        "policyName": record.get("policyName"),
        "appliedPolicyName": compliance.get("appliedPolicyName"),
        "appliedPolicyVersion": compliance.get("appliedPolicyVersion"),
        "apiLevel": record.get("apiLevel"),
        "hardwareInfo": record.get("hardware") or {},
        "softwareInfo": record.get("software") or {},
        "networkInfo": record.get("network") or {},
        "applicationReports": record.get("apps") or [],
        "previousDeviceNames": record.get("previousDeviceNames") or [],
    }
    return {key: value for key, value in device.items() if value not in (None, [], {})}


def _parent_filters(parent: str) -> dict[str, Any]:
    kind, _, value = parent.partition("/")
    if kind == "spaces":
        if not SPACE_ID.match(value):
            raise errors.InvalidArgument.field("parent", "names no valid space")
        return {"space": value}
    if parent != enterprise_name():
        raise errors.NotFound(f"no enterprise {parent!r}")
    return {}


def list_devices(call: Invocation) -> Output:
    """Seed 001's list_devices over the inventory."""
    args = call.arguments
    size = min(args["pageSize"] or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    page = inventory.records_page(_parent_filters(args["parent"]), size, args.get("pageToken"))
    body: dict[str, Any] = {"devices": [amapi_device(d) for d in page["devices"]]}
    if page.get("nextPageToken"):
        body["nextPageToken"] = page["nextPageToken"]
    return Output(body)


def get_device(call: Invocation) -> Output:
    """One device as the HTTP API shows it."""
    return Output(inventory.get_device(_device_id(call.arguments["deviceId"])))


def explain_device_policy(call: Invocation) -> Output:
    """Which configuration, apps, Wi-Fi and VPN a device gets, and why."""
    from shared.policy.explanation import explain
    from shared.policy.push import load_space

    device = inventory.existing(_device_id(call.arguments["deviceId"]))
    return Output(explain(device, load_space(str(device.get("space") or "global"))))


def list_device_commands(call: Invocation) -> Output:
    """A device's commands, newest first."""
    args = call.arguments
    return Output(device_commands.history(_device_id(args["deviceId"]), args["pageSize"],
                                          args.get("pageToken")))


def set_device_labels(call: Invocation) -> Output:
    """Replace a device's labels (it moves when that changes its policy)."""
    device = inventory.existing(_device_id(call.arguments["deviceId"]), roles.ADMIN)
    changed = inventory.set_labels(device, call.arguments["labels"])
    return Output(changed, resource=f"/commands/devices/{device['id']}")


def _command(device: dict[str, Any], body: dict[str, Any], call: Invocation) -> Output:
    command = device_commands.issue(device, body, call.principal)
    return Output(command, resource=f"/commands/devices/{device['id']}/commands/{command['id']}")


def issue_device_command(call: Invocation) -> Output:
    """Send a command that destroys nothing."""
    args = call.arguments
    device = inventory.existing(_device_id(args["deviceId"]), roles.OPERATOR)
    return _command(device, {k: args[k] for k in ("type", "params", "reason") if k in args},
                    call)


def _device_etag(device: dict[str, Any]) -> str:
    """The version of what a destructive command's plan shows about its device."""
    shown = {k: device.get(k) for k in ("name", "state", "space", "userName", "labels",
                                        "policyName")}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


def _summary(device: dict[str, Any], action: str, effect: str) -> dict[str, Any]:
    hardware = device.get("hardware") or {}
    return {"action": action, "effect": effect, "devicesAffected": 1,
            "devices": [{"id": device["id"], "name": device.get("name"),
                         "state": device.get("state"), "space": device.get("space"),
                         "labels": device.get("labels") or [],
                         "model": hardware.get("model"),
                         "serialNumber": hardware.get("serialNumber")}]}


def _wipe_target(call: Invocation) -> dict[str, Any]:
    device = inventory.existing(_device_id(call.arguments["deviceId"]), roles.OPERATOR)
    if device.get("state") == "DELETED":
        raise errors.FailedPrecondition("the device is deleted")
    return device


def plan_wipe(call: Invocation) -> Plan:
    """What a wipe would do."""
    device = _wipe_target(call)
    return Plan(_summary(device, "WIPE", "factory reset: every app and all data on the device "
                                         "are erased and it leaves management"),
                _device_etag(device))


def wipe_device(call: Invocation) -> Output:
    """Factory-reset a device (once confirmed)."""
    args = call.arguments
    params = {"wipeDataFlags": args["wipeDataFlags"]} if args.get("wipeDataFlags") else {}
    return _command(_wipe_target(call), {"type": "WIPE", "params": params,
                                         "reason": args["reason"]}, call)


def plan_password_reset(call: Invocation) -> Plan:
    """What a password reset would do (the password is never shown)."""
    device = inventory.existing(_device_id(call.arguments["deviceId"]), roles.OPERATOR)
    return Plan(_summary(device, "RESET_PASSWORD", "the device's password is replaced: whoever "
                                                   "uses the device needs the new one"),
                _device_etag(device))


def reset_device_password(call: Invocation) -> Output:
    """Set a new device password (once confirmed)."""
    args = call.arguments
    device = inventory.existing(_device_id(args["deviceId"]), roles.OPERATOR)
    params = {k: args[k] for k in ("newPassword", "resetPasswordFlags") if args.get(k)}
    body = {"type": "RESET_PASSWORD", "params": params,
            **({"reason": args["reason"]} if args.get("reason") else {})}
    return _command(device, body, call)


LIST_DEVICES_OUTPUT = {
    "type": "object",
    "properties": {
        "devices": {"type": "array", "items": {"type": "object"},
                    "description": "AMAPI Device objects, as the inventory last recorded them"},
        "nextPageToken": {"type": "string"}},
    "required": ["devices"]}

WRITE = Hints(read_only=False, destructive=False, idempotent=False)
DESTRUCTIVE = Hints(read_only=False, destructive=True, idempotent=False)

TOOLS = (
    Tool("list_devices", "List devices",
         "Lists the devices of an enterprise (parent enterprises/{enterpriseId}), or of one "
         "space (spaces/{space}), in AMAPI's Device format, from the inventory the "
         "notifications keep (no AMAPI call). Pages of pageSize (default 10, at most 100).",
         ListDevicesRequest, READ, list_devices, output_schema=LIST_DEVICES_OUTPUT),
    Tool("get_device", "Get a device",
         "One device: state, policy and compliance, hardware, software, apps and their "
         "feedback, labels and its enrollment decision.", DeviceRequest, READ, get_device),
    Tool("explain_device_policy", "Explain a device's policy",
         "Which COSU configuration, apps, Wi-Fi and VPN a device gets, and the rule that chose "
         "each (priority, distribution by label, user or id).", DeviceRequest, READ,
         explain_device_policy),
    Tool("list_device_commands", "List a device's commands",
         "A device's commands, newest first, with their state.", DeviceCommandsRequest, READ,
         list_device_commands),
    Tool("set_device_labels", "Set a device's labels",
         "Replaces a device's labels; the device moves to another policy when its labels "
         "change which configurations reach it. ADMIN of the device's space.",
         SetLabelsRequest, Hints(read_only=False, destructive=False, idempotent=True),
         set_device_labels),
    Tool("issue_device_command", "Send a device command",
         "Sends LOCK, REBOOT, SYNC, START_LOST_MODE, STOP_LOST_MODE or CLEAR_APP_DATA to one "
         "device; the command is recorded first and settled by AMAPI's notification. "
         "OPERATOR of the device's space.", IssueCommandRequest, WRITE, issue_device_command),
    Tool("wipe_device", "Wipe a device",
         "Factory-resets a device: everything on it is erased and it leaves management. Two "
         "calls: the first answers the plan and a confirmationToken.", WipeRequest,
         DESTRUCTIVE, wipe_device, plan=plan_wipe),
    Tool("reset_device_password", "Reset a device's password",
         "Sets a new password on a device. Two calls: the first answers the plan and a "
         "confirmationToken.", ResetPasswordRequest, DESTRUCTIVE, reset_device_password,
         plan=plan_password_reset),
)
