"""The front door of AMAPI notifications: decode, keep malformed ones, deduplicate, log."""

from __future__ import annotations

import logging
from typing import Any

from shared import logs
from shared.clock import utcnow
from shared.pubsub_messages import NOTIFICATION_TYPES, Notification, decode, resource_name
from shared.store import notification_receipts


def receive(event_data: Any, source: str = "") -> Notification | None:
    """Take one Pub/Sub message; return it when it is new and well-formed, else None.

    Malformed messages are acknowledged (never retried forever) and kept with the reason.
    Storage failures propagate so that Pub/Sub redelivers.
    """
    now = utcnow()
    notification = decode(event_data)
    if notification.problem:
        notification_receipts.record_malformed(notification.message_id, {
            "reason": notification.problem, "notificationType": notification.notification_type,
            "source": source, "data": notification.raw_data[:10000]}, now)
        logs.log(logging.WARNING, "malformed notification acknowledged",
                 messageId=notification.message_id, reason=notification.problem)
        return None
    if notification.notification_type not in NOTIFICATION_TYPES:
        logs.log(logging.WARNING, "unknown notification type acknowledged",
                 messageId=notification.message_id,
                 notificationType=notification.notification_type)
    fresh = notification_receipts.record_receipt(notification.message_id, {
        "notificationType": notification.notification_type,
        "resource": resource_name(notification),
        "publishTime": notification.publish_time,
        "source": source,
    }, now)
    logs.log(logging.INFO, "notification received" if fresh else "duplicate notification ignored",
             messageId=notification.message_id,
             notificationType=notification.notification_type,
             resource=resource_name(notification))
    return notification if fresh else None


def keep_unparseable(body: bytes) -> None:
    """Acknowledge and keep a delivery that is neither a CloudEvent nor a Pub/Sub push."""
    notification_receipts.record_malformed("", {
        "reason": "request is neither a CloudEvent nor a Pub/Sub push message",
        "data": body[:10000].decode("utf-8", "replace")}, utcnow())
    logs.log(logging.WARNING, "unparseable notification delivery acknowledged",
             size=len(body))
