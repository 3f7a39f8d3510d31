"""What each AMAPI notification does to the inventory, enrollment gating, app feedback and
command results.

AMAPI actions (wiping a rejected device, moving a vetted one onto its policy) happen before the
Firestore commit and are idempotent, so a failure anywhere raises, Pub/Sub redelivers, and the
redelivery either finds the receipt (nothing to do) or redoes the same actions harmlessly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from shared import logs
from shared.access.spaces import GLOBAL
from shared.amapi.client import amapi
from shared.clock import utcnow
from shared.devices import projection
from shared.devices.command_outcomes import command_outcome
from shared.enrollment import gate
from shared.enterprise import enterprise_name
from shared.errors import InvalidArgument
from shared.notifications.messages import Notification, resource_name
from shared.policy import push as policy_push
from shared.store import devices, enrollment_rules, notification_effects, notification_receipts
from shared.store.notification_effects import DeviceWrite

MAX_USAGE_EVENTS = 100
MAX_RECEIPT_FIELD = 1500
_FINAL = (gate.ALLOWED, gate.REJECTED)


def _receipt(notification: Notification, source: str) -> dict[str, Any]:
    # Bounded: an unknown type or a foreign resource is stored as it came, whatever its size.
    return {"notificationType": notification.notification_type[:MAX_RECEIPT_FIELD],
            "resource": resource_name(notification)[:MAX_RECEIPT_FIELD],
            "publishTime": notification.publish_time[:MAX_RECEIPT_FIELD],
            "source": source[:MAX_RECEIPT_FIELD]}


def _ours(resource: str) -> bool:
    return resource.startswith(enterprise_name() + "/")


def handle(notification: Notification, source: str) -> bool:
    """Apply one decoded notification; False when it was a duplicate."""
    kind = notification.notification_type
    resource = resource_name(notification)
    if kind in ("ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS") and not _ours(resource):
        logs.log(logging.WARNING, "notification for another enterprise acknowledged",
                 messageId=notification.message_id, resource=resource)
        kind = "foreign"
    receipt = _receipt(notification, source)
    now = utcnow()
    if kind in ("ENROLLMENT", "STATUS_REPORT"):
        return handle_device(notification, receipt)
    if kind == "COMMAND":
        return handle_operation(notification, receipt)
    if kind == "USAGE_LOGS":
        return handle_usage_logs(notification, receipt)
    return notification_receipts.record_receipt(notification.message_id, receipt, now)


def _gate_view(device: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The payload completed with what an earlier notification already told us."""
    return {"hardwareInfo": device.get("hardwareInfo") or stored.get("hardware") or {},
            "softwareInfo": device.get("softwareInfo") or stored.get("software") or {},
            "networkInfo": device.get("networkInfo") or stored.get("network") or {},
            "apiLevel": device.get("apiLevel") or stored.get("apiLevel")}


def _enforce(name: str, action: str, decision: gate.Decision) -> None:
    if action == "DISABLE":
        amapi().patch_device(name, {"state": "DISABLED",
                                    "disabledReason": {"defaultMessage": decision.reason}},
                             "state,disabledReason")
    else:
        amapi().delete_device(name, ["WIPE_EXTERNAL_STORAGE"], decision.reason[:200])


def _carried_labels(device: dict[str, Any]) -> list[str]:
    labels: list[str] = []
    for previous in device.get("previousDeviceNames") or []:
        stored = devices.get(previous)
        for label in (stored or {}).get("labels") or []:
            if label not in labels:
                labels.append(label)
    return labels


def handle_device(notification: Notification, receipt: dict[str, Any]) -> bool:
    """ENROLLMENT and STATUS_REPORT: inventory, enrollment gating, app feedback."""
    name = str((notification.payload or {})["name"])
    remembered = notification_effects.remembered_device(name)
    if remembered is not None and _settled(remembered.data or {}):
        try:
            return _handle_device(notification, receipt, remembered)
        except notification_effects.StaleDevice:
            pass  # changed elsewhere since this instance wrote it: decide on what is stored
    return _handle_device(notification, receipt, notification_effects.read_device(name))


def _settled(stored: dict[str, Any]) -> bool:
    """True for a device past enrollment gating: its notifications trigger no AMAPI action."""
    return (stored.get("state") == "DELETED"
            or stored.get("enrollmentDecision", {}).get("result") in _FINAL)


def _handle_device(notification: Notification, receipt: dict[str, Any],
                   first_read: notification_effects.DeviceRead) -> bool:
    device = notification.payload or {}
    name = str(device["name"])
    stored = first_read.data or {}
    data = projection.token_data(device)
    space = stored.get("space") or data.get("space") or GLOBAL
    deleted = projection.is_deleted(device) or stored.get("state") == "DELETED"
    undecided = stored.get("enrollmentDecision", {}).get("result") not in _FINAL
    # Only a device still to be vetted triggers AMAPI actions; skip them for a redelivery.
    # (Every other effect is deduplicated by the commit below.)
    if not deleted and undecided and notification_effects.seen(notification.message_id):
        return False
    labels = _carried_labels(device) if "labels" not in stored else []
    # A status report of a known device that triggers no AMAPI action is ordered by its report
    # time: applied twice, or after a newer one, it changes nothing, so it needs no receipt.
    # Enrollments keep theirs (they gate and count devices).
    idempotent = (notification.notification_type == "STATUS_REPORT"
                  and first_read.data is not None and (deleted or not undecided))
    with contextlib.ExitStack() as lease:
        decided = (_vet(name, device, stored, data, space, lease)
                   if not deleted and undecided else {})
        build = _device_write(name, device, data, space, labels, deleted, decided)
        # After AMAPI actions the device may have changed (its DELETED report): read it again.
        applied = notification_effects.apply_device(
            notification.message_id, None if idempotent else receipt, name, build, utcnow(),
            None if decided else first_read)
    # DEBUG: one line per status report, at fleet scale, costs more than the report's own work
    # and tells an operator nothing a warning or the device itself does not.
    logs.log(logging.DEBUG, "device notification applied" if applied
             else "duplicate or outdated notification ignored",
             messageId=notification.message_id, device=name,
             notificationType=notification.notification_type)
    return applied


