"""The scheduled `expire_tokens` run: mark due profiles EXPIRED and revoke what is left."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from shared import logs
from shared.amapi.client import amapi
from shared.amapi.errors import AmapiError
from shared.store import enrollment_profiles, token_revocations

CHUNK = 200


@dataclass(frozen=True)
class ExpiryRun:
    """What one run did; `scanned` counts the documents it read."""

    expired: int
    revoked: int
    scanned: int


def expire_tokens(now: datetime.datetime) -> ExpiryRun:
    """Expire ACTIVE profiles whose token expired by `now`; reads only what is due."""
    expired = scanned = 0
    revoke: list[str] = []
    while True:
        due = enrollment_profiles.due_for_expiry(now, CHUNK)
        scanned += len(due)
        if not due:
            break
        marked = enrollment_profiles.mark_expired(due, now)
        expired += len(marked)
        revoke += [p.data["token"]["name"] for p in marked]
        if len(marked) < len(due) and not marked:
            break  # every due profile changed under us; the next run sees them afresh
    # AMAPI rejects expired tokens on its own clock; revoking them also covers clock skew.
    revoked = 0
    for token_name in revoke:
        try:
            amapi().delete_enrollment_token(token_name)
            revoked += 1
        except AmapiError:
            token_revocations.add(token_name, "profile expired", now)
    leftovers = token_revocations.pending(CHUNK)
    scanned += len(leftovers)
    for leftover in leftovers:
        try:
            amapi().delete_enrollment_token(leftover["tokenName"])
        except AmapiError:
            continue
        token_revocations.done(leftover["tokenName"])
        revoked += 1
    run = ExpiryRun(expired=expired, revoked=revoked, scanned=scanned)
    logs.log(logging.INFO, "expire_tokens run", expired=run.expired, revoked=run.revoked,
             scanned=run.scanned)
    return run
