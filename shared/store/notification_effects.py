"""The effect of one notification and its receipt, in one Firestore transaction.

Pub/Sub delivers at least once; the receipt (`notificationReceipts/<messageId>`) is written in
the same commit as the effect, so a redelivered message finds its receipt and changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.store import app_feedback, devices, enrollment_profiles, notification_receipts
from shared.store.client import db
from shared.store.keys import natural_key

OPERATION_RESULTS = "operationResults"
COMMANDS = "commands"


@dataclass
class DeviceWrite:
    """What one device notification changes."""

    device: dict[str, Any] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    count_in_profile: str | None = None


def seen(message_id: str) -> bool:
    """True when this message already had its effect."""
    return notification_receipts.get_receipt(message_id) is not None


def _receipt(transaction: Any, message_id: str, fields: dict[str, Any],
             now: datetime.datetime) -> None:
    ref = db().collection(notification_receipts.RECEIPTS).document(message_id)
    transaction.create(ref, {**fields, "receiveTime": now,
                             "expireTime": now + notification_receipts.RETENTION})


def apply_device(message_id: str, receipt: dict[str, Any], device_name: str, profile_id: str,
                 build: Callable[[dict[str, Any] | None, bool], DeviceWrite],
                 now: datetime.datetime) -> bool:
    """Apply `build(stored device, profile exists)` with the receipt; False for a duplicate."""
    from google.cloud import firestore

    client = db()
    receipt_ref = client.collection(notification_receipts.RECEIPTS).document(message_id)
    device_ref = client.collection(devices.COLLECTION).document(devices.device_id(device_name))
    profile_ref = (client.collection(enrollment_profiles.COLLECTION).document(profile_id)
                   if profile_id else None)

    @firestore.transactional
    def run(transaction: Any) -> bool:
        refs = [receipt_ref, device_ref] + ([profile_ref] if profile_ref else [])
        snapshots = {s.reference.path: s for s in transaction.get_all(refs)}
        if snapshots[receipt_ref.path].exists:
            return False
        stored = snapshots[device_ref.path]
        profile_exists = bool(profile_ref and snapshots[profile_ref.path].exists)
        write = build(stored.to_dict() if stored.exists else None, profile_exists)
        transaction.set(device_ref, write.device, merge=True)
        for state in write.feedback:
            ref = client.collection(app_feedback.COLLECTION).document(app_feedback.state_id(
                state["deviceId"], state["packageName"], state["key"]))
            transaction.set(ref, state)
        if write.count_in_profile and profile_ref is not None and profile_exists:
            transaction.update(profile_ref, {"enrolledDevices": firestore.Increment(1)})
        _receipt(transaction, message_id, receipt, now)
        return True

    result: bool = run(client.transaction())
    return result


def apply_operation(message_id: str, receipt: dict[str, Any], operation_name: str,
                    outcome: dict[str, Any], now: datetime.datetime) -> bool:
    """Settle the command of `operation_name`, or keep the outcome until it is recorded."""
    from google.cloud import firestore
    from google.cloud.firestore import FieldFilter

    client = db()
    receipt_ref = client.collection(notification_receipts.RECEIPTS).document(message_id)
    result_ref = client.collection(OPERATION_RESULTS).document(natural_key(operation_name))
    query = client.collection(COMMANDS).where(
        filter=FieldFilter("operationName", "==", operation_name)).limit(1)

    @firestore.transactional
    def run(transaction: Any) -> bool:
        if receipt_ref.get(transaction=transaction).exists:
            return False
        commands = list(transaction.get(query))
        # The outcome is kept either way: the command side reads it when it records the
        # operation name after this notification (the race AMAPI's speed makes possible).
        transaction.set(result_ref, {"operationName": operation_name, **outcome,
                                     "receiveTime": now})
        if commands and commands[0].to_dict().get("state") not in (
                "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"):
            transaction.update(commands[0].reference, {**outcome, "updateTime": now})
        _receipt(transaction, message_id, receipt, now)
        return True

    result: bool = run(client.transaction())
    return result


def apply_usage_logs(message_id: str, receipt: dict[str, Any], device_name: str,
                     merge: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                     now: datetime.datetime) -> bool:
    """Merge usage-log events into the device's bounded list, with the receipt."""
    from google.cloud import firestore

    client = db()
    receipt_ref = client.collection(notification_receipts.RECEIPTS).document(message_id)
    device_ref = client.collection(devices.COLLECTION).document(devices.device_id(device_name))

    @firestore.transactional
    def run(transaction: Any) -> bool:
        snapshots = {s.reference.path: s
                     for s in transaction.get_all([receipt_ref, device_ref])}
        if snapshots[receipt_ref.path].exists:
            return False
        stored = snapshots[device_ref.path].to_dict() or {}
        transaction.set(device_ref, {"usageEvents": merge(stored.get("usageEvents") or [])},
                        merge=True)
        _receipt(transaction, message_id, receipt, now)
        return True

    result: bool = run(client.transaction())
    return result
