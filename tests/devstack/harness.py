"""Driving the AMAPI emulator in tests: a recording publisher, a control API client, checks."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.amapi_emulator import validate

ENTERPRISE = "enterprises/LC00local"
TOPIC_PREFIX = "projects/amapi-cosu-local/topics/"
TOPIC = TOPIC_PREFIX + "amapi-events"
PAYLOAD_SCHEMAS = {"ENROLLMENT": "Device", "STATUS_REPORT": "Device", "COMMAND": "Operation"}


@dataclass(frozen=True)
class Message:
    """One published notification as the publisher received it."""

    topic: str
    data: bytes
    attributes: dict[str, str]

    @property
    def type(self) -> str:
        """The notificationType attribute."""
        return self.attributes["notificationType"]

    @property
    def payload(self) -> dict[str, Any]:
        """`data` decoded the way a subscriber does it: base64 round trip, then JSON."""
        result: dict[str, Any] = json.loads(base64.b64decode(base64.b64encode(self.data)))
        return result


class Recorder:
    """A publisher that keeps every message, for assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    def __call__(self, topic: str, data: bytes, attributes: dict[str, str]) -> None:
        with self._lock:
            self._messages.append(Message(topic, data, dict(attributes)))

    def messages(self, notification_type: str | None = None) -> list[Message]:
        """Messages so far, optionally of one type."""
        with self._lock:
            return [m for m in self._messages
                    if notification_type is None or m.type == notification_type]

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._messages.clear()

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 3.0) -> Message:
        """The first message matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages():
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching notification; got {[m.type for m in self.messages()]}")
            time.sleep(0.01)


def schema_problems(message: Message) -> list[str]:
    """Discovery-schema problems of a notification payload (Operation metadata as Command)."""
    schema = PAYLOAD_SCHEMAS.get(message.type)
    if schema is None:
        return [f"unexpected notification type {message.type}"]
    payload = message.payload
    problems = validate(schema, payload)
    if message.type == "COMMAND":
        metadata = dict(payload.get("metadata") or {})
        if metadata.pop("@type", None) != ("type.googleapis.com/"
                                           "google.android.devicemanagement.v1.Command"):
            problems.append("Operation metadata lacks the Command @type")
        problems += validate("Command", metadata, root="operation.metadata")
    return problems


def http_json(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of one plain HTTP call, for what the Google client refuses to send."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@dataclass(frozen=True)
class ControlClient:
    """Calls the emulator's control API."""

    base_url: str

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) of `method /emulator/v1/<path>`."""
        return http_json(method, f"{self.base_url}/emulator/v1/{path}", body)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The JSON body of a call that must succeed."""
        status, payload = self.call(method, path, body)
        assert status == 200, payload
        return payload

    def enroll(self, token: str, serial: str = "SER-0001", **fields: Any) -> dict[str, Any]:
        """Enroll a device with `token` (value or name); it must succeed."""
        body = {"enrollmentToken": token,
                "hardwareInfo": {"serialNumber": serial, "manufacturer": "samsung",
                                 "brand": "samsung", "model": "SM-X200"},
                "apiLevel": 34,
                "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-09-01"},
                **fields}
        return self.ok("POST", "enroll", body)
