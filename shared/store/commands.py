"""Collection `commands`: every device command, written before AMAPI is called.

`operationResults` (written by the notifications function) holds outcomes that arrived before
the command recorded its operation name.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.keys import natural_key

COLLECTION = "commands"
OPERATION_RESULTS = "operationResults"
FINAL_STATES = ("SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED")


def create(command_id: str, record: dict[str, Any]) -> None:
    """Store a new command (PENDING)."""
    db().collection(COLLECTION).document(command_id).create(record, **bounded())


def get(command_id: str) -> dict[str, Any] | None:
    """One command, or None."""
    snapshot = db().collection(COLLECTION).document(command_id).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def update(command_id: str, changes: dict[str, Any]) -> None:
    """Change a command unless it is already settled (a late write never reopens it)."""
    from google.cloud import firestore

    ref = db().collection(COLLECTION).document(command_id)

    @firestore.transactional
    def run(transaction: Any) -> None:
        current = ref.get(transaction=transaction)
        if current.exists and (current.to_dict() or {}).get("state") not in FINAL_STATES:
            transaction.update(ref, changes)

    run(db().transaction())


def early_result(operation_name: str) -> dict[str, Any] | None:
    """An outcome the notifications function kept for this operation, if any."""
    snapshot = db().collection(OPERATION_RESULTS).document(
        natural_key(operation_name)).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def for_device(device_id: str, limit: int, after: str | None) -> list[dict[str, Any]]:
    """A device's commands by id (ids sort by creation time)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("deviceId", "==", device_id))
             .order_by("__name__").limit(limit))
    if after:
        query = query.start_after({"__name__": db().collection(COLLECTION).document(after)})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def in_state(state: str, created_before: datetime.datetime, limit: int) -> list[dict[str, Any]]:
    """Commands in `state` created before a moment (index: state, createTime)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("state", "==", state))
             .where(filter=FieldFilter("createTime", "<", created_before))
             .order_by("createTime").limit(limit))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]
