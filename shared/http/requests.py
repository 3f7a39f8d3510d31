"""Request parsing: JSON bodies, ids and query strings within the limits of what we store.

A query string becomes data in one place, `parse_query`, through the route's `QuerySchema`
(`shared.query_params`): any refusal is a 400 naming each parameter at fault.

Request bodies become data in one place, `parse_json`, which refuses (400, naming the field as a
dotted path such as `managedConfiguration.a.b`, or `body`): bodies over `MAX_BODY_BYTES`, text
that is not UTF-8, strings or object keys holding a lone UTF-16 surrogate (`"\\ud800"`), `NaN`,
`Infinity` and numbers too large for a double, and objects or arrays nested more than
`MAX_JSON_DEPTH` levels (the body itself is level 1; checked before decoding, without recursion).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from werkzeug.wrappers import Request

from shared import errors
from shared.query_params import QuerySchema
from shared.representation import loaded

MAX_BODY_BYTES = 1024 * 1024  # four times the largest managed configuration, with room to spare
MAX_JSON_DEPTH = 32  # objects and arrays, the body itself being level 1


def parse_query(request: Request, schema: type[QuerySchema] | None) -> dict[str, Any]:
    """The query string loaded through the route's schema (none: no parameter is taken)."""
    return loaded("query", lambda: (schema or QuerySchema)().load(request.args))


def parse_object(request: Request) -> dict[str, Any]:
    """The JSON object body as it is, refused (400) like any other body when malformed."""
    return parse_json(request, _AnyObject())


class _AnyObject:
    """A schema stand-in that loads any JSON object as it is."""

    def load(self, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        return data


def parse_json(request: Request, schema: Any, *, partial: bool = False) -> dict[str, Any]:
    """Decode a JSON object body and load it through `schema` (unknown fields are errors)."""
    data = decode_json(request)
    if not isinstance(data, dict):
        raise errors.InvalidArgument("request body must be a JSON object")
    return loaded("request", lambda: schema.load(data, partial=partial))



def decode_json(request: Request) -> Any:
    """The body as JSON data (None when empty), refused (400) unless storable as it is."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument(f"malformed JSON body: not UTF-8 ({exc.reason} at byte "
                                     f"{exc.start})", [errors.FieldViolation(
                                         "body", "is not UTF-8")]) from None
    if not text.strip():
        return None
    _refuse_deep_nesting(text)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise errors.InvalidArgument(f"malformed JSON body: {exc}", [errors.FieldViolation(
            "body", "is not JSON")]) from None
    _refuse_unstorable_values(data)
    return data


def _too_large() -> errors.InvalidArgument:
    return errors.InvalidArgument.field("body", f"must be at most {MAX_BODY_BYTES} bytes")


# A string token (escapes included), or a character that opens, closes or separates.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _path(parts: list[str | int]) -> str:
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or "body"


def _printable_key(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _refuse_deep_nesting(text: str) -> None:
    """400 naming the first object or array nested beyond `MAX_JSON_DEPTH`, found by scanning.

    A scan rather than the decoder: Python's decoder recurses, so a body nested thousands of
    levels deep would exhaust the interpreter's stack before any limit could be checked.
    """
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return
    # One frame per open container: [is an object, key or index, expecting a key].
    frames: list[list[Any]] = []
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            if len(frames) >= MAX_JSON_DEPTH:
                raise errors.InvalidArgument.field(
                    _path([frame[1] for frame in frames]),
                    f"nests objects and arrays more than {MAX_JSON_DEPTH} levels deep "
                    "(the body is level 1)")
            frames.append([token == "{", "" if token == "{" else 0, token == "{"])
        elif token in ("}", "]"):
            if frames:
                frames.pop()
        elif token == ",":
            if frames:
                top = frames[-1]
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
        elif frames and frames[-1][0] and frames[-1][2]:
            try:
                key = json.loads(token)
            except ValueError:
                key = token[1:-1]
            frames[-1][1], frames[-1][2] = _printable_key(str(key)), False


def _refuse_unstorable_values(data: Any) -> None:
    """400 naming the first string or key that is not Unicode, or number that is not finite."""
    pending: list[tuple[Any, list[str | int]]] = [(data, [])]
    while pending:
        value, where = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise errors.InvalidArgument.field(
                    _path(where), "is not valid Unicode: it holds a lone UTF-16 surrogate")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise errors.InvalidArgument.field(
                    _path(where), "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not key.isascii() and _SURROGATE.search(key):
                    raise errors.InvalidArgument.field(
                        _path([*where, _printable_key(key)]),
                        "is a key that is not valid Unicode: it holds a lone UTF-16 surrogate")
                pending.append((item, [*where, key]))
        elif isinstance(value, list):
            pending.extend((item, [*where, index]) for index, item in enumerate(value))
