"""Two-call confirmation of MCP tools that destroy, or reach more than one device.

The first call changes nothing: it answers the plan and a token bound to the caller, the tool,
the arguments and the version (etag) of what the tool acts on. The second call, with the same
arguments and the token, acts; the token is spent by presenting it, whether it matches or not,
and expires after five minutes. An agent therefore cannot act without having shown the plan,
cannot replay a confirmation, and cannot confirm a plan that no longer holds.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from shared import errors
from shared.clock import rfc3339, utcnow
from shared.store import mcp_confirmations

if TYPE_CHECKING:
    from shared.mcp.tools import Invocation, Plan

LIFETIME = datetime.timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def arguments_digest(token: str, arguments: dict[str, Any]) -> str:
    """A digest of the arguments as loaded (defaults filled, any key order), keyed with the
    token: arguments holding a secret (a new password) cannot be guessed from the record."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(token.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def ask(tool: str, invocation: Invocation, plan: Plan) -> dict[str, Any]:
    """The first call's answer: the plan and a fresh token; nothing else is written."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + LIFETIME
    mcp_confirmations.put(_hash(token), {
        "principal": invocation.principal, "tool": tool,
        "arguments": arguments_digest(token, invocation.arguments), "etag": plan.etag,
        "createTime": now, "expireTime": expires})
    return {"confirmationRequired": True, "plan": plan.summary, "confirmationToken": token,
            "expireTime": rfc3339(expires),
            "next": f"nothing was done: call {tool} again with the same arguments and this "
                    "confirmationToken to act"}


def redeem(token: str, tool: str, invocation: Invocation, plan: Plan) -> None:
    """Spend `token`; refused (412) unless it was issued for exactly this call, still holds,
    and has not been used."""
    record = mcp_confirmations.take(_hash(token))
    problem = None
    if record is None:
        problem = "is unknown or was already used"
    elif record.get("principal") != invocation.principal or record.get("tool") != tool:
        problem = "was issued to another caller or for another tool"
    elif not hmac.compare_digest(str(record.get("arguments")),
                                 arguments_digest(token, invocation.arguments)):
        problem = "was issued for other arguments"
    elif record["expireTime"] <= utcnow():
        problem = "has expired"
    elif record.get("etag") != plan.etag:
        problem = "was issued for an older version of the resource, which changed since"
    if problem is not None:
        raise errors.FailedPrecondition(
            f"the confirmation token {problem}: nothing was done; call {tool} without a "
            "token to see the current plan and get a new one",
            [errors.FieldViolation("confirmationToken", problem)])
