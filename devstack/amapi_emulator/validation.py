"""Validation of JSON values and query strings against the AMAPI discovery document.

Messages imitate Google's JSON transcoder ("Invalid JSON payload received. Unknown name ...",
"Invalid value at '<path>' (<type>), <value>"); paths use the JSON (camelCase) field names, so
a caller can find the offending field in the payload it sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from devstack.amapi_emulator import discovery

TYPE_URL_PREFIX = "type.googleapis.com/google.android.devicemanagement.v1."
DURATION_RE = re.compile(r"^-?\d+(\.\d{1,9})?s$")
DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
INT64_RE = re.compile(r"^-?\d+$")
BASE64_RE = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1, "TYPE_INT32"),
    "uint32": (0, 2**32 - 1, "TYPE_UINT32"),
    "int64": (-(2**63), 2**63 - 1, "TYPE_INT64"),
    "uint64": (0, 2**64 - 1, "TYPE_UINT64"),
}
SPECIAL_FLOATS = ("NaN", "Infinity", "-Infinity")


class SchemaValidationError(ValueError):
    """A value does not conform to its discovery schema; `errors` lists every problem."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


def root_name(schema_name: str) -> str:
    """The name Google gives a request body in error paths (`Policy` -> `policy`)."""
    return schema_name[:1].lower() + schema_name[1:]


def validate(schema_name: str, value: Any, *, root: str | None = None) -> list[str]:
    """Every way `value` breaks the discovery schema `schema_name`; empty when it conforms."""
    if schema_name not in discovery.schemas():
        raise KeyError(f"no schema {schema_name!r} in the discovery document")
    errors: list[str] = []
    _check({"$ref": schema_name}, value, root or root_name(schema_name), schema_name, errors)
    return errors


def validate_or_raise(schema_name: str, value: Any, *, root: str | None = None) -> None:
    """Raise SchemaValidationError unless `value` conforms to the discovery schema."""
    errors = validate(schema_name, value, root=root)
    if errors:
        raise SchemaValidationError(errors)


def _invalid(path: str, type_name: str, value: Any) -> str:
    return f"Invalid value at '{path}' ({type_name}), {json.dumps(value)}"


def _enum_type(field_name: str) -> str:
    # Discovery drops proto enum names; the field name is the closest readable stand-in.
    return TYPE_URL_PREFIX + field_name[:1].upper() + field_name[1:]


def _check(schema: dict[str, Any], value: Any, path: str, field: str, errors: list[str]) -> None:
    if value is None:
        return  # proto3 JSON: null means "not set"
    if "$ref" in schema:
        ref = schema["$ref"]
        _check_message(discovery.schemas()[ref], value, path, TYPE_URL_PREFIX + ref, errors)
        return
    kind = schema.get("type")
    if kind == "any":
        return
    if kind == "object":
        if "properties" in schema:
            _check_message(schema, value, path, "object", errors)
        elif not isinstance(value, dict):
            errors.append(_invalid(path, "type.googleapis.com/google.protobuf.Struct", value))
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():
                _check(schema["additionalProperties"], item, f'{path}["{key}"]', field, errors)
        return
    if kind == "array":
        if not isinstance(value, list):
            errors.append(_invalid(path, "list", value))
            return
        for index, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{index}]", field, errors)
        return
    problem = scalar_problem(schema, value, field)
    if problem:
        errors.append(_invalid(path, problem, value))


