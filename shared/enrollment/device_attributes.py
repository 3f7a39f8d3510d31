"""Custom device attribute definitions: the names an enrollment profile may give values to."""

from __future__ import annotations

import logging
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.access.spaces import GLOBAL
from shared.clock import utcnow
from shared.enrollment.device_users import (
    NAMED_IN_REFUSAL,
    current_etag,
    find_by_id_or_name,
    in_use,
    name_cursor,
    versioned_for_change,
)
from shared.pagination import paginate
from shared.representation import check_if_match, resource_view
from shared.store import device_attributes as store
from shared.store.versioned import Stored


def represent(attribute: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored definition."""
    view = resource_view(attribute, ("name", "description", "allowedValues", "space"))
    view["required"] = bool(attribute.get("required", False))
    return view


def create_attribute(body: dict[str, Any]) -> dict[str, Any]:
    """Define an attribute; 409 when the name is taken in the space."""
    space = body.pop("space")
    roles.require(space, roles.ADMIN)
    if body.get("allowedValues") is None:
        body.pop("allowedValues", None)
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


def for_change(key: str, space: str | None) -> Stored:
    """A definition (by id, or by name as `get_attribute` finds it) the caller may change: 404
    when it cannot see it, 403 below ADMIN of its space."""
    found = find_by_id_or_name(key, space, store.by_id, store.named, "name", "device attribute")
    return versioned_for_change(found, store.versioned, key, "device attribute")


def change_attribute(stored: Stored, changes: dict[str, Any],
                     if_match: str | None) -> dict[str, Any]:
    """Change what a definition allows; 412 when profiles or devices that carry it would break
    it (a value no longer allowed; a profile without a value for a now required attribute)."""
    check_if_match(if_match, current_etag(stored))
    after = {**stored.data, **changes}
    if changes.get("allowedValues") or changes.get("required"):
        profiles, devices = _carriers(stored.data, every_profile=bool(changes.get("required")))
        _check_against(after, profiles, devices)
    now = utcnow()
    written = {**changes, "updateTime": now}
    store.update(stored, written)
    data = {k: v for k, v in {**stored.data, **written}.items() if v is not None}
    return represent({"id": stored.id, **data})


def delete_attribute(stored: Stored, if_match: str | None) -> None:
    """Delete a definition no profile or device carries; 412 naming them otherwise."""
    check_if_match(if_match, current_etag(stored))
    profiles, devices = _carriers(stored.data)
    users = [p for p in profiles if _value_of(p, stored.data["name"]) is not None]
    carrying = [d for d in devices if _value_of(d, stored.data["name"]) is not None]
    if users or carrying:
        raise in_use(f"device attribute {stored.data['name']!r}", "name", users, carrying)
    store.delete(stored)
    logs.log(logging.INFO, "device attribute deleted", attributeId=stored.id,
             space=stored.data["space"])


def _carriers(definition: dict[str, Any], every_profile: bool = False,
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Profiles and devices this definition governs that carry attribute values (every
    profile with `every_profile`): those of its space or, for a `global` one, of every space
    without its own definition of the name."""
    space = definition["space"]
    if space != GLOBAL:
        return store.carriers([space], every_profile)
    shadowing = {d["space"] for d in store.named(None, definition["name"], 1000)} - {GLOBAL}
    profiles, devices = store.carriers(None, every_profile)
    return ([p for p in profiles if p.get("space", GLOBAL) not in shadowing],
            [d for d in devices if d.get("space", GLOBAL) not in shadowing])


def _value_of(carrier: dict[str, Any], name: str) -> str | None:
    for value in carrier.get("customAttributes") or []:
        if str(value.get("name", "")).lower() == name.lower():
            return str(value.get("value", ""))
    return None


def _check_against(after: dict[str, Any], profiles: list[dict[str, Any]],
                   devices: list[dict[str, Any]]) -> None:
    """412 naming the profiles and devices the changed definition `after` would not admit."""
    name, allowed = after["name"], after.get("allowedValues")
    problems: list[errors.FieldViolation] = []
    if allowed:
        for kind, carriers in (("enrollment profile", profiles), ("device", devices)):
            for carrier in carriers:
                value = _value_of(carrier, name)
                if value is not None and value not in allowed:
                    problems.append(errors.FieldViolation(
                        "allowedValues", f"{kind} {carrier['id']} carries {value!r}"))
    if after.get("required"):
        # Devices keep what they enrolled with; only profiles issue values from now on.
        for profile in profiles:
            if _value_of(profile, name) is None:
                problems.append(errors.FieldViolation(
                    "required", f"enrollment profile {profile['id']} gives it no value"))
    if problems:
        raise errors.FailedPrecondition(
            f"device attribute {name!r}: {len(problems)} profile(s) or device(s) would not "
            f"satisfy the change: change or delete them first", problems[:2 * NAMED_IN_REFUSAL])


def resolve(space: str, values: list[dict[str, str]]) -> list[dict[str, str]]:
    """Check each value names a definition of `space` (or `global`) and is one it allows, and
    that every required definition gets a value; canonical names back."""
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
        allowed = definition.get("allowedValues")
        if allowed and value["value"] not in allowed:
            problems.append(errors.FieldViolation(
                f"customAttributes[{index}].value",
                f"must be one of {', '.join(repr(a) for a in allowed)}"))
            continue
        resolved.append({"name": definition["name"], "value": value["value"]})
    given = {value["name"].lower() for value in values}
    for definition in _required(spaces):
        if definition["nameKey"] not in given:
            problems.append(errors.FieldViolation(
                "customAttributes", f"needs a value for required attribute "
                                    f"{definition['name']!r}"))
    if problems:
        raise errors.InvalidArgument("customAttributes do not fit the device attribute "
                                     "definitions", problems)
    return resolved


def _required(spaces: list[str]) -> list[dict[str, Any]]:
    """The required definitions that govern a profile of `spaces[0]`: its own, and global ones
    it does not redefine."""
    found = store.required_in(spaces)
    inherited = [d["name"] for d in found if d["space"] != spaces[0]]
    own = set(store.find(spaces[:1], inherited)) if inherited else set()
    return [d for d in found if d["space"] == spaces[0] or d["nameKey"] not in own]
