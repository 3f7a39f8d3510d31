"""Collection `amapiBudget`: one document per budget slice, counting the AMAPI calls taken.

Every function instance of the project takes its AMAPI calls here, in small batches, so that
together they stay under AMAPI's per-project quota. A document counts the calls taken per lane
(`interactive`, `background`) in one slice of time; `expireTime` lets a TTL policy reap it once
the slice is long past. How many calls a taker gets is decided by the caller's `grant` from
the counts it read; the write is guarded by the document's update time, so no call is counted
twice nor granted beyond what the counts allowed.
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import StoreContention, translate_module

COLLECTION = "amapiBudget"
# Every taker of a slice writes its one document: a taker that loses the race tries again.
ATTEMPTS = 20


def slice_id(slice_seconds: float, number: int) -> str:
    """The document id of slice `number` (its length is part of it: mixed settings never mix)."""
    return f"{round(slice_seconds * 1000)}ms-{number}"


def take(slice_seconds: float, number: int, lane: str,
         grant: Callable[[Mapping[str, int]], int], expire_time: datetime.datetime) -> int:
    """Count `grant(counts)` more calls of `lane` in slice `number`; returns that number."""
    from google.api_core import exceptions

    client = db()
    ref = client.collection(COLLECTION).document(slice_id(slice_seconds, number))
    for attempt in range(ATTEMPTS):
        snapshot = ref.get(**bounded())
        counts = _counts(snapshot)
        granted = grant(counts)
        if granted <= 0:
            return 0
        data: dict[str, Any] = {lane: counts.get(lane, 0) + granted, "expireTime": expire_time}
        try:
            # A read and a write guarded by the update time, rather than a transaction: takers
            # that lose the race read again at once instead of queueing on a document lock.
            if snapshot.exists:
                ref.update(data, option=client.write_option(
                    last_update_time=snapshot.update_time), **bounded())
            else:
                ref.create(data, **bounded())
            return granted
        except (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.Aborted,
                exceptions.Conflict):
            time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
    raise StoreContention(f"slice {number} of the AMAPI budget stayed contended")


def _counts(snapshot: Any) -> dict[str, int]:
    data = (snapshot.to_dict() or {}) if snapshot.exists else {}
    return {key: value for key, value in data.items()
            if isinstance(value, int) and not isinstance(value, bool)}


def counts(slice_seconds: float, number: int) -> dict[str, int]:
    """The calls taken per lane in slice `number` (empty when none was)."""
    return _counts(db().collection(COLLECTION).document(
        slice_id(slice_seconds, number)).get(**bounded()))


translate_module(__name__)
