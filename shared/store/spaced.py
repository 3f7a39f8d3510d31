"""Reads that every collection partitioned by `space` shares."""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module


def by_id(collection: str, document_id: str) -> dict[str, Any] | None:
    """One document with its id, or None."""
    snapshot = db().collection(collection).document(document_id).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def in_spaces(collection: str, spaces: list[str] | None) -> Any:
    """The collection narrowed to `spaces` (None: every space; at most 30, Firestore's `in`)."""
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(collection)
    if spaces is not None:
        query = query.where(filter=FieldFilter("space", "in", spaces or ["-"]))
    return query


translate_module(__name__)
