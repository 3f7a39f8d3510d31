"""Device users: who a dedicated device is set up for (the seed's "local or LDAP user").

Lookups go through `UserDirectory`, so that an LDAP directory can stand beside the local one.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared import access, errors
from shared.clock import utcnow
from shared.http import resource_view
from shared.pagination import paginate
from shared.store import device_users


class UserDirectory(Protocol):
    """Where device users are looked up."""

    def get(self, space: str, user_name: str) -> dict[str, Any] | None:
        """One user by exact name (case-insensitive), or None."""
        ...

    def search(self, space: str, prefix: str, limit: int) -> list[dict[str, Any]]:
        """Users whose userName or displayName starts with `prefix` (case-insensitive)."""
        ...


class LocalDirectory:
    """Users stored in Firestore and managed through this API."""

    def get(self, space: str, user_name: str) -> dict[str, Any] | None:
        """One user by exact name (case-insensitive), or None."""
        return device_users.get(space, user_name)

    def search(self, space: str, prefix: str, limit: int) -> list[dict[str, Any]]:
        """Users whose userName or displayName starts with `prefix` (case-insensitive)."""
        return device_users.search_prefix(space, prefix.lower(), limit)


directory: UserDirectory = LocalDirectory()


def represent(user: dict[str, Any]) -> dict[str, Any]:
    """The API representation of a stored user."""
    return resource_view(user, ("userName", "displayName", "email", "space"))


def create_user(body: dict[str, Any]) -> dict[str, Any]:
    """Add a local user; 409 when the userName is taken in the space."""
    space = body.pop("space")
    access.require(space, access.ADMIN)
    created = device_users.create(space, body, utcnow())
    if created is None:
        raise errors.AlreadyExists(
            f"user {body['userName']!r} already exists in space {space!r}",
            [errors.FieldViolation("userName", "already exists in this space")])
    return represent(created)


def list_users(space: str, prefix: str | None, size: int, token: str | None) -> dict[str, Any]:
    """Type-ahead matches for `prefix` (at most `size`), or one page of every user."""
    access.require(space, access.VIEWER)
    if prefix is not None:
        if token:
            raise errors.InvalidArgument.field("pageToken", "is not used with prefix")
        return {"users": [represent(u) for u in directory.search(space, prefix, size)]}
    return paginate("users", f"deviceUsers|space={space}", size, token,
                    lambda limit, after: device_users.page(space, limit, after),
                    lambda user: user["userNameKey"], represent)
