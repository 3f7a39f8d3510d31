"""Collection `devices`: the inventory, one document per AMAPI device id.

Written from notifications; read here by the effective-policy resolver, which needs each
device's space, user, labels, enrollment decision and the policy it was moved to.
"""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db, filtered_query
from shared.store.errors import translate_module

COLLECTION = "devices"


def device_id(device_name: str) -> str:
    """`enterprises/E/devices/ID` → `ID`."""
    return device_name.rsplit("/", 1)[-1]


def get(device: str) -> dict[str, Any] | None:
    """One device by id or AMAPI name, or None."""
    snapshot = db().collection(COLLECTION).document(device_id(device)).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def get_many(names: list[str]) -> dict[str, dict[str, Any]]:
    """Several devices by name, in one round trip (missing ones left out)."""
    if not names:
        return {}
    by_id = {device_id(n): n for n in names}
    refs = [db().collection(COLLECTION).document(i) for i in sorted(by_id)]
    return {by_id[s.id]: {"id": s.id, **(s.to_dict() or {})}
            for s in db().get_all(refs, **bounded()) if s.exists}


def managed_in_space(space: str) -> list[dict[str, Any]]:
    """Devices of a space that passed enrollment and are not deleted."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION)
             .where(filter=FieldFilter("space", "==", space))
             .where(filter=FieldFilter("enrollmentDecision.result", "==", "ALLOWED"))
             .select(["name", "space", "userName", "labels", "effectivePolicy", "policyName",
                     "state"]))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())
            if (s.to_dict() or {}).get("state") != "DELETED"]


def on_groups(groups: list[str]) -> list[dict[str, Any]]:
    """Devices recorded in these groups, not deleted, with what they last reported of their
    policy (a health gate's reading)."""
    from google.cloud.firestore import FieldFilter

    found: list[dict[str, Any]] = []
    wanted = sorted(set(groups))
    for start in range(0, len(wanted), 30):  # Firestore's limit for an `in` filter
        query = (db().collection(COLLECTION)
                 .where(filter=FieldFilter("effectivePolicy", "in", wanted[start:start + 30]))
                 .select(["name", "state", "effectivePolicy", "policyName", "compliance",
                          "lastStatusReportTime"]))
        found += [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())
                  if (s.to_dict() or {}).get("state") != "DELETED"]
    return found


def others_on_policy(key: str, device: str, sample: int = 5) -> bool:
    """True when some device other than `device`, not deleted, is recorded on policy `key`.

    Reads at most `sample` documents: deleted devices keep their last key, so a few are looked
    at; when all of those are deleted the answer is False, which only costs a re-push.
    """
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION)
             .where(filter=FieldFilter("effectivePolicy", "==", key))
             .select(["state"]).limit(sample))
    return any(s.id != device_id(device) and (s.to_dict() or {}).get("state") != "DELETED"
               for s in query.stream(**bounded()))


def put(device: str, fields: dict[str, Any]) -> None:
    """Create or merge fields of a device document."""
    db().collection(COLLECTION).document(device_id(device)).set(fields, merge=True,
                                                                **bounded())


# Firestore splits `in` filters into at most 30 equality disjunctions per query.
MAX_DISJUNCTIONS = 30


def _query(filters: dict[str, Any], groups: list[str] | None, limit: int,
           after: str | None, fields: list[str] | None = None) -> Any:
    """One query: equality filters, `spaces` (space in), `label` (labels array-contains) and
    `groups` (effectivePolicy in), by id.

    Only equality-like filters ordered by id: Firestore answers any mix of them by merging
    single-field indexes; firestore.indexes.json adds `space` + each filter for speed.
    """
    from google.cloud.firestore import FieldFilter

    query = filtered_query(COLLECTION, filters, limit, after)
    if groups is not None:
        query = query.where(filter=FieldFilter("effectivePolicy", "in", groups))
    if fields is not None:
        query = query.select(fields)
    return query


def page(filters: dict[str, Any], limit: int, after: str | None,
         groups: list[str] | None = None,
         fields: list[str] | None = None) -> list[dict[str, Any]]:
    """Devices matching equality `filters` (and `label`, `spaces`), by id, starting after id
    `after`; with `groups`, only devices recorded on one of those effective policies.

    One query, or with `groups` one per slice of groups that fits Firestore's disjunction
    limit (merged by id). `fields`: only these fields of each device (all when None).
    """
    if groups is None:
        return [{"id": s.id, **(s.to_dict() or {})}
                for s in _query(filters, None, limit, after, fields).stream(**bounded())]
    wanted = sorted(set(groups))
    if not wanted:
        return []
    spaces = len(filters.get("spaces") or [None])
    step = max(1, MAX_DISJUNCTIONS // spaces)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), step):
        for s in _query(filters, wanted[start:start + step], limit, after,
                          fields).stream(**bounded()):
            found[s.id] = {"id": s.id, **(s.to_dict() or {})}
    return [found[i] for i in sorted(found)[:limit]]


translate_module(__name__)
