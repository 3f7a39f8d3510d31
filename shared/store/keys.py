"""Document ids derived from natural keys, so that uniqueness is enforced by Firestore itself."""

from __future__ import annotations

import hashlib
import secrets
import time


def natural_key(*parts: str) -> str:
    """A stable document id for a tuple of values (any characters, any length)."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def new_id() -> str:
    """A fresh id that sorts by creation time (48-bit milliseconds + 32 random bits, in hex)."""
    return f"{int(time.time() * 1000):012x}{secrets.randbits(32):08x}"
