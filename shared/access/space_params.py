"""The `?space=` parameter, as every route scoped by a space declares it."""

from __future__ import annotations

from typing import Any

from marshmallow import validate

from shared.access.spaces import SPACE_ID, SPACE_ID_RULE
from shared.pagination import ListQuerySchema
from shared.query_params import QuerySchema, QueryText, validate_only_param


def space_param(default: str | None = None, description: str = "") -> QueryText:
    """`?space=`: a space id; empty or absent is `default`."""
    # No load_default=None: the document would call the parameter nullable.
    defaulted: dict[str, Any] = {} if default is None else {"load_default": default}
    return QueryText(validate=[validate.Regexp(SPACE_ID, error=SPACE_ID_RULE)],
                     metadata={"description": description or (
                         "only this space (default: every space the caller can read)"
                         if default is None else f"the space (default {default})")},
                     **defaulted)


class SpaceQuerySchema(QuerySchema):
    """A route that may be narrowed to one space."""

    space = space_param(description="look only in this space (an id alone is enough to "
                                    "find a resource)")


class SpaceListQuerySchema(ListQuerySchema):
    """A paginated list that may be narrowed to one space."""

    space = space_param()


class SpaceChangeQuerySchema(SpaceQuerySchema):
    """A change of a resource found by its id, which can be validated without being made."""

    validateOnly = validate_only_param()
