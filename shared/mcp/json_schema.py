"""JSON Schemas for MCP tools, generated from the marshmallow schemas the HTTP API validates
with: one rule, written once, whichever door a request comes through."""

from __future__ import annotations

import copy
import functools
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


def _ecma(pattern: str) -> str:
    # Python's end anchor `\Z` is ECMA's `$` (JSON Schema patterns are ECMA-262, where `$`
    # matches only at the very end unless the multiline flag is given).
    return pattern.replace("\\Z", "$")


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
