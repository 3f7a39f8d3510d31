"""Device commands: recorded before AMAPI is called, sent, then settled by notification.

A command AMAPI throttles or cannot take (429/5xx after retries) stays PENDING and is re-sent by
`reconcile_commands`; one AMAPI refuses as invalid becomes FAILED with AMAPI's reason. SYNC and
WIPE are not AMAPI commands: SYNC re-reads the device and re-pushes its policy when it is behind,
WIPE deletes the device in AMAPI.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from shared import access, device_inventory, errors, logs
from shared.amapi.client import amapi
from shared.amapi.errors import (
    AmapiError,
    AmapiNotFound,
    AmapiQuotaExhausted,
    AmapiUnavailable,
)
from shared.clock import parse_rfc3339, rfc3339, utcnow
from shared.device_views import existing
from shared.pagination import paginate
from shared.store import commands, devices, effective_policies
from shared.store.keys import new_id

COMMAND_LIFETIME = datetime.timedelta(minutes=10)  # AMAPI's default Command.duration
NOT_AMAPI_COMMANDS = ("SYNC", "WIPE")


def amapi_command(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The AMAPI `Command` body of a command (the one place it is built)."""
    lifetime = int(COMMAND_LIFETIME.total_seconds())
    command: dict[str, Any] = {"type": kind, "duration": f"{lifetime}s"}
    if kind == "RESET_PASSWORD":
        command["newPassword"] = params["newPassword"]
        if params.get("resetPasswordFlags"):
            command["resetPasswordFlags"] = params["resetPasswordFlags"]
    elif kind == "CLEAR_APP_DATA":
        command["clearAppsDataParams"] = {"packageNames": params["packageNames"]}
    elif kind == "START_LOST_MODE":
        lost: dict[str, Any] = {}
        for key in ("lostMessage", "lostPhoneNumber", "lostStreetAddress", "lostOrganization"):
            if params.get(key):
                lost[key] = {"defaultMessage": params[key]}
        if params.get("lostEmailAddress"):
            lost["lostEmailAddress"] = params["lostEmailAddress"]
        command["startLostModeParams"] = lost
    elif kind == "STOP_LOST_MODE":
        command["stopLostModeParams"] = {}
    return command


