"""Delivering AMAPI notifications to the notifications function as Pub/Sub pushes them."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

_ids = itertools.count(1)


def push_envelope(kind: str, payload: Any, message_id: str | None = None) -> dict[str, Any]:
    """The Pub/Sub push body of one AMAPI notification."""
    return {"message": {"attributes": {"notificationType": kind},
                        "data": base64.b64encode(json.dumps(payload).encode()).decode(),
                        "messageId": message_id or f"m{next(_ids)}",
                        "publishTime": "2026-11-21T10:00:00Z"},
            "subscription": "projects/p/subscriptions/amapi-push"}


def deliver(app: Any, kind: str, payload: Any, message_id: str | None = None) -> int:
    """Push one notification; returns the HTTP status the function answered."""
    from shared.config import settings

    response = app.test_client().post(f"/{settings().pubsub_topic}",
                                      json=push_envelope(kind, payload, message_id))
    return int(response.status_code)


class Relay:
    """Pub/Sub between the AMAPI emulator and the notifications function, stepped by hand.

    A pull subscription on the enterprise's topic receives exactly what the emulator
    publishes; `deliver_all` hands each message to the function as a push would.
    """

    def __init__(self, app: Any, pubsub_host: str, topic: str, name: str) -> None:
        from devstack import emulators

        self.app = app
        self.topic = topic
        self.pubsub_host = pubsub_host
        self.subscription = topic.replace("/topics/", "/subscriptions/") + f"-{name}"
        emulators.ensure_subscription(pubsub_host, self.subscription, topic)

    def deliver_all(self, settle: float = 0.3) -> list[str]:
        """Deliver everything published so far (after `settle` seconds); returns the types."""
        import time

        from devstack import emulators

        time.sleep(settle)
        kinds = []
        while messages := emulators.pull(self.pubsub_host, self.subscription):
            for message in messages:
                kind = message.get("attributes", {}).get("notificationType", "")
                envelope = {"message": message, "subscription": self.subscription}
                response = self.app.test_client().post(f"/{self.topic}", json=envelope)
                assert response.status_code in (200, 204), response.get_data(as_text=True)
                kinds.append(kind)
        return kinds
