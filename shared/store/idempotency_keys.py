"""Collection `idempotencyKeys`: the first response of each `Idempotency-Key`, kept 24 hours.

Firestore's TTL policy on `expireTime` deletes old entries (see the README's deploy section).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from shared.store.client import bounded, db, transact
from shared.store.errors import translate_module

COLLECTION = "idempotencyKeys"
RETENTION = datetime.timedelta(hours=24)


@dataclass(frozen=True)
class StoredResponse:
    """What a key already produced, or that it is still being produced."""

    request_hash: str
    completed: bool
    status: int = 0
    body: Any = None
    headers: dict[str, str] | None = None


def claim(key_id: str, request_hash: str, now: datetime.datetime) -> StoredResponse | None:
    """Reserve `key_id` for this request; return the existing entry if someone holds it."""
    from google.api_core import exceptions
    from google.cloud import firestore

    ref = db().collection(COLLECTION).document(key_id)
    entry = {"requestHash": request_hash, "completed": False, "createTime": now,
             "expireTime": now + RETENTION}
    try:
        ref.create(entry, **bounded())
        return None
    except exceptions.AlreadyExists:
        pass

    @firestore.transactional
    def take_over_if_expired(transaction: Any) -> StoredResponse | None:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists or snapshot.get("expireTime") <= now:
            transaction.set(ref, entry)
            return None
        data = snapshot.to_dict() or {}
        return StoredResponse(request_hash=data["requestHash"], completed=data["completed"],
                              status=data.get("status", 0), body=data.get("body"),
                              headers=data.get("headers"))

    result: StoredResponse | None = transact(take_over_if_expired)
    return result


def complete(key_id: str, status: int, body: Any, headers: dict[str, str]) -> None:
    """Record the response the key's first request produced."""
    db().collection(COLLECTION).document(key_id).update(
        {"completed": True, "status": status, "body": body, "headers": headers}, **bounded())


def release(key_id: str) -> None:
    """Forget a key whose request failed, so the caller may retry with it."""
    db().collection(COLLECTION).document(key_id).delete(**bounded())


translate_module(__name__)
