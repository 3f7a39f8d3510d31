"""Collection `rollouts`: configuration changes pushed in the background, batch by batch.

A rollout document holds its state, counters and cursor; its steps (the AMAPI calls of its
plan, in order) live in `rollouts/{id}/steps/{generation}-{chunk}` documents of up to `CHUNK`
steps, written once per plan, before the rollout document points at them. A batch's effects
(devices moved, groups patched) and the rollout's advanced cursor are written in one atomic
batch, so a redelivered message or a second worker resumes exactly where the last checkpoint
left off.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from shared.store.client import bounded, db, filtered_page, transact
from shared.store.errors import translate_module

COLLECTION = "rollouts"
STEPS = "steps"
REPLANS = "spaceReplans"  # spaces a cancelled rollout left behind: the next change re-plans
STAGED = "stagedSpaces"  # spaces with a staged rollout open: their configurations wait for it
CHUNK = 400
ACTIVE = ("PENDING", "RUNNING")  # a worker runs them
OPEN = (*ACTIVE, "PAUSED")  # not over: an administrator may resume a paused one


def _ref(rollout_id: str) -> Any:
    return db().collection(COLLECTION).document(rollout_id)


def _chunk_id(generation: int, chunk: int) -> str:
    return f"{generation:04d}-{chunk:05d}"


def stage_create(batch: Any, rollout_id: str, record: dict[str, Any],
                 steps: list[dict[str, Any]]) -> None:
    """Write a new rollout's steps (generation 1) now, and add the rollout itself to a write
    batch.

    The steps of a large fleet outgrow one atomic write (10 MiB), so they are written first;
    until the batch commits nothing refers to them, and if it never does they stay unread.
    """
    _write_steps(rollout_id, 1, steps)
    batch.create(_ref(rollout_id), {**record, "generation": 1, "cursor": 0,
                                    "stepCount": len(steps)})


def _write_steps(rollout_id: str, generation: int, steps: list[dict[str, Any]]) -> None:
    starts = list(range(0, len(steps), CHUNK))
    for first in range(0, len(starts), 20):  # 20 chunks, about 2 MB, per commit
        batch = db().batch()
        for chunk in range(first, min(first + 20, len(starts))):
            begin = starts[chunk]
            batch.set(_ref(rollout_id).collection(STEPS).document(
                _chunk_id(generation, chunk)), {"steps": steps[begin:begin + CHUNK]})
        batch.commit(**bounded())


def stage_supersede(batch: Any, rollout_id: str, by: str, now: datetime.datetime) -> None:
    """Add to a write batch: an active rollout ends, its remaining work taken over by `by`."""
    batch.update(_ref(rollout_id), {"state": "CANCELLED", "supersededBy": by,
                                    "updateTime": now, "endTime": now})


def mark_replan(space: str, rollout_id: str, now: datetime.datetime) -> None:
    """Remember that a rollout of `space` stopped with devices not yet where the stored
    configurations put them."""
    db().collection(REPLANS).document(space).set({"rolloutId": rollout_id, "since": now},
                                                 **bounded())


def needing_replan(spaces: list[str]) -> set[str]:
    """Those of `spaces` a stopped rollout left behind."""
    refs = [db().collection(REPLANS).document(s) for s in sorted(set(spaces))]
    return {s.id for s in db().get_all(refs, **bounded()) if s.exists}


def space_marks(spaces: list[str]) -> tuple[set[str], dict[str, str]]:
    """In one round trip: those of `spaces` a stopped rollout left behind, and the staged
    rollout open in each of them that has one."""
    wanted = sorted(set(spaces))
    refs = ([db().collection(REPLANS).document(s) for s in wanted]
            + [db().collection(STAGED).document(s) for s in wanted])
    replans: set[str] = set()
    staged: dict[str, str] = {}
    for snapshot in db().get_all(refs, **bounded()):
        if not snapshot.exists:
            continue
        if snapshot.reference.parent.id == STAGED:
            staged[snapshot.id] = str((snapshot.to_dict() or {}).get("rolloutId"))
        else:
            replans.add(snapshot.id)
    return replans, staged


def stage_staged_mark(batch: Any, space: str, rollout_id: str) -> None:
    """Add to a write batch: `space` has a staged rollout open."""
    batch.create(db().collection(STAGED).document(space), {"rolloutId": rollout_id})


def stage_clear_staged_mark(writer: Any, space: str) -> None:
    """Add to a batch or transaction: the space's staged rollout is over."""
    writer.delete(db().collection(STAGED).document(space))


