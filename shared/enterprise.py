"""The AMAPI enterprise the suite manages: bound once through Google's signup, then used by
every function. `AMAPI_ENTERPRISE` is the fallback until a binding exists (first boot, and the
local stack's pre-made enterprise)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.access.spaces import GLOBAL
from shared.amapi.client import amapi
from shared.clock import rfc3339, utcnow
from shared.config import settings
from shared.store import enterprise_binding

NOTIFICATION_TYPES = ["ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS"]
CACHE_SECONDS = 60.0

_lock = threading.Lock()
_cached: tuple[float, str] | None = None


def enterprise_name() -> str:
    """`enterprises/…` of the bound enterprise (cached a minute per instance), or the fallback."""
    global _cached
    now = time.monotonic()
    with _lock:
        if _cached is not None and now - _cached[0] < CACHE_SECONDS:
            return _cached[1]
    bound = enterprise_binding.get()
    name = str(bound["name"]) if bound else settings().enterprise
    with _lock:
        _cached = (now, name)
    return name


def forget_cached() -> None:
    """Drop the cached name (after a binding, and in tests)."""
    global _cached
    with _lock:
        _cached = None


def _refuse_splitting_the_fleet() -> None:
    """409 while devices are managed in the enterprise in use: a new one would split the fleet.

    A signup always creates a new enterprise (AMAPI `enterprises.create`), and a device cannot
    move between enterprises without a factory reset: configuration edits would go to the new
    enterprise while the devices stay on the old one's policies.
    """
    current = enterprise_name()
    if not current:
        return
    managed = enterprise_binding.managed_devices(current)
    if managed:
        raise errors.AlreadyExists(
            f"{managed} device(s) are managed in enterprise {current}: devices cannot move "
            "between enterprises without a wipe, so binding another enterprise would leave "
            "them on the old one's policies. Wipe or delete them first (or keep using "
            f"{current})")


def start_signup(callback_url: str, admin_email: str | None) -> dict[str, Any]:
    """A Google signup URL for the administrator to bind a managed Google Play enterprise."""
    roles.require(GLOBAL, roles.ADMIN)
    if enterprise_binding.get():
        raise errors.AlreadyExists("an enterprise is already bound to this suite")
    _refuse_splitting_the_fleet()
    created = amapi().create_signup_url(settings().project, callback_url, admin_email)
    enterprise_binding.remember_signup(created["name"], {"callbackUrl": callback_url},
                                       utcnow())
    return {"name": created["name"], "signupUrl": created["url"]}


def complete_signup(signup_name: str, enterprise_token: str,
                    display_name: str | None) -> dict[str, Any]:
    """Create the enterprise from a finished signup, wired to the configured topic."""
    roles.require(GLOBAL, roles.ADMIN)
    if enterprise_binding.get():
        raise errors.AlreadyExists("an enterprise is already bound to this suite")
    pending = enterprise_binding.signup(signup_name)
    if pending is None:
        raise errors.InvalidArgument.field("signupUrlName", "is not a signup this suite started")
    if pending.get("completeTime"):
        raise errors.FailedPrecondition("this signup was already completed")
    # Checked again: devices may have enrolled since the signup started.
    _refuse_splitting_the_fleet()
    body: dict[str, Any] = {"pubsubTopic": settings().pubsub_topic,
                            "enabledNotificationTypes": NOTIFICATION_TYPES}
    if display_name:
        body["enterpriseDisplayName"] = display_name
    created = amapi().create_enterprise(settings().project, signup_name, enterprise_token, body)
    now = utcnow()
    record = {"name": created["name"],
              "displayName": created.get("enterpriseDisplayName", display_name or ""),
              "pubsubTopic": created.get("pubsubTopic", body["pubsubTopic"]),
              "enabledNotificationTypes": created.get("enabledNotificationTypes",
                                                      NOTIFICATION_TYPES),
              "bindTime": now, "signupUrlName": signup_name}
    enterprise_binding.mark_completed(signup_name, now)
    if not enterprise_binding.bind(record):
        raise errors.AlreadyExists("an enterprise was bound concurrently")
    forget_cached()
    logs.log(logging.INFO, "enterprise bound", enterprise=record["name"])
    return represent(record)


def represent(record: dict[str, Any]) -> dict[str, Any]:
    """`{name, displayName, amapiEnabled, pubsubTopic, enabledNotificationTypes}`."""
    body = {key: record.get(key) for key in ("name", "displayName", "pubsubTopic",
                                             "enabledNotificationTypes")}
    body["amapiEnabled"] = bool(record.get("name"))
    if record.get("bindTime"):
        body["bindTime"] = rfc3339(record["bindTime"])
    return body


def current() -> dict[str, Any]:
    """The bound enterprise as AMAPI sees it, or the configured fallback."""
    roles.require(GLOBAL, roles.VIEWER)
    bound = enterprise_binding.get()
    name = str(bound["name"]) if bound else settings().enterprise
    if not name:
        return represent({})
    remote = amapi().get_enterprise(name)
    return represent({"name": name,
                      "displayName": remote.get("enterpriseDisplayName", ""),
                      "pubsubTopic": remote.get("pubsubTopic"),
                      "enabledNotificationTypes": remote.get("enabledNotificationTypes", []),
                      "bindTime": (bound or {}).get("bindTime")})


def rewire(changes: dict[str, Any]) -> dict[str, Any]:
    """Point the enterprise's notifications at another topic (or other types)."""
    roles.require(GLOBAL, roles.ADMIN)
    name = enterprise_name()
    mask = ",".join(sorted(changes))
    amapi().patch_enterprise(name, changes, mask)
    if enterprise_binding.get():
        enterprise_binding.update(changes)
    return current()
