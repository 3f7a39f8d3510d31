"""List pages with opaque page tokens, as AMAPI's list methods return them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from typing import Any

from devstack.amapi_emulator import errors

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
# Tokens are signed so a tampered one is refused, as Google refuses it.
_KEY = secrets.token_bytes(16)


def page_size(raw: str | None) -> int:
    """The page size to use: default when absent or < 1, coerced down to the maximum."""
    if raw is None or int(raw) < 1:
        return DEFAULT_PAGE_SIZE
    return min(int(raw), MAX_PAGE_SIZE)


def _signature(payload: str) -> str:
    return hmac.new(_KEY, payload.encode("ascii"), hashlib.sha256).hexdigest()[:16]


def _encode(name: str) -> str:
    payload = base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{payload}.{_signature(payload)}"


def _decode(token: str) -> str:
    payload, _, signature = token.partition(".")
    try:
        if not hmac.compare_digest(signature, _signature(payload)):
            raise ValueError("bad signature")
        return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise errors.bad_request("Invalid page token.") from exc


def paginate(items: Sequence[dict[str, Any]], raw_size: str | None,
             raw_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `items` (ordered by `name`) after the token's name, and the next token.

    The token names the last item returned, so deletions between pages skip nothing.
    """
    ordered = sorted(items, key=lambda item: item["name"])
    if raw_token:
        after = _decode(raw_token)
        ordered = [item for item in ordered if item["name"] > after]
    size = page_size(raw_size)
    page = ordered[:size]
    next_token = _encode(page[-1]["name"]) if len(ordered) > size else None
    return page, next_token
