"""How stored resources appear in the contract: views with etags, If-Match, field violations.

Neutral about transport, so the domain services shape their answers and check preconditions
with it while only `shared/http/` knows requests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from shared import errors
from shared.clock import rfc3339


def etag_of(resource_id: str, version: Any) -> str:
    """A strong etag for one stored version of a resource."""
    digest = hashlib.sha256(f"{resource_id}\x00{version}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def check_if_match(header: str | None, current_etag: str) -> None:
    """412 unless `If-Match` is absent, `*`, or names the current etag."""
    if not header or header.strip() == "*":
        return
    offered = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if current_etag not in offered:
        raise errors.FailedPrecondition(
            "the resource changed since you read it: fetch it again and retry",
            [errors.FieldViolation("If-Match", "does not match the current etag")])


def resource_view(document: dict[str, Any], shown: tuple[str, ...]) -> dict[str, Any]:
    """`{id, <shown fields that are set>, createTime, updateTime, etag}` of a stored document."""
    update_time = rfc3339(document["updateTime"])
    fields = {key: document[key] for key in shown if document.get(key) is not None}
    return {"id": document["id"], **fields, "createTime": rfc3339(document["createTime"]),
            "updateTime": update_time, "etag": etag_of(document["id"], update_time)}


def _flatten(messages: Any, prefix: str = "") -> Iterator[errors.FieldViolation]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, name)
    elif isinstance(messages, list) and all(isinstance(m, str | dict) for m in messages):
        for message in messages:
            if isinstance(message, dict):  # a validator naming places inside its field
                yield from _flatten(message, prefix)
                continue
            reason = "unknown field" if message == "Unknown field." else message
            yield errors.FieldViolation(prefix or "body", reason)
    else:
        yield errors.FieldViolation(prefix or "body", str(messages))


def violations(messages: Any) -> list[errors.FieldViolation]:
    """Marshmallow's nested error messages as a flat list naming each field (`a.b[0].c`)."""
    return list(_flatten(messages))


def loaded(what: str, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`load()` (a marshmallow load); its refusal as a 400 naming each field (`invalid <what>`)."""
    from marshmallow import ValidationError

    try:
        result: dict[str, Any] = load()
    except ValidationError as exc:
        found = violations(exc.messages)
        summary = "; ".join(f"{v.field}: {v.reason}" for v in found[:5])
        raise errors.InvalidArgument(f"invalid {what}: {summary}", found) from None
    return result

