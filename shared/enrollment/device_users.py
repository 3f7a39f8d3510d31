"""Device users: who a dedicated device is set up for (the seed's "local or LDAP user").

Lookups go through `UserDirectory`, so that an LDAP directory can stand beside the local one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from shared import errors, logs
from shared.access import roles
from shared.clock import rfc3339, utcnow
from shared.pagination import paginate
from shared.representation import check_if_match, etag_of, resource_view
from shared.store import device_users as store
from shared.store.versioned import Stored

NAMED_IN_REFUSAL = 10  # users of a resource a 412 names; the count says how many there are


class UserDirectory(Protocol):
    """Where device users are looked up."""

    def get(self, space: str, user_name: str) -> dict[str, Any] | None:
        """One user by exact name (case-insensitive), or None."""
        ...

    def search(self, spaces: list[str] | None, prefix: str,
               limit: int) -> list[dict[str, Any]]:
        """Users of `spaces` (None: all) whose userName or displayName starts with `prefix`
        (case-insensitive)."""
        ...


class LocalDirectory:
    """Users stored in Firestore and managed through this API."""

    def get(self, space: str, user_name: str) -> dict[str, Any] | None:
        """One user by exact name (case-insensitive), or None."""
        return store.get(space, user_name)

    def search(self, spaces: list[str] | None, prefix: str,
               limit: int) -> list[dict[str, Any]]:
        """Users of `spaces` (None: all) whose userName or displayName starts with `prefix`
        (case-insensitive)."""
        return store.search_prefix(spaces, prefix.lower(), limit)


directory: UserDirectory = LocalDirectory()


def represent(user: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored user."""
    return resource_view(user, ("userName", "displayName", "email", "space"))


def create_user(body: dict[str, Any]) -> dict[str, Any]:
    """Add a local user; 409 when the userName is taken in the space."""
    space = body.pop("space")
    roles.require(space, roles.ADMIN)
    created = store.create(space, body, utcnow())
    if created is None:
        raise errors.AlreadyExists(
            f"user {body['userName']!r} already exists in space {space!r}",
            [errors.FieldViolation("userName", "already exists in this space")])
    return represent(created)


def list_users(space: str | None, prefix: str | None, size: int,
               token: str | None) -> dict[str, Any]:
    """Type-ahead matches for `prefix` (at most `size`), or one page of every user, in `space`
    or, without one, in every space the caller can see."""
    spaces = roles.current().spaces_for_list(space)
    if prefix is not None:
        if token:
            raise errors.InvalidArgument.field("pageToken", "is not used with prefix")
        return {"users": [represent(u) for u in directory.search(spaces, prefix, size)]}
    return paginate("users", f"deviceUsers|v2|space={space or ''}", size, token,
                    lambda limit, after: store.page(spaces, limit, name_cursor(after)),
                    lambda user: [user["userNameKey"], user["id"]], represent)


def name_cursor(after: Any) -> tuple[str, str] | None:
    """The `(name key, id)` a page token carries; 400 for anything else."""
    if after is None:
        return None
    if (isinstance(after, list) and len(after) == 2
            and all(isinstance(part, str) for part in after)):
        return after[0], after[1]
    raise errors.InvalidArgument.field("pageToken", "is not a page token issued for this list")


def get_user(key: str, space: str | None) -> dict[str, Any]:
    """One user by id, or by userName in `space` or the one visible space that has it."""
    return represent(find_by_id_or_name(key, space, store.by_id, store.named,
                                        "userName", "user"))


def for_change(key: str, space: str | None) -> Stored:
    """A user (by id, or by userName as `get_user` finds it) that the caller may change: 404
    when it cannot see it, 403 below ADMIN of its space."""
    found = find_by_id_or_name(key, space, store.by_id, store.named, "userName", "user")
    return versioned_for_change(found, store.versioned, key, "user")


def versioned_for_change(found: dict[str, Any], versioned: Callable[[str], Stored | None],
                         key: str, kind: str) -> Stored:
    """An item `find_by_id_or_name` found, read again with its version for a guarded write;
    403 below ADMIN of its space, 404 when it went meanwhile."""
    roles.require(found["space"], roles.ADMIN)
    stored = versioned(found["id"])
    if stored is None:
        raise errors.NotFound(f"no {kind} {key!r}")
    return stored


def current_etag(stored: Stored) -> str:
    """The etag of the version read."""
    return etag_of(stored.id, rfc3339(stored.data["updateTime"]))


def change_user(stored: Stored, changes: dict[str, Any], if_match: str | None) -> dict[str, Any]:
    """Set or clear (None) a user's displayName and email; 412 when `If-Match` is stale or the
    user changed meanwhile."""
    check_if_match(if_match, current_etag(stored))
    now = utcnow()
    written = {**changes, "updateTime": now}
    if "displayName" in changes:
        written["displayNameKey"] = (changes["displayName"] or "").lower()
    store.update(stored, written)
    data = {k: v for k, v in {**stored.data, **written}.items() if v is not None}
    return represent({"id": stored.id, **data})


def delete_user(stored: Stored, if_match: str | None) -> None:
    """Delete a user no profile or device refers to; 412 naming them otherwise."""
    check_if_match(if_match, current_etag(stored))
    space, name = stored.data["space"], stored.data["userName"]
    profiles = store.profiles_naming(space, name)
    devices = store.devices_of(space, name)
    if profiles or devices:
        raise in_use(f"user {name!r}", "userName", profiles, devices)
    store.delete(stored)
    logs.log(logging.INFO, "device user deleted", userId=stored.id, space=space)


def in_use(what: str, field: str, profiles: list[dict[str, Any]],
           devices: list[dict[str, Any]]) -> errors.FailedPrecondition:
    """412 naming (some of) the profiles and devices that still use a resource."""
    details = [errors.FieldViolation(field, f"used by enrollment profile {p['id']} "
                                            f"({p.get('name')!r})")
               for p in profiles[:NAMED_IN_REFUSAL]]
    details += [errors.FieldViolation(field, f"used by device {d['id']}")
                for d in devices[:NAMED_IN_REFUSAL]]
    return errors.FailedPrecondition(
        f"{what} is still used by {len(profiles)} enrollment profile(s) and {len(devices)} "
        f"device(s): delete the profiles and move the devices first", details)


def find_by_id_or_name(key: str, space: str | None,
                       by_id: Callable[[str], dict[str, Any] | None],
                       named: Callable[[list[str] | None, str, int], list[dict[str, Any]]],
                       field: str, kind: str) -> dict[str, Any]:
    """A stored item by document id, else by name among the spaces the caller can read.

    Names are unique per space only: a name several visible spaces use is a 400 asking for the
    id or `?space=`; an item the caller cannot see is 404.
    """
    caller = roles.current()
    found = by_id(key)
    if found is not None and (space is None or found["space"] == space):
        caller.require(found["space"], roles.VIEWER)
        return found
    matches = named(caller.spaces_for_list(space), key, roles.MAX_VISIBLE_SPACES + 1)
    if not matches:
        raise errors.NotFound(f"no {kind} {key!r}")
    if len(matches) > 1:
        raise ambiguous(field, key, [m["space"] for m in matches], kind)
    return matches[0]


def ambiguous(field: str, name: str, spaces: list[str], kind: str) -> errors.InvalidArgument:
    """400 for a name that several visible spaces use: the id, or `?space=`, tells them apart."""
    listed = ", ".join(sorted(spaces))
    return errors.InvalidArgument(
        f"{kind} {name!r} exists in spaces {listed}: use its id, or add ?space=",
        [errors.FieldViolation(field, f"names a {kind} in several spaces ({listed})")])
