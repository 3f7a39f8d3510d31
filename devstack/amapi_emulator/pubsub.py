"""Publishing notifications to the Pub/Sub emulator over its REST API (stdlib only)."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from typing import Protocol


class Publisher(Protocol):
    """Where the emulator sends notifications: `publisher(topic, data, attributes)`."""

    def __call__(self, topic: str, data: bytes, attributes: dict[str, str]) -> None:
        """Publish one message; `data` is raw bytes (base64 is the publisher's business)."""


class PubSubEmulatorPublisher:
    """Publishes to `http://{host}/v1/{topic}:publish`; failures are logged, never raised."""

    def __init__(self, host: str, timeout: float = 5.0) -> None:
        self.host = host
        self.timeout = timeout

    def __call__(self, topic: str, data: bytes, attributes: dict[str, str]) -> None:
        """Publish one message to `topic` (`projects/P/topics/T`)."""
        self.publish_many(topic, [(data, attributes)])

    def publish_many(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> None:
        """Publish `(data, attributes)` messages to `topic` in one request, in order."""
        body = {"messages": [{"data": base64.b64encode(data).decode("ascii"),
                              "attributes": attributes} for data, attributes in messages]}
        request = urllib.request.Request(
            f"http://{self.host}/v1/{topic}:publish",
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # The emulator keeps serving AMAPI even when nobody listens for notifications.
            print(f"amapi-emulator: publishing to {topic} via {self.host} failed: {exc}",
                  file=sys.stderr)


class NullPublisher:
    """Drops every message (no Pub/Sub emulator configured)."""

    def __call__(self, topic: str, data: bytes, attributes: dict[str, str]) -> None:
        """Discard the message."""