def _vet(name: str, device: dict[str, Any], stored: dict[str, Any], data: dict[str, Any],
         space: str, lease: contextlib.ExitStack) -> dict[str, Any]:
    """Gate a new device; wipe or disable a rejected one, move an allowed one to its policy.

    An allowed device's move holds the space's push lease in `lease` until the caller has
    recorded it: a push of the space that starts meanwhile would plan without this device and
    leave it where it is.
    """
    rules = enrollment_rules.get(space) or {}
    decision = gate.evaluate(rules, _gate_view(device, stored))
    decided: dict[str, Any] = {"enrollmentDecision": {**decision.to_json(),
                                                      "decideTime": utcnow()}}
    if decision.result == gate.REJECTED:
        _enforce(name, rules.get("action", "WIPE"), decision)
        logs.log(logging.WARNING, "device rejected at enrollment", device=name,
                 rule=decision.rule, reason=decision.reason)
    elif decision.result == gate.ALLOWED:
        view = {"id": devices.device_id(name), "name": name,
                "userName": stored.get("userName") or data.get("userName"),
                "labels": stored.get("labels") or _carried_labels(device),
                "policyName": device.get("policyName")}
        try:
            lease.enter_context(policy_push.serialized([space]))
            decided.update(policy_push.assign_device(view, space))
        except InvalidArgument as exc:
            # A configuration that cannot compile is fixed by an administrator, not by
            # redelivery: the device stays on its locked-down holding policy meanwhile.
            logs.log(logging.ERROR, "effective policy does not compile", device=name,
                     reason=exc.message)
    return decided


def _device_write(name: str, device: dict[str, Any], data: dict[str, Any], space: str,
                  labels: list[str], deleted: bool,
                  decided: dict[str, Any]) -> Callable[[dict[str, Any] | None], DeviceWrite]:
    """What the notification writes, given the device as stored when the write is attempted."""

    def build(current: dict[str, Any] | None) -> DeviceWrite:
        current = current or {}
        # The space as stored at write time: a device handed to another space since the first
        # read stays there (this write retries on a fresh read when the device changed).
        own_space = current.get("space") or space
        fields: dict[str, Any] = {"name": name, "space": own_space}
        if "labels" not in current:
            fields["labels"] = labels
        if projection.is_newer(projection.report_time(device), current.get("reportTime")):
            fields.update(projection.project(device))
        write = DeviceWrite(device=fields)
        if data.get("profileId") and not current.get("profileId"):
            fields.update({"profileId": data["profileId"], "userName": data.get("userName"),
                           "customAttributes": [{"name": k, "value": v}
                                                for k, v in (data.get("attrs") or {}).items()]})
        if data.get("profileId") and not current.get("countedInProfile"):
            fields["countedInProfile"] = True
            write.count_in_profile = str(data["profileId"])
            write.enrollment_token = device.get("enrollmentTokenName")
        if device.get("previousDeviceNames"):
            fields["previousDeviceNames"] = device["previousDeviceNames"]
        if deleted or current.get("state") == "DELETED":
            fields.update({"state": "DELETED", "appliedState": "DELETED"})
        if decided and current.get("enrollmentDecision", {}).get("result") not in _FINAL:
            fields.update(decided)
        if "apps" in fields:
            write.feedback = [{**state, "deviceId": devices.device_id(name), "space": own_space}
                              for state in projection.keyed_app_states(device)]
        return write

    return build


def handle_operation(notification: Notification, receipt: dict[str, Any]) -> bool:
    """COMMAND: settle the command of this operation (or keep the outcome for it)."""
    operation = notification.payload or {}
    if not operation.get("done"):
        return notification_receipts.record_receipt(notification.message_id, receipt, utcnow())
    return notification_effects.apply_operation(
        notification.message_id, receipt, str(operation["name"]), command_outcome(operation),
        utcnow())


def merge_usage_events(stored: list[dict[str, Any]],
                       incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union by event id, newest MAX_USAGE_EVENTS kept (order of delivery does not matter)."""
    by_id = {str(e.get("eventId")): e for e in stored}
    for event in incoming:
        if isinstance(event, dict) and event.get("eventId") is not None:
            by_id[str(event["eventId"])] = {k: event[k] for k in ("eventId", "eventTime",
                                                                  "eventType") if k in event}
    ordered = sorted(by_id.values(), key=lambda e: (str(e.get("eventTime", "")),
                                                    str(e.get("eventId"))))
    return ordered[-MAX_USAGE_EVENTS:]


def handle_usage_logs(notification: Notification, receipt: dict[str, Any]) -> bool:
    """USAGE_LOGS: keep the device's latest events, bounded."""
    batch = notification.payload or {}
    incoming = batch.get("usageLogEvents") or []
    return notification_effects.apply_usage_logs(
        notification.message_id, receipt, str(batch["device"]),
        lambda stored: merge_usage_events(stored, incoming), utcnow())
