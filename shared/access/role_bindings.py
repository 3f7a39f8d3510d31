"""Spaces, role bindings and the audit log: who may act where, and what was done."""

from __future__ import annotations

import datetime
from typing import Any

from shared import errors
from shared.access import roles
from shared.access.spaces import GLOBAL
from shared.clock import rfc3339, utcnow
from shared.pagination import paginate
from shared.store import access_control


def _plain(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: rfc3339(v) if isinstance(v, datetime.datetime) else v for k, v in entry.items()}


def _space_exists(space_id: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(f"space {space_id!r} exists",
                                [errors.FieldViolation("id", "already exists")])


def create_space(body: dict[str, Any]) -> dict[str, Any]:
    """A child space; only an ADMIN of its parent may create it (and of the id, if in use)."""
    caller = roles.current()
    parent = body.get("parent") or GLOBAL
    caller.require(parent, roles.ADMIN)
    if body["id"] == GLOBAL:
        raise errors.AlreadyExists("global is the root space")
    declared = access_control.all_spaces()
    if parent != GLOBAL and parent not in declared:
        raise errors.InvalidArgument.field("parent", f"no space {parent!r}")
    if body["id"] in declared:
        # Spaces are never moved: re-declaring one under another parent is refused too.
        raise _space_exists(body["id"])
    # An undeclared id that resources already use hangs under global until declared; declaring
    # it under a child space would hand them (and the right to grant roles there) to that
    # child's admins, so only who is ADMIN over the id as it stands may do it.
    if (caller.level(body["id"]) < roles.ADMIN
            and access_control.space_in_use(body["id"])):
        raise errors.AlreadyExists(
            f"space id {body['id']!r} is already in use by existing resources: only an ADMIN "
            "of the space they are in now may declare it",
            [errors.FieldViolation("id", "already in use")])
    space = {"displayName": body.get("displayName") or body["id"], "parent": parent,
             "createTime": utcnow()}
    if not access_control.create_space(body["id"], space):
        raise _space_exists(body["id"])
    roles.forget_space_tree()
    return _plain({"id": body["id"], **space})


def list_spaces() -> dict[str, Any]:
    """The spaces the caller can read (global first when it can)."""
    caller = roles.current()
    spaces = [{"id": GLOBAL, "displayName": "Global", "parent": None}]
    spaces += [_plain({"id": space, **data})
               for space, data in sorted(access_control.all_spaces().items())]
    return {"spaces": [s for s in spaces if caller.level(str(s["id"])) >= roles.VIEWER]}


def grant(body: dict[str, Any]) -> dict[str, Any]:
    """Bind a role; only an ADMIN of the space, never above the granter's own role there."""
    caller = roles.current()
    caller.require(body["space"], roles.ADMIN)
    if roles.ROLES[body["role"]] > caller.level(body["space"]):
        raise errors.PermissionDenied("nobody can grant more than they hold")
    if body["space"] != GLOBAL and body["space"] not in access_control.all_spaces():
        raise errors.InvalidArgument.field("space", f"no space {body['space']!r}")
    binding = {"principal": body["principal"].lower(), "role": body["role"],
               "space": body["space"], "createTime": utcnow(),
               "grantedBy": caller.principal}
    binding_key = access_control.put_binding(binding)
    return _plain({"id": binding_key, **binding})


def list_bindings(space: str | None, size: int, token: str | None) -> dict[str, Any]:
    """Role bindings in the spaces the caller can read."""
    spaces = roles.current().spaces_for_list(space)
    return paginate("roleBindings", f"roleBindings|space={space or ''}", size, token,
                    lambda limit, after: access_control.bindings_in(spaces, limit, after),
                    lambda binding: binding["id"], _plain)


def revoke(binding_key: str) -> None:
    """Remove a binding; only an ADMIN of its space may."""
    binding = access_control.get_binding(binding_key)
    if binding is None:
        raise errors.NotFound(f"no role binding {binding_key!r}")
    roles.require(binding["space"], roles.ADMIN)
    # Without an ADMIN of global nobody could ever grant one again: the last one stays.
    if not access_control.delete_binding_keeping_one(binding_key, GLOBAL, "ADMIN"):
        raise errors.AlreadyExists(
            "this is the last ADMIN binding of space 'global': grant ADMIN of global to "
            "another principal before revoking it")


def audit_log(space: str | None, principal: str | None, size: int,
              token: str | None) -> dict[str, Any]:
    """Audit entries of the spaces the caller can read, newest first."""
    spaces = roles.current().spaces_for_list(space)
    scope = f"auditLog|space={space or ''}|principal={principal or ''}"
    return paginate("entries", scope, size, token,
                    lambda limit, after: access_control.audit_page(spaces, principal, limit,
                                                                  after),
                    lambda entry: entry["id"],
                    lambda entry: _plain({k: v for k, v in entry.items()
                                          if k not in ("id", "sortKey")}))
