"""Collection `enrollmentRules`: one document per space."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.store.client import bounded, db, transact
from shared.store.errors import translate_module

COLLECTION = "enrollmentRules"


def get(space: str) -> dict[str, Any] | None:
    """The stored rules of a space, or None."""
    snapshot = db().collection(COLLECTION).document(space).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def replace(space: str,
            build: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
    """Replace the rules with `build(current)` in one transaction (build may refuse by raising)."""
    from google.cloud import firestore

    ref = db().collection(COLLECTION).document(space)

    @firestore.transactional
    def run(transaction: Any) -> dict[str, Any]:
        snapshot = ref.get(transaction=transaction)
        rules = build(snapshot.to_dict() if snapshot.exists else None)
        transaction.set(ref, rules)
        return rules

    result: dict[str, Any] = transact(run)
    return result


translate_module(__name__)
