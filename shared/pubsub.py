"""The one door to Pub/Sub: publish over its REST API, decode what a push delivers.

Production talks to pubsub.googleapis.com with Application Default Credentials, built on the
first publish (nothing at import); `PUBSUB_EMULATOR_HOST` sends plain HTTP to the emulator,
which needs no credentials. Failures leave here as `errors.Unavailable` (503).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import errors, logs
from shared.config import settings
from shared.retry import RetryPolicy

SCOPE = "https://www.googleapis.com/auth/pubsub"
GOOGLE_ENDPOINT = "https://pubsub.googleapis.com"
# Eventarc and Pub/Sub pushes (through functions-framework) name the topic this way.
SOURCE_PREFIX = "//pubsub.googleapis.com/"
_TOPIC = re.compile(r"projects/[^/]+/topics/[^/]+")
# (connect, read): a publish is a small request; a stalled one is retried, not waited on.
TIMEOUT_SECONDS = (3.05, 10.0)
RETRY_BUDGET_SECONDS = 8.0
RETRY_BASE_SECONDS = 0.2
RETRY_MAX_SECONDS = 2.0


class MalformedMessage(ValueError):
    """A delivered message whose data can never be read: acknowledge it, never redeliver."""


@dataclass(frozen=True)
class Message:
    """One delivered Pub/Sub message with its data decoded as a JSON object."""

    message_id: str
    payload: dict[str, Any]
    attributes: dict[str, str]


_per_thread = threading.local()


def _session() -> Any:
    # requests sessions are not documented thread-safe: one per thread, like the AMAPI door.
    session = getattr(_per_thread, "session", None)
    if session is None:
        if settings().pubsub_emulator_host:
            import requests

            session = requests.Session()
        else:
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=[SCOPE])
            session = AuthorizedSession(credentials)
        _per_thread.session = session
    return session


def _endpoint() -> str:
    host = settings().pubsub_emulator_host
    return f"http://{host}" if host else GOOGLE_ENDPOINT


def publish(topic: str, payload: dict[str, Any], attributes: dict[str, str] | None = None,
            *, sleep: Callable[[float], None] = time.sleep) -> str:
    """Publish `payload` as JSON to `topic` (`projects/P/topics/T`); returns the message id."""
    if not _TOPIC.fullmatch(topic or ""):
        raise errors.Unavailable(f"Pub/Sub topic is not configured: {topic!r} is not "
                                 "projects/PROJECT/topics/TOPIC")
    data = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    message: dict[str, Any] = {"data": data}
    if attributes:
        message["attributes"] = dict(attributes)
    body = {"messages": [message]}
    url = f"{_endpoint()}/v1/{topic}:publish"
    schedule = RetryPolicy(RETRY_BUDGET_SECONDS, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS).delays()
    while True:
        status, answer, failure = _attempt(url, body)
        if failure is None:
            ids = answer.get("messageIds") if isinstance(answer, dict) else None
            if isinstance(ids, list) and ids and isinstance(ids[0], str):
                return ids[0]
            raise errors.Unavailable(f"Pub/Sub answered a publish to {topic} without an id")
        # 429, 5xx and unreachable are transient; any other refusal (unknown topic, missing
        # permission) will be the same on the next attempt. A retried publish may deliver
        # twice: subscribers are redelivery-safe anyway, as Pub/Sub delivers at least once.
        if status and status != 429 and status < 500:
            raise errors.Unavailable(f"Pub/Sub refused a publish to {topic}: {failure}")
        delay = schedule.next_delay()
        if delay is None:
            raise errors.Unavailable(f"Pub/Sub did not take a publish to {topic}: {failure}")
        logs.log(logging.WARNING, "Pub/Sub publish failed, retrying",
                 pubsub={"topic": topic, "status": status, "attempt": schedule.attempt,
                         "delaySeconds": round(delay, 3)})
        sleep(delay)


def _attempt(url: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
    """One POST: (HTTP status or 0 when unreachable, JSON answer, failure or None)."""
    import requests
    from google.auth import exceptions as auth_exceptions

    try:
        response = _session().post(url, json=body, timeout=TIMEOUT_SECONDS)
    except (requests.RequestException, auth_exceptions.TransportError,
            auth_exceptions.RefreshError) as exc:
        return 0, None, f"unreachable: {exc!r}"
    if response.status_code != 200:
        return response.status_code, None, f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        return 200, response.json(), None
    except ValueError:
        return 200, None, "HTTP 200 with a body that is not JSON"


def from_topic(source: str, topic: str) -> bool:
    """True when a CloudEvent `source` names exactly `topic` (any source when no topic is set)."""
    if not topic:
        return True
    return source in (SOURCE_PREFIX + topic, topic)


def decode(event_data: Any) -> Message:
    """Decode `{"message": {data (base64 JSON object), attributes, messageId}}` of a push."""
    message = event_data.get("message") if isinstance(event_data, dict) else None
    if not isinstance(message, dict):
        raise MalformedMessage("event has no message object")
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    attributes = message.get("attributes")
    if not isinstance(attributes, dict):
        attributes = {}
    raw = message.get("data")
    if not isinstance(raw, str) or not raw:
        raise MalformedMessage("message has no data")
    try:
        payload = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"data is not base64-encoded JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedMessage("data is JSON nested too deeply to decode") from exc
    if not isinstance(payload, dict):
        raise MalformedMessage("data is not a JSON object")
    return Message(message_id, payload, {str(k): str(v) for k, v in attributes.items()})
