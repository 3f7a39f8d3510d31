"""Collection `tokenRevocations`: enrollment tokens still to be deleted in AMAPI.

A token whose revocation failed (AMAPI throttled or down) waits here for the next
`expire_tokens` run, so that no replaced or deleted profile leaves a live token behind.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key

COLLECTION = "tokenRevocations"


def add(token_name: str, reason: str, now: datetime.datetime) -> None:
    """Remember that `token_name` must be revoked."""
    db().collection(COLLECTION).document(natural_key(token_name)).set(
        {"tokenName": token_name, "reason": reason, "createTime": now}, **bounded())


def pending(limit: int) -> list[dict[str, Any]]:
    """Tokens waiting for revocation, oldest first."""
    query = db().collection(COLLECTION).order_by("createTime").limit(limit)
    return [{"id": s.id, **(s.to_dict() or {})} for s in query.stream(**bounded())]


def done(token_name: str) -> None:
    """The token is revoked: forget it."""
    db().collection(COLLECTION).document(natural_key(token_name)).delete(**bounded())


translate_module(__name__)
