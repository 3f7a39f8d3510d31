"""AMAPI notifications as they arrive from Pub/Sub, decoded once into a plain value."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

NOTIFICATION_TYPES = frozenset(
    {"ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS", "ENTERPRISE_UPGRADE", "test"})
# A device id becomes a Firestore document id: no `/`, not `.` or `..`, not `__…__`, bounded.
_DEVICE_NAME = re.compile(
    r"enterprises/[^/]+/devices/(?!\.{1,2}$)(?!__.*__$)[A-Za-z0-9._~-]{1,256}")
MAX_RESOURCE_NAME = 1500
# Types AMAPI may add later are acknowledged as unknown; anything not shaped like one is kept.
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Notification:
    """One Pub/Sub message: its id, AMAPI type, and decoded JSON payload (or why it has none)."""

    message_id: str
    notification_type: str
    publish_time: str
    payload: dict[str, Any] | None
    problem: str | None = None
    raw_data: str = ""


def decode(event_data: Any) -> Notification:
    """Decode `{"message": {attributes, data (base64 JSON), messageId, publishTime}}`."""
    message = event_data.get("message") if isinstance(event_data, dict) else None
    if not isinstance(message, dict):
        return Notification("", "", "", None, "event has no message object", _text(event_data))
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    publish_time = str(message.get("publishTime") or message.get("publish_time") or "")
    attributes = message.get("attributes")
    if not isinstance(attributes, dict):
        attributes = {}
    notification_type = str(attributes.get("notificationType", ""))
    raw = message.get("data") or ""
    raw_data = raw if isinstance(raw, str) else ""

    def broken(problem: str) -> Notification:
        return Notification(message_id, notification_type, publish_time, None, problem,
                            raw_data)

    if not message_id:
        return broken("message has no messageId")
    if not notification_type:
        return broken("message has no notificationType attribute")
    if not _TYPE.fullmatch(notification_type):
        return broken("notificationType attribute is not a notification type name")
    if notification_type == "test":
        return Notification(message_id, notification_type, publish_time, None,
                            raw_data=raw_data)
    if not isinstance(raw, str) or not raw:
        return broken("message has no data")
    try:
        payload = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError) as exc:
        return broken(f"data is not base64-encoded JSON: {exc}")
    except RecursionError:
        return broken("data is JSON nested too deeply to decode")
    if not isinstance(payload, dict):
        return broken("data is not a JSON object")
    return Notification(message_id, notification_type, publish_time, payload, raw_data=raw_data)


def _text(value: Any) -> str:
    """Whatever arrived, as text to keep for inspection."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


def resource_name(notification: Notification) -> str:
    """The AMAPI resource a notification is about (device, operation or enterprise)."""
    payload = notification.payload or {}
    for key in ("name", "device", "enterprise"):
        value = payload.get(key)
        if isinstance(value, str):
            return value
    return ""


def shape_problem(notification: Notification) -> str | None:
    """Why a well-formed message still cannot be applied (missing resource names), or None."""
    payload = notification.payload or {}
    kind = notification.notification_type
    if kind in ("ENROLLMENT", "STATUS_REPORT"):
        if not _device_name(payload.get("name")):
            return "device notification without a valid device name"
    elif kind == "COMMAND":
        name = payload.get("name")
        if (not isinstance(name, str) or "/operations/" not in name
                or len(name) > MAX_RESOURCE_NAME):
            return "command notification without an operation name"
    elif kind == "USAGE_LOGS" and not _device_name(payload.get("device")):
        return "usage logs without a valid device name"
    return None


def _device_name(value: Any) -> bool:
    return isinstance(value, str) and _DEVICE_NAME.fullmatch(value) is not None
