"""Collection `pushLeases`: one document per space, held by the push that is changing it.

Pushes of one space are serialized by a lease rather than a process lock, because every
function instance pushes. A lease is taken with one read and one guarded batch (each document's
update time, or its absence), so two takers never both succeed; it expires on its own when its
holder crashed. The update time written is the holder's fencing token: renewal and release are
guarded by it, so a holder whose lease ran out and was taken over learns it instead of trampling
the new holder. `sequence` counts the pushes a space has seen.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module

COLLECTION = "pushLeases"


@dataclass
class Lease:
    """Leases held on some spaces, with the update times that prove they are still ours."""

    holder: str
    spaces: tuple[str, ...]
    versions: dict[str, Any] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)


def try_acquire(spaces: tuple[str, ...], holder: str, now: datetime.datetime,
                ttl: datetime.timedelta) -> Lease | None:
    """Take the leases of every space in `spaces` at once, or None when one is held."""
    from google.api_core import exceptions

    client = db()
    refs = {space: client.collection(COLLECTION).document(space) for space in spaces}
    snapshots = {s.id: s for s in client.get_all(list(refs.values()), **bounded())}
    batch = client.batch()
    sequences: dict[str, int] = {}
    for space, ref in refs.items():
        snapshot = snapshots.get(space)
        current = (snapshot.to_dict() or {}) if snapshot is not None and snapshot.exists else None
        if current and current.get("holder") and current.get("expireTime") and \
                current["expireTime"] > now:
            return None
        sequences[space] = int((current or {}).get("sequence") or 0) + 1
        data = {"holder": holder, "expireTime": now + ttl, "sequence": sequences[space],
                "acquireTime": now}
        if current is None:
            batch.create(ref, data)
        else:
            batch.update(ref, data, option=client.write_option(
                last_update_time=snapshots[space].update_time))
    try:
        results = batch.commit(**bounded())
    except (exceptions.AlreadyExists, exceptions.Conflict, exceptions.FailedPrecondition,
            exceptions.NotFound, exceptions.Aborted):
        return None  # another taker won the race
    return Lease(holder, spaces, {space: result.update_time
                                  for space, result in zip(refs, results, strict=True)},
                 sequences)


def renew(lease: Lease, now: datetime.datetime, ttl: datetime.timedelta) -> bool:
    """Extend a lease still held; False when it ran out and someone else took it."""
    return _guarded_write(lease, {"expireTime": now + ttl})


def release(lease: Lease, now: datetime.datetime) -> bool:
    """Give the leases back; False when one had already been taken over."""
    return _guarded_write(lease, {"holder": None, "expireTime": now, "releaseTime": now})


def _guarded_write(lease: Lease, changes: dict[str, Any]) -> bool:
    from google.api_core import exceptions

    client = db()
    batch = client.batch()
    for space in lease.spaces:
        batch.update(client.collection(COLLECTION).document(space), changes,
                     option=client.write_option(last_update_time=lease.versions[space]))
    try:
        results = batch.commit(**bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted,
            exceptions.Conflict):
        return False
    lease.versions = {space: result.update_time
                      for space, result in zip(lease.spaces, results, strict=True)}
    return True


translate_module(__name__)
