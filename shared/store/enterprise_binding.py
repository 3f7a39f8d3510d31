"""Collections `enterpriseBinding` (the one bound enterprise) and `enterpriseSignups`; and how
many inventory devices an enterprise still manages, which decides whether it may be replaced."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key

BINDING = "enterpriseBinding"
SIGNUPS = "enterpriseSignups"
CURRENT = "current"
DEVICES = "devices"  # the inventory (shared/store/devices.py), counted here
_NAME_END = "\uf8ff"


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


def managed_devices(enterprise: str) -> int:
    """Inventory devices of `enterprise` that are not DELETED (index: devices state, name).

    Two count aggregations over the enterprise's name range, so the cost does not grow with
    the fleet.
    """
    from google.cloud.firestore import FieldFilter

    prefix = f"{enterprise}/devices/"
    in_enterprise = (db().collection(DEVICES)
                     .where(filter=FieldFilter("name", ">=", prefix))
                     .where(filter=FieldFilter("name", "<", prefix + _NAME_END)))
    deleted = in_enterprise.where(filter=FieldFilter("state", "==", "DELETED"))
    return _count(in_enterprise) - _count(deleted)


def _count(query: Any) -> int:
    results = query.count().get(**bounded())
    return int(results[0][0].value)


translate_module(__name__)
