"""Collection `deviceAttributes`: custom device attribute definitions, unique per space."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store import devices, enrollment_profiles, spaced
from shared.store import versioned as stored_versions
from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key
from shared.store.versioned import Stored

COLLECTION = "deviceAttributes"


def attribute_id(space: str, name: str) -> str:
    """The document id of a definition: unique per space, case-insensitively."""
    return natural_key(space, name.lower())


def create(space: str, fields: dict[str, Any], now: datetime.datetime) -> dict[str, Any] | None:
    """Store a new definition; None when the name is taken in that space."""
    from google.api_core import exceptions

    document = {**fields, "space": space, "nameKey": fields["name"].lower(),
                "createTime": now, "updateTime": now}
    ref = db().collection(COLLECTION).document(attribute_id(space, fields["name"]))
    try:
        ref.create(document, **bounded())
    except exceptions.AlreadyExists:
        return None
    return {"id": ref.id, **document}


def find(spaces: list[str], names: list[str]) -> dict[str, dict[str, Any]]:
    """Definitions for `names` visible from `spaces`, keyed by lower-cased name (one read)."""
    refs = [db().collection(COLLECTION).document(attribute_id(space, name))
            for name in names for space in spaces]
    found: dict[str, dict[str, Any]] = {}
    for snapshot in db().get_all(refs, **bounded()):
        if snapshot.exists:
            data = snapshot.to_dict() or {}
            found.setdefault(data["nameKey"], data)
    return found


def by_id(document_id: str) -> dict[str, Any] | None:
    """One definition by document id, or None."""
    return spaced.by_id(COLLECTION, document_id)


def required_in(spaces: list[str]) -> list[dict[str, Any]]:
    """The required definitions of `spaces`."""
    from google.cloud.firestore import FieldFilter

    query = (_in_spaces(spaces).where(filter=FieldFilter("required", "==", True))
             .limit(200))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def versioned(document_id: str) -> Stored | None:
    """One definition with the version it was read at, for a guarded update or delete."""
    return stored_versions.read(COLLECTION, document_id)


def update(attribute: Stored, changes: dict[str, Any]) -> None:
    """Apply `changes` (None deletes a field) unless the definition changed since it was read."""
    stored_versions.update(COLLECTION, attribute, changes)


def delete(attribute: Stored) -> None:
    """Delete the definition unless it changed since it was read."""
    stored_versions.delete(COLLECTION, attribute)


def carriers(spaces: list[str] | None, every_profile: bool = False,
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`{id, name, space, customAttributes}` of the enrollment profiles, and of the devices not
    deleted, of `spaces` (None: every space) that carry custom attribute values (every profile
    with `every_profile`).

    Values live in lists of `{name, value}` that Firestore cannot filter by name, so this reads
    the projection of each profile and device of those spaces: an administrator's rare
    question, answered in one pass.
    """
    from google.cloud.firestore import FieldFilter

    found: list[list[dict[str, Any]]] = []
    for collection in (enrollment_profiles.COLLECTION, devices.COLLECTION):
        query: Any = db().collection(collection)
        if spaces is not None:
            query = query.where(filter=FieldFilter("space", "in", spaces or ["-"]))
        query = query.select(["name", "space", "customAttributes", "state"])
        keep_empty = every_profile and collection == enrollment_profiles.COLLECTION
        found.append([{"id": s.id, **data} for s in query.stream(**bounded())
                      if ((data := s.to_dict() or {}).get("customAttributes") or keep_empty)
                      and data.get("state") != "DELETED"])
    return found[0], found[1]


def _in_spaces(spaces: list[str] | None) -> Any:
    return spaced.in_spaces(COLLECTION, spaces)


def named(spaces: list[str] | None, name: str, limit: int) -> list[dict[str, Any]]:
    """Definitions called `name` (case-insensitive) in any of `spaces`."""
    from google.cloud.firestore import FieldFilter

    query = _in_spaces(spaces).where(filter=FieldFilter("nameKey", "==", name.lower()))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.limit(limit).stream(**bounded())]


def page(spaces: list[str] | None, limit: int,
         after: tuple[str, str] | None) -> list[dict[str, Any]]:
    """Definitions of `spaces` ordered by name then id, starting after `(nameKey, id)`."""
    query = _in_spaces(spaces).order_by("nameKey").order_by("__name__").limit(limit)
    if after is not None:
        query = query.start_after({"nameKey": after[0],
                                   "__name__": db().collection(COLLECTION).document(after[1])})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


translate_module(__name__)
