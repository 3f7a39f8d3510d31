"""Collections `apps`, `wifiConfigs`, `vpnConfigs`, `cosuConfigs`: what policies are made of.

One module for the four because they are stored alike: a document per resource, a `space`, and
writes guarded by the update time they were read at.
"""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import AlreadyStored as AlreadyStored
from shared.store.errors import ChangedConcurrently, translate_module
from shared.store.versioned import Stored
from shared.store.versioned import from_snapshot as _snapshot

APPS = "apps"
WIFI = "wifiConfigs"
VPN = "vpnConfigs"
COSU = "cosuConfigs"


def get(collection: str, resource_id: str) -> Stored | None:
    """One resource, or None."""
    snapshot = db().collection(collection).document(resource_id).get(**bounded())
    return _snapshot(snapshot) if snapshot.exists else None


def get_many(collection: str, resource_ids: list[str]) -> dict[str, Stored]:
    """Several resources in one round trip, keyed by id (missing ones left out)."""
    if not resource_ids:
        return {}
    refs = [db().collection(collection).document(i) for i in sorted(set(resource_ids))]
    return {s.id: _snapshot(s) for s in db().get_all(refs, **bounded()) if s.exists}


def in_space(collection: str, space: str) -> list[Stored]:
    """Every resource of a space (configurations are few: tens, not thousands)."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(collection).where(filter=FieldFilter("space", "==", space))
    return [_snapshot(s) for s in query.stream(**bounded())]


def delegated_to(collection: str, space: str) -> list[Stored]:
    """Resources of other spaces delegated to `space` (they apply to its devices too)."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(collection).where(
        filter=FieldFilter("delegatedSpaces", "array_contains", space))
    return [_snapshot(s) for s in query.stream(**bounded())]


def with_package(collection: str, package_name: str) -> list[Stored]:
    """Resources whose `packageName` is `package_name` (an app is one, in whatever space)."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(collection).where(
        filter=FieldFilter("packageName", "==", package_name))
    return [_snapshot(s) for s in query.stream(**bounded())]


def page_reaching(collection: str, spaces: list[str], limit: int,
                  after: str | None) -> list[Stored]:
    """Resources of these spaces or delegated to them, by id, starting after id `after`."""
    from google.cloud.firestore import FieldFilter

    found: dict[str, Stored] = {}
    for filter_ in (FieldFilter("space", "in", spaces or ["-"]),
                    FieldFilter("delegatedSpaces", "array_contains_any", spaces or ["-"])):
        query: Any = db().collection(collection).where(filter=filter_)
        query = query.order_by("__name__").limit(limit)
        if after:
            query = query.start_after(
                {"__name__": db().collection(collection).document(after)})
        found.update((s.id, _snapshot(s)) for s in query.stream(**bounded()))
    return [found[key] for key in sorted(found)][:limit]


def page(collection: str, spaces: list[str] | None, limit: int,
         after: str | None) -> list[Stored]:
    """Resources of these spaces (all when None) by id, starting after id `after`."""
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(collection)
    if spaces is not None:
        query = query.where(filter=FieldFilter("space", "in", spaces or ["-"]))
    query = query.order_by("__name__").limit(limit)
    if after:
        query = query.start_after({"__name__": db().collection(collection).document(after)})
    return [_snapshot(s) for s in query.stream(**bounded())]


def write_batch() -> Any:
    """A batch for writing a resource together with what it changes."""
    return db().batch()


def stage_create(batch: Any, collection: str, resource_id: str, data: dict[str, Any]) -> None:
    """Add the creation of a resource to `batch` (fails the batch if the id exists)."""
    batch.create(db().collection(collection).document(resource_id), data)


def stage_replace(batch: Any, collection: str, current: Stored, data: dict[str, Any]) -> None:
    """Add a whole-document replacement guarded by `current`'s version to `batch`."""
    from google.cloud import firestore

    changes: dict[str, Any] = dict(data)
    for dropped in current.data.keys() - data.keys():
        changes[dropped] = firestore.DELETE_FIELD
    batch.update(db().collection(collection).document(current.id), changes,
                 option=db().write_option(last_update_time=current.update_time))


def stage_delete(batch: Any, collection: str, current: Stored) -> None:
    """Add a guarded deletion to `batch`."""
    batch.delete(db().collection(collection).document(current.id),
                 option=db().write_option(last_update_time=current.update_time))


def commit(batch: Any) -> None:
    """Commit; AlreadyStored or ChangedConcurrently when a guard fails."""
    from google.api_core import exceptions

    try:
        batch.commit(**bounded())
    except (exceptions.AlreadyExists, exceptions.Conflict) as exc:
        raise AlreadyStored(str(exc)) from exc
    except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted) as exc:
        raise ChangedConcurrently(str(exc)) from exc


def stage_pending(batch: Any, collection: str, current: Stored, pending: dict[str, Any]) -> None:
    """Add to `batch`, guarded by `current`'s version: a staged change waits beside the
    resource (`pendingChange`) until its rollout promotes it or rolls it back."""
    batch.update(db().collection(collection).document(current.id), {"pendingChange": pending},
                 option=db().write_option(last_update_time=current.update_time))


def stage_set(writer: Any, collection: str, resource_id: str, data: dict[str, Any]) -> None:
    """Add to a batch or transaction: the resource becomes `data` (a promoted change)."""
    writer.set(db().collection(collection).document(resource_id), data)


def stage_delete_id(writer: Any, collection: str, resource_id: str) -> None:
    """Add to a batch or transaction: the resource is deleted (a staged creation rolled
    back)."""
    writer.delete(db().collection(collection).document(resource_id))


def stage_drop_pending(writer: Any, collection: str, resource_id: str) -> None:
    """Add to a batch or transaction: the resource's staged change is dropped."""
    from google.cloud import firestore

    writer.update(db().collection(collection).document(resource_id),
                  {"pendingChange": firestore.DELETE_FIELD})


translate_module(__name__)
