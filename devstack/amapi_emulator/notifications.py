"""AMAPI Pub/Sub notifications: which ones an enterprise gets and how they are sent."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from devstack.amapi_emulator.pubsub import Publisher

ALWAYS_SENT = frozenset({"ENTERPRISE_UPGRADE"})
# Pub/Sub's publish limits are 1,000 messages and 10 MB per request (base64 adds a third).
PUBLISH_MAX_MESSAGES = 1000
PUBLISH_MAX_BYTES = 6_000_000


@dataclass(frozen=True)
class Notification:
    """One message ready to publish: the payload is serialised when the event happens."""

    topic: str
    notification_type: str
    data: bytes

    @property
    def attributes(self) -> dict[str, str]:
        """The message attributes, exactly as AMAPI sets them."""
        return {"notificationType": self.notification_type}


def notification_for(enterprise: dict[str, Any] | None, notification_type: str,
                     payload: dict[str, Any]) -> Notification | None:
    """The message `enterprise` should receive for this event, or None if it opted out."""
    if not enterprise or not enterprise.get("pubsubTopic"):
        return None
    enabled = enterprise.get("enabledNotificationTypes") or []
    if notification_type not in enabled and notification_type not in ALWAYS_SENT:
        return None
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Notification(enterprise["pubsubTopic"], notification_type, data)


class Notifier:
    """Hands notifications to the publisher, outside any lock, never raising."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def send(self, notifications: Iterable[Notification],
             still_wanted: Callable[[], bool] = lambda: True) -> None:
        """Publish each notification in order, unless the emulator was reset meanwhile."""
        publish_many = getattr(self.publisher, "publish_many", None)
        for chunk in _chunks(notifications) if publish_many else ([n] for n in notifications):
            if not still_wanted():
                return
            try:
                if publish_many:
                    # A bulk enrollment's thousand messages in one request, not a thousand.
                    publish_many(chunk[0].topic, [(n.data, n.attributes) for n in chunk])
                else:
                    self.publisher(chunk[0].topic, chunk[0].data, chunk[0].attributes)
            except Exception:  # a broken publisher must not fail the AMAPI call
                traceback.print_exc(file=sys.stderr)


def _chunks(notifications: Iterable[Notification]) -> Iterator[list[Notification]]:
    """Consecutive notifications to one topic, within one Pub/Sub publish request's limits."""
    chunk: list[Notification] = []
    size = 0
    for notification in notifications:
        if chunk and (notification.topic != chunk[0].topic or len(chunk) >= PUBLISH_MAX_MESSAGES
                      or size + len(notification.data) > PUBLISH_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(notification)
        size += len(notification.data)
    if chunk:
        yield chunk
