"""Collection `deviceUsers`: the local directory of device users, one document per (space, name)."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store import devices, enrollment_profiles, spaced
from shared.store import versioned as stored_versions
from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key
from shared.store.versioned import Stored

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
    return by_id(user_id(space, user_name))


def by_id(document_id: str) -> dict[str, Any] | None:
    """One user by document id, or None."""
    return spaced.by_id(COLLECTION, document_id)


def versioned(document_id: str) -> Stored | None:
    """One user with the version it was read at, for a guarded update or delete."""
    return stored_versions.read(COLLECTION, document_id)


def update(user: Stored, changes: dict[str, Any]) -> None:
    """Apply `changes` (None deletes a field) unless the user changed since it was read."""
    stored_versions.update(COLLECTION, user, changes)


def delete(user: Stored) -> None:
    """Delete the user unless it changed since it was read."""
    stored_versions.delete(COLLECTION, user)


def profiles_naming(space: str, user_name: str) -> list[dict[str, Any]]:
    """`{id, name, userName}` of the enrollment profiles of `space` issued for `user_name`
    (case-insensitive: a profile keeps the spelling it was created with)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(enrollment_profiles.COLLECTION)
             .where(filter=FieldFilter("space", "==", space))
             .select(["name", "userName"]))
    wanted = user_name.lower()
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())
            if str((s.to_dict() or {}).get("userName") or "").lower() == wanted]


def devices_of(space: str, user_name: str) -> list[dict[str, Any]]:
    """`{id, name}` of the devices of `space`, not deleted, recorded with `user_name` in any
    spelling.

    A device keeps the spelling of the profile it enrolled with, after that profile is gone, and
    the inventory has no case-folded copy to filter on: this reads the projection of the
    space's devices, an administrator's rare question answered in one pass.
    """
    from google.cloud.firestore import FieldFilter

    query = (db().collection(devices.COLLECTION)
             .where(filter=FieldFilter("space", "==", space))
             .select(["name", "userName", "state"]))
    wanted = user_name.lower()
    return [{"id": s.id, **data} for s in query.stream(**bounded())
            if str((data := s.to_dict() or {}).get("userName") or "").lower() == wanted
            and data.get("state") != "DELETED"]


def _in_spaces(spaces: list[str] | None) -> Any:
    return spaced.in_spaces(COLLECTION, spaces)


def named(spaces: list[str] | None, user_name: str, limit: int) -> list[dict[str, Any]]:
    """Users called `user_name` (case-insensitive) in any of `spaces`."""
    from google.cloud.firestore import FieldFilter

    query = (_in_spaces(spaces).where(filter=FieldFilter("userNameKey", "==", user_name.lower()))
             .limit(limit))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def search_prefix(spaces: list[str] | None, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Users of `spaces` whose userName or displayName starts with `prefix` (lower-cased).

    By userName, then id (one name may exist in several spaces).
    """
    from google.cloud.firestore import FieldFilter

    found: dict[str, dict[str, Any]] = {}
    for key in ("userNameKey", "displayNameKey"):
        query = (_in_spaces(spaces)
                 .where(filter=FieldFilter(key, ">=", prefix))
                 .where(filter=FieldFilter(key, "<", prefix + _PREFIX_END))
                 .order_by(key).limit(limit))
        for snapshot in query.stream(**bounded()):
            found.setdefault(snapshot.id, {"id": snapshot.id, **(snapshot.to_dict() or {})})
    ordered = sorted(found.values(), key=lambda user: (user["userNameKey"], user["id"]))
    return ordered[:limit]


def page(spaces: list[str] | None, limit: int,
         after: tuple[str, str] | None) -> list[dict[str, Any]]:
    """Users of `spaces` ordered by userName then id, starting after `(userNameKey, id)`."""
    query = _in_spaces(spaces).order_by("userNameKey").order_by("__name__").limit(limit)
    if after is not None:
        query = query.start_after({"userNameKey": after[0],
                                   "__name__": db().collection(COLLECTION).document(after[1])})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


translate_module(__name__)
