"""Collections `enrollmentProfiles` and `enrollmentProfileNames` (the per-space name claims).

A profile and its name claim are written in one batch, so a name is unique per space even under
concurrent creates. Updates carry the read's update time as a precondition: a concurrent change
makes them fail instead of overwriting it.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db, transact
from shared.store.errors import ChangedConcurrently, translate_module
from shared.store.errors import NameTaken as NameTaken
from shared.store.keys import natural_key
from shared.store.versioned import Stored
from shared.store.versioned import from_snapshot as _snapshot

COLLECTION = "enrollmentProfiles"
NAMES = "enrollmentProfileNames"


def _claim(space: str, name: str) -> Any:
    return db().collection(NAMES).document(natural_key(space, name.lower()))


def name_taken(space: str, name: str) -> bool:
    """True when a profile of `space` already has `name` (case-insensitive)."""
    return bool(_claim(space, name).get(**bounded()).exists)


def create(profile_id: str, document: dict[str, Any]) -> None:
    """Store a new profile and claim its name, atomically; NameTaken if the name is claimed."""
    from google.api_core import exceptions

    batch = db().batch()
    batch.create(db().collection(COLLECTION).document(profile_id), document)
    batch.create(_claim(document["space"], document["name"]), {"profileId": profile_id})
    try:
        batch.commit(**bounded())
    except (exceptions.AlreadyExists, exceptions.Conflict) as exc:
        raise NameTaken(document["name"]) from exc


def get(profile_id: str) -> Stored | None:
    """One profile, or None."""
    snapshot = db().collection(COLLECTION).document(profile_id).get(**bounded())
    return _snapshot(snapshot) if snapshot.exists else None


def update(profile: Stored, changes: dict[str, Any]) -> None:
    """Apply `changes` unless the profile changed since `profile` was read."""
    from google.api_core import exceptions

    option = db().write_option(last_update_time=profile.update_time)
    try:
        db().collection(COLLECTION).document(profile.id).update(changes, option=option, **bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted) as exc:
        raise ChangedConcurrently(profile.id) from exc


def delete(profile: Stored) -> None:
    """Delete the profile and release its name, unless it changed since it was read."""
    from google.api_core import exceptions

    batch = db().batch()
    batch.delete(db().collection(COLLECTION).document(profile.id),
                 option=db().write_option(last_update_time=profile.update_time))
    batch.delete(_claim(profile.data["space"], profile.data["name"]))
    try:
        batch.commit(**bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted) as exc:
        raise ChangedConcurrently(profile.id) from exc


def delete_with_token(profile_id: str, token_name: str) -> str:
    """Delete the profile if it still carries `token_name`, whatever else changed.

    In a transaction, so that frequent unrelated writes (enrollments counted) cannot outrun
    it; returns "deleted", "gone" (no such profile) or "renewed" (another token now).
    """
    from google.cloud import firestore

    ref = db().collection(COLLECTION).document(profile_id)

    @firestore.transactional
    def run(transaction: Any) -> str:
        snapshot = ref.get(transaction=transaction)
        if not snapshot.exists:
            return "gone"
        data = snapshot.to_dict() or {}
        if (data.get("token") or {}).get("name") != token_name:
            return "renewed"
        transaction.delete(ref)
        transaction.delete(_claim(data["space"], data["name"]))
        return "deleted"

    outcome: str = transact(run)
    return outcome


def page(spaces: list[str] | None, status: str | None, limit: int,
         after: str | None) -> list[Stored]:
    """Profiles in creation order (ids sort by time), filtered, starting after id `after`."""
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(COLLECTION)
    if spaces is not None:
        query = query.where(filter=FieldFilter("space", "in", spaces or ["-"]))
    if status:
        query = query.where(filter=FieldFilter("status", "==", status))
    query = query.order_by("__name__").limit(limit)
    if after:
        query = query.start_after({"__name__": db().collection(COLLECTION).document(after)})
    return [_snapshot(s) for s in query.stream(**bounded())]


def due_for_expiry(now: datetime.datetime, limit: int) -> list[Stored]:
    """ACTIVE profiles whose token expired at or before `now` (index: status, tokenExpireTime)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION)
             .where(filter=FieldFilter("status", "==", "ACTIVE"))
             .where(filter=FieldFilter("tokenExpireTime", "<=", now))
             .order_by("tokenExpireTime").limit(limit))
    return [_snapshot(s) for s in query.stream(**bounded())]


def mark_expired(profiles: list[Stored], now: datetime.datetime) -> list[Stored]:
    """Mark each EXPIRED unless it changed meanwhile (e.g. renewed); return those marked."""
    from google.api_core import exceptions

    changes = {"status": "EXPIRED", "updateTime": now}
    batch = db().batch()
    for profile in profiles:
        batch.update(db().collection(COLLECTION).document(profile.id), changes,
                     option=db().write_option(last_update_time=profile.update_time))
    try:
        batch.commit(**bounded())
        return profiles
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted):
        pass
    # One of them changed under us: settle them one by one, skipping the changed ones.
    marked = []
    for profile in profiles:
        try:
            update(profile, changes)
            marked.append(profile)
        except ChangedConcurrently:
            continue
    return marked


translate_module(__name__)
