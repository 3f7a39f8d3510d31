"""Custom device attribute definitions: the names an enrollment profile may give values to."""

from __future__ import annotations

from typing import Any

from shared import errors
from shared.access import roles
from shared.access.spaces import GLOBAL
from shared.clock import utcnow
from shared.enrollment.device_users import find_by_id_or_name, name_cursor
from shared.pagination import paginate
from shared.representation import resource_view
from shared.store import device_attributes as store


def represent(attribute: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored definition."""
    return resource_view(attribute, ("name", "description", "space"))


def create_attribute(body: dict[str, Any]) -> dict[str, Any]:
    """Define an attribute; 409 when the name is taken in the space."""
    space = body.pop("space")
    roles.require(space, roles.ADMIN)
    created = store.create(space, body, utcnow())
    if created is None:
        raise errors.AlreadyExists(
            f"device attribute {body['name']!r} already exists in space {space!r}",
            [errors.FieldViolation("name", "already exists in this space")])
    return represent(created)


def list_attributes(space: str | None, size: int, token: str | None) -> dict[str, Any]:
    """One page of the definitions of `space` or, without one, of every space the caller can
    see, by name."""
    spaces = roles.current().spaces_for_list(space)
    return paginate("deviceAttributes", f"deviceAttributes|v2|space={space or ''}", size, token,
                    lambda limit, after: store.page(spaces, limit,
                                                                name_cursor(after)),
                    lambda attribute: [attribute["nameKey"], attribute["id"]], represent)


def get_attribute(key: str, space: str | None) -> dict[str, Any]:
    """One definition by id, or by name in `space` or the one visible space that has it."""
    return represent(find_by_id_or_name(key, space, store.by_id,
                                        store.named, "name", "device attribute"))


def resolve(space: str, values: list[dict[str, str]]) -> list[dict[str, str]]:
    """Check each value names a definition of `space` (or `global`); canonical names back."""
    spaces = [space] if space == GLOBAL else [space, GLOBAL]
    definitions = store.find(spaces, [v["name"] for v in values]) if values else {}
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
