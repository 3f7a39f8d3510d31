"""The scheduled `expire_tokens` run: mark due profiles EXPIRED and revoke what is left."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from shared import logs
from shared.amapi import budget
from shared.amapi.client import amapi, amapi_background
from shared.amapi.errors import AmapiError
from shared.store import enrollment_profiles, token_revocations

CHUNK = 200


@dataclass(frozen=True)
class ExpiryRun:
    """What one run did; `scanned` counts the documents it read, `deferred` the tokens whose
    revocation AMAPI refused for now (they wait in `tokenRevocations` for the next run)."""

    expired: int
    revoked: int
    scanned: int
    deferred: int = 0


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
    # Background mode: a throttled revocation waits for the next run instead of holding this one.
    revoked = deferred = 0
    just_deferred: set[str] = set()
    with amapi_background() as background, budget.lane(budget.BACKGROUND):
        for token_name in revoke:
            try:
                amapi().delete_enrollment_token(token_name)
                revoked += 1
            except AmapiError:
                token_revocations.add(token_name, "profile expired", now)
                just_deferred.add(token_name)
        leftovers = token_revocations.pending(CHUNK)
        scanned += len(leftovers)
        for leftover in leftovers:
            if leftover["tokenName"] in just_deferred:
                continue  # deferred a moment ago: counted once, tried again next run
            try:
                amapi().delete_enrollment_token(leftover["tokenName"])
            except AmapiError:
                deferred += 1
                continue
            token_revocations.done(leftover["tokenName"])
            revoked += 1
    run = ExpiryRun(expired=expired, revoked=revoked, scanned=scanned,
                    deferred=deferred + len(just_deferred))
    logs.log(logging.INFO, "expire_tokens run", expired=run.expired, revoked=run.revoked,
             scanned=run.scanned, deferred=run.deferred, throttled=background.throttled)
    return run
