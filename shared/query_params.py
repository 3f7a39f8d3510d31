"""Query parameters declared once, as marshmallow schemas that both validate and document them.

A route's `query_schema` (a `QuerySchema`) is the whole list of parameters it takes: the HTTP
layer loads the query string through it before the handler runs and the OpenAPI document lists
its fields. Loading refuses (each refusal naming the parameter): a parameter the schema does not
declare, a parameter given more than once, a value longer than its byte limit (`MAX_QUERY_BYTES`,
`MAX_PAGE_TOKEN_BYTES` for page tokens), and a value its field does not accept. An empty value is
the same as leaving the parameter out unless its field says otherwise. The loaded query has
every declared parameter: its value, its default, or None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

MAX_QUERY_BYTES = 512
MAX_PAGE_TOKEN_BYTES = 4096
UNKNOWN = "unknown parameter"


def utf8_length(text: str) -> int:
    """Bytes of `text` in UTF-8; unencodable text (a lone surrogate) counts as too long."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return 1 << 30


class QueryText(fields.String):
    """A text parameter of at most `max_bytes` bytes of UTF-8."""

    def __init__(self, *, max_bytes: int = MAX_QUERY_BYTES, blank_is_absent: bool = True,
                 **kwargs: Any) -> None:
        validators = list(kwargs.pop("validate", None) or [])
        # No text has more characters than UTF-8 bytes: this documents the limit (maxLength)
        # without refusing anything the byte check lets through.
        validators.append(validate.Length(max=max_bytes))
        super().__init__(validate=validators, **kwargs)
        self.max_bytes = max_bytes
        self.blank_is_absent = blank_is_absent


def query_enum(choices: Iterable[str], description: str) -> QueryText:
    """A text parameter that takes one of `choices`."""
    allowed = list(choices)
    return QueryText(validate=[validate.OneOf(allowed, error="must be one of {choices}")],
                     metadata={"description": description})


class QueryBoolean(fields.Boolean):
    """`true` or `false`, exactly as written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = MAX_QUERY_BYTES
        self.blank_is_absent = True

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> bool:
        if value not in ("true", "false"):
            raise ValidationError("must be true or false")
        return bool(value == "true")


class QuerySchema(Schema):
    """The parameters of one route; a route that declares none takes none."""

    def _sorted(self, data: Any) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The query as `{name: value}` to load, and the parameters refused before loading."""
        declared = {field.data_key or name: field for name, field in self.load_fields.items()}
        values_of = getattr(data, "getlist", None)
        taken: dict[str, str] = {}
        refused: dict[str, list[str]] = {}
        for name in data:
            field = declared.get(name)
            values = values_of(name) if values_of is not None else [data[name]]
            limit = getattr(field, "max_bytes", MAX_QUERY_BYTES)
            if field is None:
                refused[name] = [UNKNOWN]
            elif len(values) > 1:
                refused[name] = ["must be given at most once"]
            elif utf8_length(values[0]) > limit:
                refused[name] = [f"must be at most {limit} bytes"]
            elif values[0] != "" or not getattr(field, "blank_is_absent", True):
                taken[name] = values[0]
        return taken, refused

    @pre_load
    def _load_only_acceptable(self, data: Any, **kwargs: Any) -> dict[str, str]:
        return self._sorted(data)[0]

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _refuse_the_rest(self, data: Any, original_data: Any, **kwargs: Any) -> None:
        # Raised here rather than in pre_load, so the refusals join the fields' own errors.
        refused = self._sorted(original_data)[1]
        if refused:
            raise ValidationError(refused)

    @post_load
    def _every_parameter(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Every declared parameter, None when absent without a default (handlers index)."""
        # Not load_default=None: that would document each parameter as nullable.
        return {name: data.get(name) for name in self.load_fields} | data


def validate_only_param() -> QueryBoolean:
    """`?validateOnly=true` (Google AIP-163): check the change and say what it would do, doing
    nothing."""
    return QueryBoolean(metadata={"description": "true: validate the change and answer 200 "
                                                 "with what it would do; nothing is stored "
                                                 "and AMAPI is not called"})


class ValidateOnlyQuerySchema(QuerySchema):
    """A change that can be validated without being made."""

    validateOnly = validate_only_param()