def _check_message(schema: dict[str, Any], value: Any, path: str, type_name: str,
                   errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(_invalid(path, type_name, value))
        return
    properties = schema.get("properties", {})
    for key, item in value.items():
        if key not in properties:
            errors.append(
                f'Invalid JSON payload received. Unknown name "{key}" at \'{path}\': '
                "Cannot find field.")
            continue
        _check(properties[key], item, f"{path}.{key}", key, errors)


def scalar_problem(schema: dict[str, Any], value: Any, field: str) -> str | None:
    """The expected type's name when `value` is not a valid scalar for `schema`, else None."""
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "boolean":
        return None if isinstance(value, bool) else "TYPE_BOOL"
    if kind == "integer":
        low, high, type_name = INT_RANGES.get(fmt or "int32", INT_RANGES["int32"])
        number = _as_integer(value, accept_string=False)
        return None if number is not None and low <= number <= high else type_name
    if kind == "number":
        type_name = "TYPE_FLOAT" if fmt == "float" else "TYPE_DOUBLE"
        if isinstance(value, bool):
            return type_name
        return None if isinstance(value, int | float) or value in SPECIAL_FLOATS else type_name
    if kind != "string":
        return None
    if fmt in ("int64", "uint64"):
        low, high, type_name = INT_RANGES[fmt]
        number = _as_integer(value, accept_string=True)
        return None if number is not None and low <= number <= high else type_name
    if not isinstance(value, str):
        if "enum" in schema:
            return _enum_type(field)
        return {
            "google-duration": "type.googleapis.com/google.protobuf.Duration",
            "google-datetime": "type.googleapis.com/google.protobuf.Timestamp",
            "byte": "TYPE_BYTES",
        }.get(fmt or "", "TYPE_STRING")
    if "enum" in schema and value not in schema["enum"]:
        return _enum_type(field)
    if fmt == "google-duration" and not DURATION_RE.match(value):
        return "type.googleapis.com/google.protobuf.Duration"
    if fmt == "google-datetime" and not is_rfc3339(value):
        return "type.googleapis.com/google.protobuf.Timestamp"
    if fmt == "byte" and not _is_base64(value):
        return "TYPE_BYTES"
    return None


def _as_integer(value: Any, *, accept_string: bool) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if accept_string and isinstance(value, str) and INT64_RE.match(value):
        return int(value)
    return None


def is_rfc3339(value: str) -> bool:
    """True for an RFC 3339 timestamp such as `2026-11-21T10:00:00.123Z`."""
    found = DATETIME_RE.match(value)
    if not found:
        return False
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return True


def _is_base64(value: str) -> bool:
    # Google accepts both alphabets, with or without padding.
    if not BASE64_RE.match(value):
        return False
    return len(value.rstrip("=")) % 4 != 1


def validate_query(method: discovery.Method, args: Mapping[str, Sequence[str]]) -> list[str]:
    """Every problem with a request's query parameters for `method`; empty when acceptable."""
    allowed = {**discovery.global_parameters(), **method.query_parameters}
    errors: list[str] = []
    for name, values in args.items():
        spec = allowed.get(name)
        if spec is None:
            errors.append(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message.")
            continue
        if len(values) > 1 and not spec.get("repeated"):
            errors.append(
                f"Invalid JSON payload received. Parameter '{name}' is not repeated but was "
                f"given {len(values)} times.")
            continue
        for index, raw in enumerate(values):
            path = f"{name}[{index}]" if spec.get("repeated") else name
            problem = _query_value_problem(spec, raw, name)
            if problem:
                errors.append(f"Invalid value at '{path}' ({problem}), {json.dumps(raw)}")
    return errors


def _query_value_problem(spec: dict[str, Any], raw: str, name: str) -> str | None:
    kind = spec.get("type")
    if kind == "boolean":
        return None if raw.lower() in ("true", "false") else "TYPE_BOOL"
    if kind == "integer":
        low, high, type_name = INT_RANGES.get(spec.get("format") or "int32", INT_RANGES["int32"])
        if not INT64_RE.match(raw.strip()):
            return type_name
        return None if low <= int(raw) <= high else type_name
    return scalar_problem(spec, raw, name)


def validate_update_mask(schema_name: str, mask: str) -> list[str]:
    """Problems with a comma-separated field mask whose paths must be fields of the schema."""
    errors: list[str] = []
    for path in mask_paths(mask):
        schema: dict[str, Any] | None = discovery.schemas()[schema_name]
        for segment in path.split("."):
            properties = (schema or {}).get("properties", {})
            if segment not in properties:
                errors.append(
                    f"Invalid field mask: \"{path}\" is not a field of {schema_name}.")
                break
            ref = properties[segment].get("$ref")
            schema = discovery.schemas()[ref] if ref else None
    return errors


def mask_paths(mask: str) -> list[str]:
    """The paths of a comma-separated field mask, blanks dropped."""
    return [path.strip() for path in mask.split(",") if path.strip()]