def gates_due(now: datetime.datetime, limit: int) -> list[dict[str, Any]]:
    """Active staged rollouts whose current stage's soak is over (`gateDue` passed); paused
    ones wait, without taking the place of others."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("state", "in", list(ACTIVE)))
             .where(filter=FieldFilter("gateDue", "<=", now)).limit(limit))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def stage_replanned(batch: Any, spaces: set[str]) -> None:
    """Add to a write batch: these spaces were planned whole again."""
    for space in spaces:
        batch.delete(db().collection(REPLANS).document(space))


def replanned(spaces: set[str]) -> None:
    """`stage_replanned`, written at once."""
    if spaces:
        batch = db().batch()
        stage_replanned(batch, spaces)
        batch.commit(**bounded())


def get(rollout_id: str) -> dict[str, Any] | None:
    """One rollout, or None."""
    snapshot = _ref(rollout_id).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def open_in_space(space: str) -> list[dict[str, Any]]:
    """The space's rollouts not over yet, paused ones included (at most one, unless a takeover
    is being written)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("space", "==", space))
             .where(filter=FieldFilter("state", "in", list(OPEN))))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def active_since(before: datetime.datetime, limit: int) -> list[dict[str, Any]]:
    """Active rollouts whose last progress is older than `before` (their message was lost)."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION).where(filter=FieldFilter("state", "in", list(ACTIVE)))
             .where(filter=FieldFilter("updateTime", "<", before)).limit(limit))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def page(filters: dict[str, Any], limit: int, after: str | None) -> list[dict[str, Any]]:
    """Rollouts matching equality `filters` (`spaces` as an `in`), by id after `after`."""
    return filtered_page(COLLECTION, filters, limit, after)


def steps(rollout_id: str, generation: int, start: int, count: int) -> list[dict[str, Any]]:
    """Steps `start` to `start + count` of a plan generation (one or two chunk reads)."""
    first, last = start // CHUNK, (start + count - 1) // CHUNK
    refs = [_ref(rollout_id).collection(STEPS).document(_chunk_id(generation, c))
            for c in range(first, last + 1)]
    chunks = {s.id: (s.to_dict() or {}).get("steps", [])
              for s in db().get_all(refs, **bounded()) if s.exists}
    found: list[dict[str, Any]] = []
    for chunk in range(first, last + 1):
        found += chunks.get(_chunk_id(generation, chunk), [])
    offset = start - first * CHUNK
    return found[offset:offset + count]


def replan(rollout_id: str, generation: int, steps: list[dict[str, Any]],
           changes: dict[str, Any], expect: dict[str, Any] | None = None) -> bool:
    """Store a new plan generation and point the rollout at its first step, unless the
    rollout's fields no longer equal `expect` (False: the plan was made for a past state)."""
    _write_steps(rollout_id, generation, steps)
    pointed = {**changes, "generation": generation, "cursor": 0, "stepCount": len(steps)}
    if expect is None:
        _ref(rollout_id).update(pointed, **bounded())
        return True
    return transition(rollout_id, ACTIVE, pointed, expect)[1]


def update(rollout_id: str, changes: dict[str, Any]) -> None:
    """Write fields of a rollout (progress, in-flight marks): callers hold the space's lease."""
    _ref(rollout_id).update(changes, **bounded())


def checkpoint(rollout_id: str, changes: dict[str, Any], devices: dict[str, dict[str, Any]],
               groups: dict[str, dict[str, Any]]) -> None:
    """One atomic write: the batch's device assignments, group records and the rollout's
    progress."""
    batch = _effects(devices, groups)
    batch.update(_ref(rollout_id), changes)
    batch.commit(**bounded())


def record_effects(devices: dict[str, dict[str, Any]], groups: dict[str, dict[str, Any]]) -> None:
    """Only a batch's device assignments and group records, in one atomic write."""
    if devices or groups:
        _effects(devices, groups).commit(**bounded())


def _effects(devices: dict[str, dict[str, Any]], groups: dict[str, dict[str, Any]]) -> Any:
    from shared.store import devices as device_store
    from shared.store import effective_policies

    batch = db().batch()
    for name, fields in devices.items():
        batch.set(db().collection(device_store.COLLECTION).document(
            device_store.device_id(name)), fields, merge=True)
    for group, record in groups.items():
        batch.set(db().collection(effective_policies.COLLECTION).document(group), record)
    return batch


def transition(rollout_id: str, allowed: tuple[str, ...], changes: dict[str, Any],
               expect: dict[str, Any] | None = None,
               also: Callable[[Any], None] | None = None,
               ) -> tuple[dict[str, Any] | None, bool]:
    """Apply `changes` (a state change) when the rollout's state is one of `allowed` and its
    fields equal `expect`; `also` adds writes to the same transaction. The rollout as it then
    is, and whether it changed."""
    from google.cloud import firestore

    @firestore.transactional
    def run(transaction: Any) -> tuple[dict[str, Any] | None, bool]:
        snapshot = _ref(rollout_id).get(transaction=transaction)
        if not snapshot.exists:
            return None, False
        current = {"id": snapshot.id, **(snapshot.to_dict() or {})}
        if current.get("state") not in allowed or any(
                current.get(k) != v for k, v in (expect or {}).items()):
            return current, False
        transaction.update(_ref(rollout_id), changes)
        if also is not None:
            also(transaction)
        return {**current, **changes}, True

    result: tuple[dict[str, Any] | None, bool] = transact(run)
    return result


translate_module(__name__)
