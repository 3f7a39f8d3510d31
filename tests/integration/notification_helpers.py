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
    response = app.test_client().post("/projects/p/topics/amapi-events",
                                      json=push_envelope(kind, payload, message_id))
    return int(response.status_code)
