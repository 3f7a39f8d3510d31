"""Document ids: fresh ones, ones derived from natural keys (so that Firestore itself enforces
uniqueness), and which ids a caller may name at all."""

from __future__ import annotations

import hashlib
import secrets
import time

MAX_ID_BYTES = 512  # well under Firestore's 1,500-byte document ids; real ids are far shorter


def is_storable_id(value: object) -> bool:
    """True when `value` can name a stored resource (a Firestore document id we would issue)."""
    if not isinstance(value, str):
        return False
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return (0 < size <= MAX_ID_BYTES and value not in (".", "..") and "/" not in value
            and not (value.startswith("__") and value.endswith("__")))


def natural_key(*parts: str) -> str:
    """A stable document id for a tuple of values (any characters, any length)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def new_id() -> str:
    """A fresh id that sorts by creation time (48-bit milliseconds + 32 random bits, in hex)."""
    return f"{int(time.time() * 1000):012x}{secrets.randbits(32):08x}"
