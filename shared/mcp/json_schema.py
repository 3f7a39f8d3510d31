"""JSON Schemas for MCP tools, generated from the marshmallow schemas the HTTP API validates
with: one rule, written once, whichever door a request comes through."""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from marshmallow import Schema

_REF = "#/components/schemas/"


def _inline(value: Any, components: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """`value` with every `$ref` to a component replaced by the component itself."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            name = ref[len(_REF):]
            if name in seen:  # a recursive schema: say "an object" rather than loop
                return {"type": "object"}
            inlined = _inline(components[name], components, (*seen, name))
            extra = {k: _inline(v, components, seen) for k, v in value.items() if k != "$ref"}
            return {**inlined, **extra}
        return {k: _ecma(v) if k == "pattern" and isinstance(v, str)
                else _inline(v, components, seen)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(item, components, seen) for item in value]
    return value


# An anchor `\A` or `\Z` not itself escaped (`\\Z` is a backslash, then the letter Z).
_PYTHON_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\\([AZ])")


def _ecma(pattern: str) -> str:
    # Python's anchors `\A` and `\Z` are ECMA's `^` and `$` (JSON Schema patterns are ECMA-262,
    # where `$` matches only at the very end unless the multiline flag is given, and where
    # `\Z` would be an error or a literal Z).
    return _PYTHON_ANCHOR.sub(lambda m: m.group(1) + ("^" if m.group(2) == "A" else "$"),
                              pattern)


@functools.cache
def _generated(schema: type[Schema]) -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin()
    spec = APISpec(title="tools", version="1", openapi_version="3.1.0", plugins=[plugin])
    spec.components.schema("Input", schema=schema)
    components = spec.to_dict()["components"]["schemas"]
    generated: dict[str, Any] = _inline(components["Input"], components)
    generated.setdefault("type", "object")
    generated.setdefault("properties", {})
    return generated


def json_schema(schema: type[Schema], **overrides: Any) -> dict[str, Any]:
    """The JSON Schema of `schema`'s input (a fresh copy), with top-level `overrides`."""
    generated = copy.deepcopy(_generated(schema))
    generated.update(overrides)
    return generated
