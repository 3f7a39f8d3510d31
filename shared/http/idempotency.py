"""Idempotency keys: a retried mutation with the same key and body is answered, not redone."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from shared import errors
from shared.clock import utcnow

JSON = "application/json"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def run_idempotently(operation: str, key: str, request: Request,
                     respond: Callable[[], Response]) -> Response:
    """Answer once per caller, operation and key; a retry gets the first success replayed."""
    from shared.store import idempotency_keys

    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.InvalidArgument.field(
            "Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    key_id = hashlib.sha256(f"{operation}\x00{key}".encode()).hexdigest()
    request_hash = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    existing = idempotency_keys.claim(key_id, request_hash, utcnow())
    if existing is not None:
        if existing.request_hash != request_hash:
            raise errors.InvalidArgument.field(
                "Idempotency-Key", "was already used with a different request body")
        if not existing.completed:
            raise errors.AlreadyExists("a request with this Idempotency-Key is still running")
        headers = dict(existing.headers or {}, **{"Idempotent-Replayed": "true"})
        return Response(existing.body, status=existing.status, headers=headers, mimetype=JSON)
    try:
        response = respond()
    except BaseException:
        idempotency_keys.release(key_id)
        raise
    if response.status_code < 300:
        kept = {k: v for k, v in response.headers.items() if k in ("Location", "ETag")}
        idempotency_keys.complete(key_id, response.status_code,
                                  response.get_data(as_text=True), kept)
    else:
        idempotency_keys.release(key_id)
    return response
