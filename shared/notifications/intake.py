"""The front door of AMAPI notifications: decode, keep malformed ones, deduplicate, log."""

from __future__ import annotations

import logging
from typing import Any

from shared import logs
from shared.amapi.errors import AmapiError, AmapiQuotaExhausted, AmapiUnavailable
from shared.clock import utcnow
from shared.config import settings
from shared.notifications import handlers
from shared.notifications.messages import NOTIFICATION_TYPES, Notification, decode, shape_problem
from shared.store import notification_receipts
from shared.store.errors import StoreContention, StoreRefused, StoreUnavailable

# Eventarc and Pub/Sub pushes (through functions-framework) name the topic this way.
PUBSUB_SOURCE_PREFIX = "//pubsub.googleapis.com/"
# What a payload that can never apply raises while being applied (a field of the wrong type,
# a value Firestore will not store); anything else is an outage and must be redelivered.
_PAYLOAD_FAULTS = (KeyError, TypeError, AttributeError, ValueError, RecursionError,
                   StoreRefused)


def from_configured_topic(source: str) -> bool:
    """True when a CloudEvent source names exactly the configured AMAPI topic."""
    expected = settings().pubsub_topic
    if not source:
        return False
    if not expected:
        return True
    return source in (PUBSUB_SOURCE_PREFIX + expected, expected)


def receive(event_data: Any, source: str = "") -> Notification | None:
    """Take one Pub/Sub message; return it when it was new and applied, else None.

    Malformed messages, and messages whose effect AMAPI or Firestore refuses for good, are
    acknowledged (never retried forever) and kept with the reason and their data. Contention
    and outages (storage or AMAPI) propagate so that Pub/Sub redelivers.
    """
    notification = decode(event_data)
    if not from_configured_topic(source):
        # Only the configured topic speaks for AMAPI: anything else is acknowledged, unread.
        logs.log(logging.WARNING, "message from an unexpected topic ignored",
                 source=source[:notification_receipts.MAX_KEPT_FIELD],
                 messageId=notification.message_id[:notification_receipts.MAX_KEPT_FIELD])
        return None
    problem = notification.problem or shape_problem(notification)
    if problem:
        _keep(notification, problem, source)
        return None
    if notification.notification_type not in NOTIFICATION_TYPES:
        logs.log(logging.WARNING, "unknown notification type acknowledged",
                 messageId=notification.message_id,
                 notificationType=notification.notification_type[:100])
    try:
        fresh = handlers.handle(notification, source)
    except (AmapiQuotaExhausted, AmapiUnavailable, StoreUnavailable, StoreContention):
        raise
    except AmapiError as exc:
        _keep(notification, f"AMAPI refused the effect: {exc}", source)
        return None
    except _PAYLOAD_FAULTS as exc:
        logs.logger.error("notification payload could not be applied", exc_info=exc)
        _keep(notification, f"payload could not be applied: {exc!r}", source)
        return None
    return notification if fresh else None


def _keep(notification: Notification, problem: str, source: str) -> None:
    notification_receipts.record_malformed(notification.message_id, {
        "reason": problem, "notificationType": notification.notification_type,
        "source": source, "data": notification.raw_data,
        "dataSize": len(notification.raw_data)}, utcnow())
    logs.log(logging.WARNING, "notification kept for inspection and acknowledged",
             messageId=notification.message_id[:notification_receipts.MAX_KEPT_FIELD],
             reason=problem[:notification_receipts.MAX_KEPT_FIELD])


def keep_unparseable(body: bytes, reason: str = "") -> None:
    """Acknowledge and keep a delivery that is neither a CloudEvent nor a Pub/Sub push."""
    notification_receipts.record_malformed("", {
        "reason": reason or "request is neither a CloudEvent nor a Pub/Sub push message",
        "data": body[:notification_receipts.MAX_KEPT_DATA].decode("utf-8", "replace"),
        "dataSize": len(body)}, utcnow())
    logs.log(logging.WARNING, "unparseable notification delivery acknowledged",
             size=len(body))
