"""Collections `notificationReceipts` (one per Pub/Sub message id) and `malformedNotifications`.

The receipt is the deduplication ledger: Pub/Sub delivers at least once, and a message id seen
before has had its effect already. Receipts expire after a week (Firestore TTL on `expireTime`),
far beyond Pub/Sub's redelivery window.
"""

from __future__ import annotations

import datetime
from typing import Any

from shared.store.client import bounded, db

RECEIPTS = "notificationReceipts"
MALFORMED = "malformedNotifications"
RETENTION = datetime.timedelta(days=7)


def record_receipt(message_id: str, fields: dict[str, Any], now: datetime.datetime) -> bool:
    """Store the receipt of `message_id`; False when it was already received."""
    from google.api_core import exceptions

    try:
        db().collection(RECEIPTS).document(message_id).create(
            {**fields, "receiveTime": now, "expireTime": now + RETENTION}, **bounded())
    except exceptions.AlreadyExists:
        return False
    return True


def get_receipt(message_id: str) -> dict[str, Any] | None:
    """The receipt of one message, if any."""
    snapshot = db().collection(RECEIPTS).document(message_id).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def receipts_for(resource: str) -> list[dict[str, Any]]:
    """Every receipt about one AMAPI resource."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(RECEIPTS).where(filter=FieldFilter("resource", "==", resource))
    return [snapshot.to_dict() or {} for snapshot in query.stream(**bounded())]


def record_malformed(message_id: str, fields: dict[str, Any], now: datetime.datetime) -> None:
    """Keep a message that cannot be processed, with the reason, for inspection."""
    collection = db().collection(MALFORMED)
    document = collection.document(message_id) if message_id else collection.document()
    document.set({**fields, "receiveTime": now, "expireTime": now + RETENTION * 4},
                 **bounded())


def malformed(limit: int = 100) -> list[dict[str, Any]]:
    """The most recent malformed messages."""
    from google.cloud import firestore

    query = db().collection(MALFORMED).order_by(
        "receiveTime", direction=firestore.Query.DESCENDING).limit(limit)
    return [snapshot.to_dict() or {} for snapshot in query.stream(**bounded())]
