"""Custom device attribute definitions: the names an enrollment profile may give values to."""

from __future__ import annotations

from typing import Any

from shared import access, errors
from shared.clock import utcnow
from shared.http import resource_view
from shared.pagination import paginate
from shared.spaces import GLOBAL
from shared.store import device_attributes


def represent(attribute: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored definition."""
    return resource_view(attribute, ("name", "description", "space"))


def create_attribute(body: dict[str, Any]) -> dict[str, Any]:
    """Define an attribute; 409 when the name is taken in the space."""
    space = body.pop("space")
    access.require(space, access.ADMIN)
    created = device_attributes.create(space, body, utcnow())
    if created is None:
        raise errors.AlreadyExists(
            f"device attribute {body['name']!r} already exists in space {space!r}",
            [errors.FieldViolation("name", "already exists in this space")])
    return represent(created)


def list_attributes(space: str, size: int, token: str | None) -> dict[str, Any]:
    """One page of the definitions of a space, by name."""
    access.require(space, access.VIEWER)
    return paginate("deviceAttributes", f"deviceAttributes|space={space}", size, token,
                    lambda limit, after: device_attributes.page(space, limit, after),
                    lambda attribute: attribute["nameKey"], represent)


def resolve(space: str, values: list[dict[str, str]]) -> list[dict[str, str]]:
    """Check each value names a definition of `space` (or `global`); canonical names back."""
    spaces = [space] if space == GLOBAL else [space, GLOBAL]
    definitions = device_attributes.find(spaces, [v["name"] for v in values]) if values else {}
    resolved, problems = [], []
    for index, value in enumerate(values):
        definition = definitions.get(value["name"].lower())
        if definition is None:
            problems.append(errors.FieldViolation(
                f"customAttributes[{index}].name",
                f"{value['name']!r} is not a defined device attribute"))
            continue
        resolved.append({"name": definition["name"], "value": value["value"]})
    if problems:
        raise errors.InvalidArgument("customAttributes name undefined device attributes",
                                     problems)
    return resolved
