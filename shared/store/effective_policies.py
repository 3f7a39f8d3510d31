"""Collection `effectivePolicies`: one document per group of devices sharing one AMAPI policy.

The document keeps the group's policy name (stable), the inputs it compiles from (their ids, so
that a change to one input finds its groups by an array-contains query, and `choiceKey`, so that
a device finds the group of its inputs), and the fingerprint of what was last pushed, so that an
unchanged compilation costs no AMAPI call.
"""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module

COLLECTION = "effectivePolicies"


def get_many(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Several effective policies by key, in one round trip."""
    if not keys:
        return {}
    refs = [db().collection(COLLECTION).document(k) for k in sorted(set(keys))]
    return {s.id: s.to_dict() or {} for s in db().get_all(refs, **bounded()) if s.exists}


def using(input_id: str) -> dict[str, dict[str, Any]]:
    """Effective policies compiled from `input_id` (e.g. `cosu:<id>`, `app:<pkg>`)."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(COLLECTION).where(
        filter=FieldFilter("inputIds", "array_contains", input_id))
    return {s.id: s.to_dict() or {} for s in query.stream(**bounded())}


def spaces_using(input_id: str) -> dict[str, str]:
    """`{group key: space}` of the effective policies compiled from `input_id` (keys only)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION)
             .where(filter=FieldFilter("inputIds", "array_contains", input_id))
             .select(["space"]))
    return {s.id: str((s.to_dict() or {}).get("space") or "") for s in query.stream(**bounded())}


def in_space(space: str) -> dict[str, dict[str, Any]]:
    """Every group of a space (a handful to a few hundred, whatever the number of devices)."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(COLLECTION).where(filter=FieldFilter("space", "==", space))
    return {s.id: s.to_dict() or {} for s in query.stream(**bounded())}


def with_choice(space: str, choice_key: str) -> dict[str, dict[str, Any]]:
    """The groups of a space that compile from the inputs `choice_key`."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("space", "==", space))
             .where(filter=FieldFilter("choiceKey", "==", choice_key)))
    return {s.id: s.to_dict() or {} for s in query.stream(**bounded())}


def stage_rekey_marks(batch: Any, marks: dict[str, dict[str, Any]]) -> None:
    """Add to a write batch: these groups are about to be re-keyed by a rollout
    (`rekeyTo: {key, rollout}`), so no device joins or stays in them meanwhile on their old
    inputs."""
    for group, mark in marks.items():
        batch.set(db().collection(COLLECTION).document(group), {"rekeyTo": mark}, merge=True)


def put_rekey_marks(marks: dict[str, dict[str, Any]]) -> None:
    """`stage_rekey_marks`, written at once."""
    if marks:
        batch = db().batch()
        stage_rekey_marks(batch, marks)
        batch.commit(**bounded())


def put_many(policies: dict[str, dict[str, Any]]) -> None:
    """Store effective policies (inputs, AMAPI name, fingerprint, version)."""
    items = list(policies.items())
    for start in range(0, len(items), 500):
        batch = db().batch()
        for key, data in items[start:start + 500]:
            batch.set(db().collection(COLLECTION).document(key), data)
        batch.commit(**bounded())


def delete_many(keys: list[str]) -> None:
    """Forget groups whose policies were deleted."""
    for start in range(0, len(keys), 500):
        batch = db().batch()
        for key in keys[start:start + 500]:
            batch.delete(db().collection(COLLECTION).document(key))
        batch.commit(**bounded())


translate_module(__name__)
