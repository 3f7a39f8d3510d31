"""Device commands: recorded before AMAPI is called, sent at most once, settled by notification.

A send is leased: the command carries `leaseUntil` (written with the record, or by a guarded
write in `reconcile_commands`) before AMAPI is called, longer than any AMAPI retry budget, so
reconciliation never re-sends a command whose first send is still being retried. A command AMAPI
certainly did not take (throttled, or not serving, after retries) stays PENDING and is re-sent;
one whose send may have reached AMAPI (500, timeout, a worker that died holding the lease) is
first looked up in AMAPI's operations of the device, by the tag its `duration` carries, and
only re-sent when AMAPI has no trace of it. One AMAPI refuses as invalid becomes FAILED with
AMAPI's reason. SYNC and WIPE are not AMAPI commands: SYNC re-reads the device and re-pushes
its policy when it is behind, WIPE deletes the device in AMAPI (both are safe to repeat).

Secret parameters (RESET_PASSWORD's `newPassword`) are kept only while a re-send may need them:
the write that records AMAPI's acceptance, or any settlement, replaces them with a fact
(`passwordSet`).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from typing import Any

from shared import errors, logs
from shared.amapi import budget
from shared.amapi.client import amapi, amapi_background
from shared.amapi.errors import (
    AmapiError,
    AmapiNotFound,
    AmapiQuotaExhausted,
    AmapiUnavailable,
)
from shared.clock import parse_rfc3339, rfc3339, utcnow
from shared.config import settings
from shared.devices import projection
from shared.devices.command_outcomes import command_outcome
from shared.devices.inventory import existing
from shared.pagination import paginate
from shared.policy import push as policy_push
from shared.store import commands, devices
from shared.store.keys import new_id

COMMAND_LIFETIME = datetime.timedelta(minutes=10)  # AMAPI's default Command.duration
NOT_AMAPI_COMMANDS = ("SYNC", "WIPE")
SECRET_PARAMS = {"newPassword": "passwordSet"}  # secret -> the fact kept once AMAPI has it
CALLS_PER_SEND = 3  # the most AMAPI calls one send makes (SYNC: get, patch; or a look-up)
MAX_OPERATION_PAGES = 20


def send_lease() -> datetime.timedelta:
    """How long a send may hold a command: every call's retry budget and timeout, and a margin."""
    config = settings()
    per_call = config.amapi_retry_budget_seconds + config.amapi_timeout_seconds
    return datetime.timedelta(seconds=CALLS_PER_SEND * per_call + 30)


def _tag(command_id: str) -> int:
    """Nanoseconds added to the command's duration: how its AMAPI operation is recognised."""
    nanos = int.from_bytes(hashlib.sha256(command_id.encode()).digest()[:8], "big") % 10**9
    # A multiple of 1000 could be printed back with 3 or 6 digits; keep all 9 significant.
    return nanos if nanos % 1000 else nanos + 1


def _nanos(duration: Any) -> int | None:
    text = str(duration or "").removesuffix("s")
    _, _, fraction = text.partition(".")
    return int(fraction.ljust(9, "0")[:9]) if fraction.isdigit() else None


def amapi_command(kind: str, params: dict[str, Any], command_id: str = "") -> dict[str, Any]:
    """The AMAPI `Command` body of a command (the one place it is built)."""
    lifetime = int(COMMAND_LIFETIME.total_seconds())
    duration = f"{lifetime}.{_tag(command_id):09d}s" if command_id else f"{lifetime}s"
    command: dict[str, Any] = {"type": kind, "duration": duration}
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
    """The API representation of a stored command (secrets masked, whether kept or dropped)."""
    params = dict(command.get("params") or {})
    for secret, fact in SECRET_PARAMS.items():
        if params.pop(fact, None) or secret in params:
            params[secret] = "********"
    body = {"id": command["id"], "deviceId": command["deviceId"], "type": command["type"],
            "params": params, "state": command["state"],
            "createTime": rfc3339(command["createTime"]),
            "updateTime": rfc3339(command["updateTime"])}
    for key in ("reason", "operationName", "error", "result"):
        if command.get(key):
            body[key] = command[key]
    return body