def represent(command: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored command (secrets left out)."""
    params = dict(command.get("params") or {})
    if "newPassword" in params:
        params["newPassword"] = "********"
    body = {"id": command["id"], "deviceId": command["deviceId"], "type": command["type"],
            "params": params, "state": command["state"],
            "createTime": rfc3339(command["createTime"]),
            "updateTime": rfc3339(command["updateTime"])}
    for key in ("reason", "operationName", "error", "result"):
        if command.get(key):
            body[key] = command[key]
    return body


def issue(device_id: str, body: dict[str, Any], principal: str) -> dict[str, Any]:
    """Record the command, then send it; always returns the record (202)."""
    device = existing(device_id, access.OPERATOR)
    if device.get("state") == "DELETED":
        raise errors.FailedPrecondition("the device is deleted")
    now = utcnow()
    command = {"id": new_id(), "deviceId": device["id"], "deviceName": device["name"],
               "space": device.get("space"), "type": body["type"], "params": body["params"],
               "state": "PENDING", "createTime": now, "updateTime": now,
               "expireTime": now + COMMAND_LIFETIME, "requestedBy": principal,
               "sendAttempts": 0}
    if body.get("reason"):
        command["reason"] = body["reason"]
    commands.create(command["id"], {k: v for k, v in command.items() if k != "id"})
    logs.log(logging.INFO, "command recorded", commandId=command["id"], type=command["type"],
             device=device["name"], reason=body.get("reason"), principal=principal)
    return represent(dispatch(command))


def dispatch(command: dict[str, Any]) -> dict[str, Any]:
    """Send one PENDING command; returns it as it now stands."""
    changes: dict[str, Any] = {"sendAttempts": command.get("sendAttempts", 0) + 1}
    try:
        if command["type"] == "SYNC":
            changes.update(_sync(command))
        elif command["type"] == "WIPE":
            amapi().delete_device(command["deviceName"],
                                  command["params"].get("wipeDataFlags"),
                                  command.get("reason"))
            changes.update(state="SUCCEEDED", result={"deleted": True})
        else:
            operation = amapi().issue_command(
                command["deviceName"], amapi_command(command["type"], command["params"]))
            changes.update(state="SENT", operationName=operation["name"])
            early = commands.early_result(operation["name"])
            if early:
                changes.update({k: early[k] for k in ("state", "error", "result") if k in early})
    except (AmapiQuotaExhausted, AmapiUnavailable) as exc:
        logs.log(logging.WARNING, "command stays pending", commandId=command["id"],
                 cause=type(exc).__name__)
    except AmapiNotFound:
        changes.update(state="FAILED", error={"message": "the device no longer exists in AMAPI"})
    except AmapiError as exc:
        changes.update(state="FAILED", error={"message": exc.message,
                                              "httpStatus": exc.http_status})
    changes["updateTime"] = utcnow()
    commands.update(command["id"], changes)
    return {**command, **changes}


def _sync(command: dict[str, Any]) -> dict[str, Any]:
    """Re-read the device into the inventory; re-push its policy when it is behind."""
    current = amapi().get_device(command["deviceName"])
    stored = devices.get(command["deviceName"]) or {}
    if device_inventory.is_newer(device_inventory.report_time(current),
                                 stored.get("reportTime")):
        devices.put(command["deviceName"], device_inventory.project(current))
    result: dict[str, Any] = {"appliedPolicyVersion": current.get("appliedPolicyVersion")}
    key = str(stored.get("effectivePolicy") or "")
    record = effective_policies.get_many([key]).get(key) if key else None
    if record and str(current.get("appliedPolicyVersion")) != str(record.get("version")):
        pushed = amapi().patch_policy(record["name"], record["policy"])
        effective_policies.put_many({key: {**record, "version": pushed.get("version")}})
        result["repushedPolicyVersion"] = pushed.get("version")
    return {"state": "SUCCEEDED", "result": result}


def get_command(device_id: str, command_id: str) -> dict[str, Any]:
    """One command of a device."""
    existing(device_id)
    command = commands.get(command_id)
    if command is None or command.get("deviceId") != device_id:
        raise errors.NotFound(f"no command {command_id!r} for device {device_id!r}")
    return represent(command)


def history(device_id: str, size: int, token: str | None) -> dict[str, Any]:
    """A device's commands, oldest first."""
    existing(device_id)
    return paginate("commands", f"commands|device={device_id}", size, token,
                    lambda limit, after: commands.for_device(device_id, limit, after),
                    lambda command: command["id"], represent)


def reconcile(now: datetime.datetime, settle_after: datetime.timedelta) -> dict[str, int]:
    """Re-send PENDING commands, settle SENT ones no notification settled, expire the stale."""
    from shared.notification_handlers import command_outcome

    sent = settled = expired = 0
    for command in commands.in_state("PENDING", now, 100):
        if _expired(command, now):
            commands.update(command["id"], {"state": "EXPIRED", "updateTime": now})
            expired += 1
        elif dispatch(command)["state"] != "PENDING":
            sent += 1
    for command in commands.in_state("SENT", now - settle_after, 100):
        try:
            operation = amapi().get_operation(command["operationName"])
        except AmapiNotFound:
            operation = {}
        except (AmapiQuotaExhausted, AmapiUnavailable):
            continue
        if operation.get("done"):
            commands.update(command["id"], {**command_outcome(operation), "updateTime": now})
            settled += 1
        elif _expired(command, now):
            commands.update(command["id"], {"state": "EXPIRED", "updateTime": now})
            expired += 1
    logs.log(logging.INFO, "reconcile_commands run", sent=sent, settled=settled, expired=expired)
    return {"sent": sent, "settled": settled, "expired": expired}


def _expired(command: dict[str, Any], now: datetime.datetime) -> bool:
    expire = command.get("expireTime")
    if isinstance(expire, str):
        expire = parse_rfc3339(expire)
    return bool(expire and expire <= now)
