"""Collection `deviceAttributes`: custom device attribute definitions, unique per space."""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.keys import natural_key

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


def page(space: str, limit: int, after: str | None) -> list[dict[str, Any]]:
    """Definitions of a space ordered by name, starting after the nameKey `after`."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("space", "==", space))
             .order_by("nameKey").limit(limit))
    if after is not None:
        query = query.start_after({"nameKey": after})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]
