"""Collection `deviceUsers`: the local directory of device users, one document per (space, name)."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.keys import natural_key

COLLECTION = "deviceUsers"
_PREFIX_END = "\uf8ff"


def user_id(space: str, user_name: str) -> str:
    """The document id of a user: unique per space, case-insensitively."""
    return natural_key(space, user_name.lower())


def create(space: str, fields: dict[str, Any], now: datetime.datetime) -> dict[str, Any] | None:
    """Store a new user; None when the userName is taken in that space."""
    from google.api_core import exceptions

    document = {**fields, "space": space, "userNameKey": fields["userName"].lower(),
                "displayNameKey": (fields.get("displayName") or "").lower(),
                "createTime": now, "updateTime": now}
    ref = db().collection(COLLECTION).document(user_id(space, fields["userName"]))
    try:
        ref.create(document, **bounded())
    except exceptions.AlreadyExists:
        return None
    return {"id": ref.id, **document}


def get(space: str, user_name: str) -> dict[str, Any] | None:
    """One user by name, or None."""
    snapshot = db().collection(COLLECTION).document(user_id(space, user_name)).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def search_prefix(space: str, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Users whose userName or displayName starts with `prefix` (lower-cased), by userName."""
    from google.cloud.firestore import FieldFilter

    found: dict[str, dict[str, Any]] = {}
    for key in ("userNameKey", "displayNameKey"):
        query = (db().collection(COLLECTION)
                 .where(filter=FieldFilter("space", "==", space))
                 .where(filter=FieldFilter(key, ">=", prefix))
                 .where(filter=FieldFilter(key, "<", prefix + _PREFIX_END))
                 .order_by(key).limit(limit))
        for snapshot in query.stream(**bounded()):
            found.setdefault(snapshot.id, {"id": snapshot.id, **(snapshot.to_dict() or {})})
    return sorted(found.values(), key=lambda user: user["userNameKey"])[:limit]


def page(space: str, limit: int, after: str | None) -> list[dict[str, Any]]:
    """Users of a space ordered by userName, starting after the userNameKey `after`."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("space", "==", space))
             .order_by("userNameKey").limit(limit))
    if after is not None:
        query = query.start_after({"userNameKey": after})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]
