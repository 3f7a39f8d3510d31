"""Collections `notificationReceipts` (one per Pub/Sub message id) and `malformedNotifications`.

The receipt is the deduplication ledger: Pub/Sub delivers at least once, and a message id seen
before has had its effect already. Receipts expire after a week (Firestore TTL on `expireTime`),
far beyond Pub/Sub's redelivery window.

Message ids become document ids: plain ids are kept as they are (readable in the console),
any other id (a `/`, `__…__`, `.`, too long) is stored under its SHA-256, the same for every
delivery of the message, so deduplication holds for them too.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import TYPE_CHECKING, Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module

if TYPE_CHECKING:
    from google.cloud.firestore import DocumentReference

RECEIPTS = "notificationReceipts"
MALFORMED = "malformedNotifications"
RETENTION = datetime.timedelta(days=7)
# A kept message stays well inside Firestore's 1 MiB document limit, whatever it carried.
MAX_KEPT_DATA = 100_000
MAX_KEPT_FIELD = 1500
# `:` is outside the plain alphabet, so a hashed id can never equal a plain one.
_PLAIN_ID = re.compile(r"(?!\.{1,2}$)(?!__.*__$)[A-Za-z0-9._-]{1,256}")


def document_id(message_id: str) -> str:
    """The Firestore document id of a Pub/Sub message id (plain ids unchanged, others hashed)."""
    if _PLAIN_ID.fullmatch(message_id):
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def receipt_ref(message_id: str) -> DocumentReference:
    """The receipt document of one message."""
    return db().collection(RECEIPTS).document(document_id(message_id))


def record_receipt(message_id: str, fields: dict[str, Any], now: datetime.datetime) -> bool:
    """Store the receipt of `message_id`; False when it was already received."""
    from google.api_core import exceptions

    try:
        receipt_ref(message_id).create(
            {**fields, "receiveTime": now, "expireTime": now + RETENTION}, **bounded())
    except exceptions.AlreadyExists:
        return False
    return True


def get_receipt(message_id: str) -> dict[str, Any] | None:
    """The receipt of one message, if any."""
    snapshot = receipt_ref(message_id).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def receipts_for(resource: str) -> list[dict[str, Any]]:
    """Every receipt about one AMAPI resource."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(RECEIPTS).where(filter=FieldFilter("resource", "==", resource))
    return [snapshot.to_dict() or {} for snapshot in query.stream(**bounded())]


def record_malformed(message_id: str, fields: dict[str, Any], now: datetime.datetime) -> None:
    """Keep a message that cannot be processed, with the reason, for inspection (bounded)."""
    collection = db().collection(MALFORMED)
    document = (collection.document(document_id(message_id)) if message_id
                else collection.document())
    kept = {key: _bounded(value, MAX_KEPT_DATA if key == "data" else MAX_KEPT_FIELD)
            for key, value in fields.items()}
    if message_id:
        kept["messageId"] = message_id[:MAX_KEPT_FIELD]
    document.set({**kept, "receiveTime": now, "expireTime": now + RETENTION * 4},
                 **bounded())


def _bounded(value: Any, limit: int) -> Any:
    return value[:limit] if isinstance(value, str) else value


def malformed(limit: int = 100) -> list[dict[str, Any]]:
    """The most recent malformed messages."""
    from google.cloud import firestore

    query = db().collection(MALFORMED).order_by(
        "receiveTime", direction=firestore.Query.DESCENDING).limit(limit)
    return [snapshot.to_dict() or {} for snapshot in query.stream(**bounded())]


translate_module(__name__)
