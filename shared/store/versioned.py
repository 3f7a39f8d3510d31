"""A document read together with its version, for writes guarded by that version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Re-exported: callers that read a Stored value catch it from here.
from shared.store.errors import ChangedConcurrently as ChangedConcurrently
from shared.store.errors import translate_module


@dataclass(frozen=True)
class Stored:
    """A stored resource and the update time it was read at."""

    id: str
    data: dict[str, Any]
    update_time: Any = None


def from_snapshot(snapshot: Any) -> Stored:
    """A Firestore snapshot as a Stored value."""
    return Stored(snapshot.id, snapshot.to_dict() or {}, snapshot.update_time)


def read(collection: str, document_id: str) -> Stored | None:
    """One document with the version it was read at, for a guarded update or delete."""
    from shared.store.client import bounded, db

    snapshot = db().collection(collection).document(document_id).get(**bounded())
    return from_snapshot(snapshot) if snapshot.exists else None


def update(collection: str, stored: Stored, changes: dict[str, Any]) -> None:
    """Apply `changes` (None deletes a field) unless the document changed since it was read."""
    from google.api_core import exceptions
    from google.cloud.firestore import DELETE_FIELD

    from shared.store.client import bounded, db

    option = db().write_option(last_update_time=stored.update_time)
    written = {k: DELETE_FIELD if v is None else v for k, v in changes.items()}
    try:
        db().collection(collection).document(stored.id).update(written, option=option,
                                                               **bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted) as exc:
        raise ChangedConcurrently(stored.id) from exc


def delete(collection: str, stored: Stored) -> None:
    """Delete the document unless it changed since it was read."""
    from google.api_core import exceptions

    from shared.store.client import bounded, db

    option = db().write_option(last_update_time=stored.update_time)
    try:
        db().collection(collection).document(stored.id).delete(option=option, **bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted) as exc:
        raise ChangedConcurrently(stored.id) from exc


translate_module(__name__)
