"""The rollout worker: runs a stored rollout's batches when its Pub/Sub message arrives.

Each batch takes its AMAPI calls from the background lane of the shared budget first (so the
space's push lease is held only while calling, never while waiting for budget), then runs under
the lease. A worker works for a time slice and then re-sends the rollout's message to itself;
a redelivered message, or two workers at once, simply continue from the last checkpoint.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from shared import logs
from shared.store.keys import is_storable_id

LEASE_WAIT_SECONDS = 60.0  # a batch waits this long for an inline push of its space


def run(message: dict[str, Any]) -> None:
    """Advance the rollout named by `message` (`{"rolloutId": ...}`); safe to redeliver."""
    from shared.amapi import budget
    from shared.amapi.client import amapi
    from shared.config import settings
    from shared.policy import push, rollouts
    from shared.store import rollouts as stored_rollouts

    rollout_id = message.get("rolloutId") if isinstance(message, dict) else None
    if not is_storable_id(rollout_id):
        # The same bytes fail the same way on every redelivery: acknowledge, never retry.
        logs.log(logging.WARNING, "a rollout message without a possible rollout id was dropped",
                 received=str(message)[:200])
        return
    assert isinstance(rollout_id, str)
    config = settings()
    deadline = time.monotonic() + config.rollout_slice_seconds
    with budget.lane(budget.BACKGROUND):
        while True:
            rollout = stored_rollouts.get(rollout_id)
            if rollout is None or rollout.get("state") not in stored_rollouts.ACTIVE:
                return
            if rollouts.waiting_for_gate(rollout):
                return  # the soak of a stage: its gate is read once due, then it goes on
            size = max(1, min(config.rollout_batch_size,
                              budget.lane_capacity(budget.BACKGROUND)))
            with budget.prepaid(size), push.serialized([str(rollout["space"])],
                                                       wait_seconds=LEASE_WAIT_SECONDS):
                more = rollouts.advance(rollout_id, size, amapi(), until=deadline)
            if not more:
                return
            if time.monotonic() >= deadline:
                rollouts.announce([rollout_id])
                return

