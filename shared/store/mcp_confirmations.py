"""Collection `mcpConfirmations`: the confirmation tokens MCP tools hand out before acting.

A document is keyed by the SHA-256 of its token, so the token itself is never at rest, and is
deleted by the one call that presents it: a token works once. Expired ones are removed by a
Firestore TTL policy on `expireTime` (see the README), and refused whatever happens.
"""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module

COLLECTION = "mcpConfirmations"


def put(token_hash: str, record: dict[str, Any]) -> None:
    """Remember a token just handed out."""
    db().collection(COLLECTION).document(token_hash).create(record, **bounded())


def take(token_hash: str) -> dict[str, Any] | None:
    """The record of a token, deleted in the same step; None when it is unknown or another
    call took it first."""
    from google.api_core import exceptions

    ref = db().collection(COLLECTION).document(token_hash)
    snapshot = ref.get(**bounded())
    if not snapshot.exists:
        return None
    try:
        # Guarded by the version read: of two calls presenting the token, one deletes it.
        ref.delete(option=db().write_option(last_update_time=snapshot.update_time), **bounded())
    except (exceptions.FailedPrecondition, exceptions.NotFound):
        return None
    return snapshot.to_dict() or {}


translate_module(__name__)
