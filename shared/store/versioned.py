"""A document read together with its version, for writes guarded by that version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Re-exported: callers that read a Stored value catch it from here.
from shared.store.errors import ChangedConcurrently as ChangedConcurrently


@dataclass(frozen=True)
class Stored:
    """A stored resource and the update time it was read at."""

    id: str
    data: dict[str, Any]
    update_time: Any = None


def from_snapshot(snapshot: Any) -> Stored:
    """A Firestore snapshot as a Stored value."""
    return Stored(snapshot.id, snapshot.to_dict() or {}, snapshot.update_time)
