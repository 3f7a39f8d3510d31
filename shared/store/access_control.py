"""Collections `spaces` (the tree under `global`), `roleBindings` and `auditLog`."""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db, transact
from shared.store.errors import translate_module
from shared.store.keys import natural_key

SPACES = "spaces"
BINDINGS = "roleBindings"
AUDIT = "auditLog"


def all_spaces() -> dict[str, dict[str, Any]]:
    """Every space below `global` (spaces are few), keyed by id."""
    return {s.id: s.to_dict() or {} for s in db().collection(SPACES).stream(**bounded())}


def create_space(space_id: str, data: dict[str, Any]) -> bool:
    """Store a new space; False when the id is taken."""
    from google.api_core import exceptions

    try:
        db().collection(SPACES).document(space_id).create(data, **bounded())
    except exceptions.AlreadyExists:
        return False
    return True


def space_in_use(space_id: str) -> bool:
    """True when any stored resource, role binding or delegation names `space_id` as its space.

    Asked only when a space is declared (rare), so a handful of keys-only limit(1) equality
    queries, one per collection that carries `space`, cost less than keeping a registry of used
    ids in step with every write of every collection. The audit log is left out on purpose: a
    refused request for `?space=x` is audited under x, and must not let any caller block x.
    """
    from google.cloud.firestore import FieldFilter

    from shared.store import (
        app_feedback,
        commands,
        configurations,
        device_attributes,
        device_users,
        devices,
        enrollment_profiles,
        enrollment_rules,
    )

    configs = (configurations.COSU, configurations.APPS, configurations.WIFI, configurations.VPN)
    probes = [(name, "space", "==") for name in (
        BINDINGS, enrollment_profiles.COLLECTION, device_users.COLLECTION,
        device_attributes.COLLECTION, devices.COLLECTION, commands.COLLECTION,
        app_feedback.COLLECTION, *configs)]
    probes += [(name, "delegatedSpaces", "array_contains") for name in configs]

    def found(collection: str, field: str, op: str) -> bool:
        query = (db().collection(collection).where(filter=FieldFilter(field, op, space_id))
                 .select([]).limit(1))
        return any(True for _ in query.stream(**bounded()))

    rules = db().collection(enrollment_rules.COLLECTION).document(space_id)
    return rules.get(**bounded()).exists or any(found(*probe) for probe in probes)


def binding_id(principal: str, role: str, space: str) -> str:
    """One document per (principal, role, space): granting twice is idempotent."""
    return natural_key(principal, role, space)


def bindings_of(principal: str) -> list[dict[str, Any]]:
    """Every role binding of one principal."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(BINDINGS).where(filter=FieldFilter("principal", "==", principal))
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def put_binding(binding: dict[str, Any]) -> str:
    """Store a binding; returns its id."""
    binding_key = binding_id(binding["principal"], binding["role"], binding["space"])
    db().collection(BINDINGS).document(binding_key).set(binding, **bounded())
    return binding_key


def get_binding(binding_key: str) -> dict[str, Any] | None:
    """One binding, or None."""
    snapshot = db().collection(BINDINGS).document(binding_key).get(**bounded())
    return {"id": snapshot.id, **(snapshot.to_dict() or {})} if snapshot.exists else None


def delete_binding_keeping_one(binding_key: str, space: str, role: str) -> bool:
    """Remove a binding unless it is the last `role` binding of `space`; False then.

    The check and the delete run in one transaction that reads every such binding, so two
    concurrent deletes of the last two cannot both see "one other is left" and both succeed.
    """
    from google.cloud import firestore
    from google.cloud.firestore import FieldFilter

    ref = db().collection(BINDINGS).document(binding_key)
    kept = (db().collection(BINDINGS).where(filter=FieldFilter("space", "==", space))
            .where(filter=FieldFilter("role", "==", role)))

    @firestore.transactional
    def run(transaction: Any) -> bool:
        snapshot = ref.get(transaction=transaction)
        data = snapshot.to_dict() or {}
        if data.get("space") == space and data.get("role") == role:
            others = [s.id for s in transaction.get(kept) if s.id != binding_key]
            if not others:
                return False
        transaction.delete(ref)
        return True

    result: bool = transact(run)
    return result


def bindings_in(spaces: list[str] | None, limit: int, after: str | None) -> list[dict[str, Any]]:
    """Bindings in these spaces (all when None), by id."""
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(BINDINGS)
    if spaces is not None:
        query = query.where(filter=FieldFilter("space", "in", spaces[:30]))
    query = query.order_by("__name__").limit(limit)
    if after:
        query = query.start_after({"__name__": db().collection(BINDINGS).document(after)})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def append_audit(entry_id: str, entry: dict[str, Any]) -> None:
    """Record one audited call (`sortKey`: ids sort by time, newest listed first)."""
    db().collection(AUDIT).document(entry_id).set({**entry, "sortKey": entry_id}, **bounded())


def audit_page(spaces: list[str] | None, principal: str | None, limit: int,
               after: str | None) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered by space and principal."""
    from google.cloud import firestore
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(AUDIT)
    if spaces is not None:
        query = query.where(filter=FieldFilter("space", "in", spaces[:30]))
    if principal:
        query = query.where(filter=FieldFilter("principal", "==", principal))
    # Firestore scans keys only upwards, so newest-first goes by a field, not the id.
    query = query.order_by("sortKey", direction=firestore.Query.DESCENDING).limit(limit)
    if after:
        query = query.start_after({"sortKey": after})
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


translate_module(__name__)
