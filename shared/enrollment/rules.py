"""Enrollment rules of a space: which devices may stay enrolled (enforced on notifications)."""

from __future__ import annotations

from typing import Any

from shared.access import roles
from shared.clock import rfc3339, utcnow
from shared.representation import check_if_match, etag_of
from shared.store import enrollment_rules as store

DEFAULT_RULES: dict[str, Any] = {
    "allowlist": {"enabled": False, "serialNumbers": [], "imeis": []},
    "manufacturers": [],
    "minAndroidVersion": None,
    "minSecurityPatchLevel": None,
    "action": "WIPE",
}


def represent(space: str, rules: dict[str, Any] | None) -> dict[str, Any]:
    """The API representation; a space without stored rules shows the defaults."""
    stored = rules or {}
    shown = {key: stored.get(key, default) for key, default in DEFAULT_RULES.items()}
    update_time = rfc3339(stored["updateTime"]) if "updateTime" in stored else None
    body = {"space": space, **shown, "etag": etag_of(space, update_time)}
    if update_time:
        body["updateTime"] = update_time
    return body


def get_rules(space: str) -> dict[str, Any]:
    """The rules of a space."""
    roles.require(space, roles.VIEWER)
    return represent(space, store.get(space))


def put_rules(body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
    """Replace the rules of `body["space"]`; 412 when `If-Match` is stale."""
    space = body.pop("space")
    roles.require(space, roles.ADMIN)
    body["allowlist"]["serialNumbers"] = sorted(set(body["allowlist"]["serialNumbers"]))
    body["allowlist"]["imeis"] = sorted(set(body["allowlist"]["imeis"]))

    def replace(current: dict[str, Any] | None) -> dict[str, Any]:
        check_if_match(if_match, represent(space, current)["etag"])
        return {**body, "updateTime": utcnow()}

    return represent(space, store.replace(space, replace))
