"""The front door of AMAPI notifications: decode, keep malformed ones, deduplicate, log."""

from __future__ import annotations

import logging
from typing import Any

from shared import logs, notification_handlers
from shared.amapi.errors import AmapiError, AmapiQuotaExhausted, AmapiUnavailable
from shared.clock import utcnow
from shared.config import settings
from shared.pubsub_messages import NOTIFICATION_TYPES, Notification, decode, shape_problem
from shared.store import notification_receipts


def receive(event_data: Any, source: str = "") -> Notification | None:
    """Take one Pub/Sub message; return it when it was new and applied, else None.

    Malformed messages, and messages whose effect AMAPI refuses for good, are acknowledged
    (never retried forever) and kept with the reason. Storage and AMAPI outages propagate so
    that Pub/Sub redelivers.
    """
    notification = decode(event_data)
    expected = settings().pubsub_topic
    if expected and source and not source.endswith(expected):
        # Only the configured topic speaks for AMAPI: anything else is acknowledged, unread.
        logs.log(logging.WARNING, "message from an unexpected topic ignored", source=source,
                 messageId=notification.message_id)
        return None
    problem = notification.problem or shape_problem(notification)
    if problem:
        _keep(notification, problem, source)
        return None
    if notification.notification_type not in NOTIFICATION_TYPES:
        logs.log(logging.WARNING, "unknown notification type acknowledged",
                 messageId=notification.message_id,
                 notificationType=notification.notification_type)
    try:
        fresh = notification_handlers.handle(notification, source)
    except (AmapiQuotaExhausted, AmapiUnavailable):
        raise
    except AmapiError as exc:
        _keep(notification, f"AMAPI refused the effect: {exc}", source)
        return None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        logs.logger.error("notification payload could not be applied", exc_info=exc)
        _keep(notification, f"payload could not be applied: {exc!r}", source)
        return None
    return notification if fresh else None


def _keep(notification: Notification, problem: str, source: str) -> None:
    notification_receipts.record_malformed(notification.message_id, {
        "reason": problem, "notificationType": notification.notification_type,
        "source": source, "data": notification.raw_data[:10000]}, utcnow())
    logs.log(logging.WARNING, "notification kept for inspection and acknowledged",
             messageId=notification.message_id, reason=problem)


def keep_unparseable(body: bytes) -> None:
    """Acknowledge and keep a delivery that is neither a CloudEvent nor a Pub/Sub push."""
    notification_receipts.record_malformed("", {
        "reason": "request is neither a CloudEvent nor a Pub/Sub push message",
        "data": body[:10000].decode("utf-8", "replace")}, utcnow())
    logs.log(logging.WARNING, "unparseable notification delivery acknowledged",
             size=len(body))
