"""Confirmation tokens of destructive MCP tools: bound to caller, tool, arguments and version,
spent by the one call that presents them, refused once expired, never kept in clear."""

from __future__ import annotations

import datetime
import hashlib
import json
import threading

import pytest

from shared import errors
from shared.mcp import confirmation
from shared.mcp.tools import Invocation, Plan
from shared.store import mcp_confirmations
from shared.store.client import db

ARGUMENTS = {"deviceId": "d1", "reason": "stolen"}
PLAN = Plan({"devicesAffected": 1}, etag="v1")


def invocation(principal="admin@example.com", arguments=ARGUMENTS):
    return Invocation(principal, dict(arguments))


def issued(**changes):
    return confirmation.ask("wipe_device", invocation(**changes), PLAN)["confirmationToken"]


def refusal(token, tool="wipe_device", plan=PLAN, **changes):
    with pytest.raises(errors.FailedPrecondition) as refused:
        confirmation.redeem(token, tool, invocation(**changes), plan)
    return refused.value.details[0].reason


def test_a_token_confirms_its_call_once(firestore):
    token = issued()
    confirmation.redeem(token, "wipe_device", invocation(), PLAN)
    assert refusal(token) == "is unknown or was already used"


@pytest.mark.parametrize(("call", "reason"), [
    ({"principal": "other@example.com"}, "was issued to another caller or for another tool"),
    ({"tool": "reset_device_password"}, "was issued to another caller or for another tool"),
    ({"arguments": {**ARGUMENTS, "reason": "lost"}}, "was issued for other arguments"),
    ({"plan": Plan({"devicesAffected": 1}, etag="v2")},
     "was issued for an older version of the resource, which changed since"),
])
def test_a_token_for_another_call_is_refused_and_spent(firestore, call, reason):
    token = issued()
    assert refusal(token, **call) == reason
    assert refusal(token) == "is unknown or was already used"  # presenting it spent it


def test_the_same_arguments_in_another_order_confirm(firestore):
    token = issued(arguments={"reason": "stolen", "deviceId": "d1"})
    confirmation.redeem(token, "wipe_device", invocation(), PLAN)


def test_an_expired_token_is_refused(firestore, monkeypatch):
    monkeypatch.setattr(confirmation, "LIFETIME", datetime.timedelta(seconds=-1))
    assert refusal(issued()) == "has expired"


def test_of_calls_presenting_one_token_at_once_exactly_one_acts(firestore):
    for _ in range(5):
        token = issued()
        outcomes: list[str] = []
        start = threading.Barrier(8)

        def present(token=token, outcomes=outcomes, start=start):
            start.wait()
            try:
                confirmation.redeem(token, "wipe_device", invocation(), PLAN)
                outcomes.append("acted")
            except errors.FailedPrecondition:
                outcomes.append("refused")

        threads = [threading.Thread(target=present) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["acted"] + ["refused"] * 7


def test_the_token_is_not_kept_in_clear(firestore):
    token = issued()
    stored = [(s.id, s.to_dict()) for s in
              db().collection(mcp_confirmations.COLLECTION).stream()]
    assert len(stored) == 1
    document_id, record = stored[0]
    assert token not in document_id and token not in repr(record)
    assert record["expireTime"] > record["createTime"]
    # Arguments may hold a secret (a new password): their digest is keyed with the token, so
    # the record alone cannot confirm a guess.
    canonical = json.dumps(ARGUMENTS, sort_keys=True, separators=(",", ":"))
    assert record["arguments"] != hashlib.sha256(canonical.encode()).hexdigest()