def issue(device: dict[str, Any], body: dict[str, Any], principal: str) -> dict[str, Any]:
    """Record the command (its send leased), then send it; always returns the record (202).

    `device` comes from `existing(…, OPERATOR)`: the caller's right to command it is checked.
    """
    if device.get("state") == "DELETED":
        raise errors.FailedPrecondition("the device is deleted")
    now = utcnow()
    command = {"id": new_id(), "deviceId": device["id"], "deviceName": device["name"],
               "space": device.get("space"), "type": body["type"], "params": body["params"],
               "state": "PENDING", "createTime": now, "updateTime": now,
               "expireTime": now + COMMAND_LIFETIME, "requestedBy": principal,
               "sendAttempts": 0, "leaseUntil": now + send_lease()}
    if body.get("reason"):
        command["reason"] = body["reason"]
    version = commands.create(command["id"], {k: v for k, v in command.items() if k != "id"})
    logs.log(logging.INFO, "command recorded", commandId=command["id"], type=command["type"],
             device=device["name"], reason=body.get("reason"), principal=principal)
    return represent(_send(command, version))


def _without_secrets(command: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` plus the removal of secret parameters, once AMAPI has them or it is over."""
    if changes.get("state", "PENDING") == "PENDING":
        return changes
    for secret, fact in SECRET_PARAMS.items():
        if secret in (command.get("params") or {}):
            changes[f"params.{secret}"] = commands.DELETE
            changes[f"params.{fact}"] = True
    return changes


def _applied(command: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The command as it reads after `changes` (dotted keys, DELETE markers) were written."""
    result = {**command, "params": dict(command.get("params") or {})}
    for key, value in changes.items():
        target, _, leaf = key.rpartition(".")
        holder = result["params"] if target == "params" else result
        if value is commands.DELETE:
            holder.pop(leaf, None)
        else:
            holder[leaf] = value
    return result


def _record(command: dict[str, Any], changes: dict[str, Any], version: Any) -> dict[str, Any]:
    """Write what a send decided, guarded by the lease's version; what is stored otherwise."""
    changes = _without_secrets(command, {**changes, "leaseUntil": commands.DELETE,
                                         "updateTime": utcnow()})
    if commands.write(command["id"], changes, version) is None:
        # The lease was taken over (this send outlived it): the stored command is the truth.
        logs.log(logging.WARNING, "command changed while being sent", commandId=command["id"])
        return commands.get(command["id"]) or command
    return _applied(command, changes)


def _send(command: dict[str, Any], version: Any) -> dict[str, Any]:
    """Send one PENDING command whose lease this caller holds; returns it as it now stands."""
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
                command["deviceName"],
                amapi_command(command["type"], command["params"], command["id"]))
            changes.update(_accepted(operation))
    except (AmapiQuotaExhausted, AmapiUnavailable) as exc:
        if not exc.never_executed and command["type"] not in NOT_AMAPI_COMMANDS:
            changes["maybeSent"] = True
        logs.log(logging.WARNING, "command stays pending", commandId=command["id"],
                 cause=type(exc).__name__, status=exc.status,
                 maybeSent=bool(changes.get("maybeSent")))
    except AmapiNotFound:
        changes.update(state="FAILED", error={"status": AmapiNotFound.status,
                                              "message": "the device no longer exists in AMAPI"})
    except AmapiError as exc:
        changes.update(state="FAILED", error={"status": exc.status, "message": exc.message})
    return _with_early_result(_record(command, changes, version))


def _accepted(operation: dict[str, Any]) -> dict[str, Any]:
    """SENT with AMAPI's operation, or its outcome when it is already known."""
    changes: dict[str, Any] = {"state": "SENT", "operationName": operation["name"],
                               "maybeSent": commands.DELETE}
    if operation.get("done"):
        changes.update(command_outcome(operation))
    return changes


def _with_early_result(command: dict[str, Any]) -> dict[str, Any]:
    """Apply an outcome whose notification came before the operation name was recorded.

    Read after that write: a notification handled later finds the command by its operation.
    """
    if command.get("state") != "SENT":
        return command
    early = commands.early_result(command["operationName"])
    if not early:
        return command
    changes: dict[str, Any] = {k: early[k] for k in ("state", "error", "result") if k in early}
    changes["updateTime"] = utcnow()
    if commands.change_unless_settled(command["id"], changes):
        return _applied(command, changes)
    return commands.get(command["id"]) or command


def _find_operation(command: dict[str, Any]) -> dict[str, Any] | None:
    """The AMAPI operation an earlier send of this command created, if AMAPI has one."""
    wanted = _tag(command["id"])
    token: str | None = None
    for _ in range(MAX_OPERATION_PAGES):
        operations, token = amapi().list_operations(command["deviceName"], 100, token)
        for operation in operations:
            metadata = operation.get("metadata") or {}
            if metadata.get("type") == command["type"] and \
                    _nanos(metadata.get("duration")) == wanted:
                return operation
        if not token:
            break
    return None


def _take_over(command: dict[str, Any], version: Any) -> dict[str, Any]:
    """Re-send a command whose earlier send may have reached AMAPI, unless AMAPI has it."""
    try:
        operation = _find_operation(command)
    except AmapiNotFound:
        operation = None  # the device is gone: the send below fails the command
    except (AmapiQuotaExhausted, AmapiUnavailable):
        # Without AMAPI's answer a re-send could be a second one: try again next run.
        return _record(command, {}, version)
    if operation is None:
        return _send(command, version)
    logs.log(logging.INFO, "command found in AMAPI, not re-sent", commandId=command["id"],
             operationName=operation["name"])
    return _with_early_result(_record(command, _accepted(operation), version))


def _sync(command: dict[str, Any]) -> dict[str, Any]:
    """Re-read the device into the inventory; re-push its policy when it is behind."""
    current = amapi().get_device(command["deviceName"])
    stored = devices.get(command["deviceName"]) or {}
    if projection.is_newer(projection.report_time(current), stored.get("reportTime")):
        devices.put(command["deviceName"], projection.project(current))
    result: dict[str, Any] = {"appliedPolicyVersion": current.get("appliedPolicyVersion")}
    key = str(stored.get("effectivePolicy") or "")
    repushed = key and policy_push.repush_if_behind(
        key, str(stored.get("space") or "global"), current.get("appliedPolicyVersion"))
    if repushed:
        result["repushedPolicyVersion"] = repushed
    return {"state": "SUCCEEDED", "result": result}


def get_command(device_id: str, command_id: str) -> dict[str, Any]:
    """One command of a device."""
    existing(device_id)
    command = commands.get(command_id)
    if command is None or command.get("deviceId") != device_id:
        raise errors.NotFound(f"no command {command_id!r} for device {device_id!r}")
    return represent(command)


def history(device_id: str, size: int, token: str | None) -> dict[str, Any]:
    """A device's commands, newest first."""
    existing(device_id)
    return paginate("commands", f"commands|newest-first|device={device_id}", size, token,
                    lambda limit, after: commands.for_device(device_id, limit, after),
                    lambda command: command["id"], represent)


def reconcile(now: datetime.datetime, settle_after: datetime.timedelta) -> dict[str, int]:
    """Re-send PENDING commands nobody is sending, settle SENT ones no notification settled,
    expire the stale; what AMAPI throttles or cannot answer now is `deferred` to the next run.

    AMAPI is called in background mode: a throttled call is not retried, and once throttled
    the run makes no further AMAPI call, so a quota shortage never holds the run.
    """
    sent = settled = expired = deferred = 0
    with amapi_background() as background, budget.lane(budget.BACKGROUND):
        for stored in commands.in_state("PENDING", now, 100):
            command = {"id": stored.id, **stored.data}
            lease = command.get("leaseUntil")
            if _expired(command, now):
                if commands.write(command["id"], _without_secrets(
                        command, {"state": "EXPIRED", "updateTime": now,
                                  "leaseUntil": commands.DELETE}), stored.update_time):
                    expired += 1
                continue
            if lease and lease > now:
                continue  # a send is in progress
            version = commands.write(command["id"], {"leaseUntil": now + send_lease()},
                                     stored.update_time)
            if version is None:
                continue  # another run or the request path got there first
            if lease or command.get("maybeSent"):
                result = _take_over(command, version)
            else:
                result = _send(command, version)
            if result["state"] != "PENDING":
                sent += 1
            else:
                deferred += 1
        for stored in commands.in_state("SENT", now - settle_after, 100):
            command = {"id": stored.id, **stored.data}
            try:
                operation = amapi().get_operation(command["operationName"])
            except AmapiNotFound:
                operation = {}
            except (AmapiQuotaExhausted, AmapiUnavailable):
                deferred += 1
                continue
            if operation.get("done"):
                if commands.write(command["id"],
                                  {**command_outcome(operation), "updateTime": now},
                                  stored.update_time):
                    settled += 1
            elif _expired(command, now) and commands.write(
                    command["id"], {"state": "EXPIRED", "updateTime": now}, stored.update_time):
                expired += 1
    logs.log(logging.INFO, "reconcile_commands run", sent=sent, settled=settled,
             expired=expired, deferred=deferred, throttled=background.throttled)
    return {"sent": sent, "settled": settled, "expired": expired, "deferred": deferred}


def _expired(command: dict[str, Any], now: datetime.datetime) -> bool:
    expire = command.get("expireTime")
    if isinstance(expire, str):
        expire = parse_rfc3339(expire)
    return bool(expire and expire <= now)
