"""Collection `commands`: every device command, written before AMAPI is called.

Every change after creation is a single write guarded by the update time it was decided on
(no read-then-write transactions): under many concurrent clients a transaction's read locks
were what made requests queue and notifications abort. `operationResults` (written by the
notifications function) holds outcomes that arrived before the command recorded its operation
name.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key
from shared.store.versioned import Stored, from_snapshot

COLLECTION = "commands"
OPERATION_RESULTS = "operationResults"
FINAL_STATES = ("SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED")
DELETE = object()  # a value in `changes` that removes the field


def _fields(changes: dict[str, Any]) -> dict[str, Any]:
    from google.cloud import firestore

    return {key: firestore.DELETE_FIELD if value is DELETE else value
            for key, value in changes.items()}


def create(command_id: str, record: dict[str, Any]) -> Any:
    """Store a new command; returns its version (update time)."""
    result = db().collection(COLLECTION).document(command_id).create(record, **bounded())
    return result.update_time


def get(command_id: str) -> dict[str, Any] | None:
    """One command, or None."""
    snapshot = db().collection(COLLECTION).document(command_id).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def get_versioned(command_id: str) -> Stored | None:
    """One command with its version, or None."""
    snapshot = db().collection(COLLECTION).document(command_id).get(**bounded())
    return from_snapshot(snapshot) if snapshot.exists else None


def write(command_id: str, changes: dict[str, Any], version: Any) -> Any | None:
    """Apply `changes` if the command is still at `version`; its new version, else None.

    Dotted keys change nested fields (`params.newPassword`); `DELETE` removes a field.
    """
    from google.api_core import exceptions

    client = db()
    try:
        result = client.collection(COLLECTION).document(command_id).update(
            _fields(changes), option=client.write_option(last_update_time=version), **bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return None
    return result.update_time


def change_unless_settled(command_id: str, changes: dict[str, Any], attempts: int = 5) -> bool:
    """Change a command unless it is settled (a late write never reopens it); False if it was."""
    for _ in range(attempts):
        current = get_versioned(command_id)
        if current is None or current.data.get("state") in FINAL_STATES:
            return False
        if write(command_id, changes, current.update_time) is not None:
            return True
    return False


def early_result(operation_name: str) -> dict[str, Any] | None:
    """An outcome the notifications function kept for this operation, if any."""
    snapshot = db().collection(OPERATION_RESULTS).document(
        natural_key(operation_name)).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def for_device(device_id: str, limit: int, after: str | None) -> list[dict[str, Any]]:
    """A device's commands, newest first, starting after id `after` (ids sort by creation
    time; index: deviceId, __name__ descending)."""
    from google.cloud.firestore import FieldFilter, Query

    query = (db().collection(COLLECTION).where(filter=FieldFilter("deviceId", "==", device_id))
             .order_by("__name__", direction=Query.DESCENDING).limit(limit))
    if after:
        query = query.start_after({"__name__": db().collection(COLLECTION).document(after)})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def in_state(state: str, created_before: datetime.datetime, limit: int) -> list[Stored]:
    """Commands in `state` created before a moment, with versions (index: state, createTime)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("state", "==", state))
             .where(filter=FieldFilter("createTime", "<", created_before))
             .order_by("createTime").limit(limit))
    return [from_snapshot(s) for s in query.stream(**bounded())]


translate_module(__name__)
