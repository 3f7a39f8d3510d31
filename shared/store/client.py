"""The Firestore client, created on first use so that cold starts do not pay for it."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from shared.config import settings

if TYPE_CHECKING:
    from google.cloud.firestore import Client

_lock = threading.Lock()
_client: Client | None = None


def db() -> Client:
    """The process-wide Firestore client (honours FIRESTORE_EMULATOR_HOST)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                from google.cloud import firestore

                config = settings()
                _client = firestore.Client(project=config.project or None,
                                           database=config.firestore_database)
    return _client


def reset_client() -> None:
    """Forget the client (tests that change the emulator host call this)."""
    global _client
    with _lock:
        _client = None
