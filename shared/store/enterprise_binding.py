"""Collections `enterpriseBinding` (the one bound enterprise) and `enterpriseSignups`."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.keys import natural_key

BINDING = "enterpriseBinding"
SIGNUPS = "enterpriseSignups"
CURRENT = "current"


def get() -> dict[str, Any] | None:
    """The bound enterprise, or None before the first binding."""
    snapshot = db().collection(BINDING).document(CURRENT).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def bind(enterprise: dict[str, Any]) -> bool:
    """Record the binding unless one exists; False when another won the race."""
    from google.api_core import exceptions

    try:
        db().collection(BINDING).document(CURRENT).create(enterprise, **bounded())
    except exceptions.AlreadyExists:
        return False
    return True


def update(changes: dict[str, Any]) -> None:
    """Change the stored binding (after AMAPI accepted the change)."""
    db().collection(BINDING).document(CURRENT).update(changes, **bounded())


def remember_signup(signup_name: str, fields: dict[str, Any], now: datetime.datetime) -> None:
    """Keep a signup URL this suite created, so that only those can be completed."""
    db().collection(SIGNUPS).document(natural_key(signup_name)).set(
        {"signupUrlName": signup_name, **fields, "createTime": now}, **bounded())


def signup(signup_name: str) -> dict[str, Any] | None:
    """A signup this suite created, or None."""
    snapshot = db().collection(SIGNUPS).document(natural_key(signup_name)).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def mark_completed(signup_name: str, now: datetime.datetime) -> None:
    """A completed signup cannot be replayed."""
    db().collection(SIGNUPS).document(natural_key(signup_name)).update(
        {"completeTime": now}, **bounded())
