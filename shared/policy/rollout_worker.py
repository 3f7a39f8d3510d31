"""The rollout worker: runs a stored rollout's batches when its Pub/Sub message arrives."""

from __future__ import annotations

from typing import Any


def run(message: dict[str, Any]) -> None:
    """Advance the rollout named by `message` (`{"rolloutId": ...}`); safe to redeliver."""
    return None
