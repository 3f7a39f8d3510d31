"""Collection `amapiBudget`: one document per budget slice, counting the AMAPI calls taken.

Every function instance of the project takes its AMAPI calls here, in small batches, so that
together they stay under AMAPI's per-project quota. A document counts the calls taken per lane
(`interactive`, `background`) in one slice of time; `expireTime` lets a TTL policy reap it once
the slice is long past. How many calls a taker gets is decided by the caller's `grant`, inside
the transaction, from the counts it read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module

COLLECTION = "amapiBudget"
# Every taker of a slice writes its one document: give contended takers more attempts than
# the client's default five before the transaction fails as StoreContention.
ATTEMPTS = 20


def slice_id(slice_seconds: float, number: int) -> str:
    """The document id of slice `number` (its length is part of it: mixed settings never mix)."""
    return f"{round(slice_seconds * 1000)}ms-{number}"


def take(slice_seconds: float, number: int, lane: str,
         grant: Callable[[Mapping[str, int]], int], expire_time: datetime.datetime) -> int:
    """Count `grant(counts)` more calls of `lane` in slice `number`; returns that number."""
    from google.cloud import firestore

    client = db()
    ref = client.collection(COLLECTION).document(slice_id(slice_seconds, number))

    @firestore.transactional
    def run(transaction: Any) -> int:
        snapshot = ref.get(transaction=transaction, **bounded())
        counts = {key: int(value) for key, value in (snapshot.to_dict() or {}).items()
                  if isinstance(value, int)} if snapshot.exists else {}
        granted = grant(counts)
        if granted > 0:
            transaction.set(ref, {lane: counts.get(lane, 0) + granted,
                                  "expireTime": expire_time}, merge=True)
        return granted

    result: int = run(client.transaction(max_attempts=ATTEMPTS))
    return result


def counts(slice_seconds: float, number: int) -> dict[str, int]:
    """The calls taken per lane in slice `number` (empty when none was)."""
    snapshot = db().collection(COLLECTION).document(
        slice_id(slice_seconds, number)).get(**bounded())
    data = snapshot.to_dict() or {} if snapshot.exists else {}
    return {key: int(value) for key, value in data.items() if isinstance(value, int)}


translate_module(__name__)
