"""List pagination: page sizes and opaque page tokens that cannot be tampered with undetected."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any, TypeVar

from marshmallow import ValidationError, fields

from shared.config import ConfigError, settings
from shared.errors import InvalidArgument
from shared.query_params import MAX_PAGE_TOKEN_BYTES, QuerySchema, QueryText

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
_LOCAL_SECRET = b"amapi-cosu local page tokens"
T = TypeVar("T")


def page_size(raw: str | None, default: int = DEFAULT_PAGE_SIZE) -> int:
    """Parse `?pageSize=`: default when absent, empty or < 1 is a 400, above the max is coerced."""
    if raw is None:
        return default
    if not raw.strip():
        raise InvalidArgument.field("pageSize", "must be an integer when given (omit it for "
                                                f"the default of {default})")
    try:
        size = int(raw)
    except ValueError:
        raise InvalidArgument.field("pageSize", "must be an integer") from None
    if size < 1:
        raise InvalidArgument.field("pageSize", "must be at least 1")
    return min(size, MAX_PAGE_SIZE)


class PageSize(fields.Integer):
    """`?pageSize=` parsed by `page_size`: the default when absent, an empty value refused."""

    def __init__(self) -> None:
        super().__init__(load_default=DEFAULT_PAGE_SIZE, metadata={
            "minimum": 1, "description": f"items per page (default {DEFAULT_PAGE_SIZE}; larger "
                                         f"than {MAX_PAGE_SIZE} is taken as {MAX_PAGE_SIZE})"})
        self.blank_is_absent = False  # the contract refuses `?pageSize=`

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return page_size(str(value))
        except InvalidArgument as exc:
            raise ValidationError(exc.details[0].reason) from None


class ListQuerySchema(QuerySchema):
    """The parameters of every paginated list."""

    pageSize = PageSize()
    pageToken = QueryText(max_bytes=MAX_PAGE_TOKEN_BYTES, metadata={
        "description": "the nextPageToken of the previous page, as it was given"})


def _secret() -> bytes:
    configured = settings().page_token_secret
    if configured:
        return configured.encode()
    if settings().auth_mode == "local":
        return _LOCAL_SECRET
    raise ConfigError("PAGE_TOKEN_SECRET must be set outside the local stack")


def _mac(scope: str, body: bytes) -> str:
    digest = hmac.new(_secret(), scope.encode() + b"\x00" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def encode_page_token(cursor: dict[str, Any], scope: str) -> str:
    """Sign `cursor` for the list identified by `scope` (collection and filters)."""
    body = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _mac(scope, body)


def decode_page_token(token: str, scope: str) -> dict[str, Any]:
    """Return the cursor of a token this list issued; anything else is a 400."""
    invalid = InvalidArgument.field("pageToken", "is not a page token issued for this list")
    encoded, _, mac = token.partition(".")
    try:
        body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raise invalid from None
    if not mac or not hmac.compare_digest(mac, _mac(scope, body)):
        raise invalid
    cursor = json.loads(body)
    if not isinstance(cursor, dict):
        raise invalid
    return cursor


def paginate(items_key: str, scope: str, size: int, token: str | None,
             fetch: Callable[[int, Any], list[T]], cursor_of: Callable[[T], Any],
             render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """One page `{items_key: [...], nextPageToken?}` from a keyset `fetch(limit, after)`."""
    after = decode_page_token(token, scope)["after"] if token else None
    found = fetch(size + 1, after)
    body: dict[str, Any] = {items_key: [render(item) for item in found[:size]]}
    if len(found) > size:
        body["nextPageToken"] = encode_page_token({"after": cursor_of(found[size - 1])}, scope)
    return body
