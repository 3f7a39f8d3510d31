"""Who may do what where: roles per space, inherited by child spaces.

Spaces form a tree under `global`. A principal's role in a space is the highest it is bound to
there or in any ancestor: ADMIN (everything), OPERATOR (read and device commands), VIEWER (read).
A principal with no binding is refused everywhere (403); a resource in a space the caller cannot
see is reported as not found (404), never revealed. The access of the current request lives in
a context variable set by the HTTP layer, so the domain code checks it where it knows the space.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from shared import errors
from shared.access.spaces import GLOBAL

VIEWER, OPERATOR, ADMIN = 1, 2, 3
ROLES = {"VIEWER": VIEWER, "OPERATOR": OPERATOR, "ADMIN": ADMIN}
MAX_VISIBLE_SPACES = 30  # Firestore's limit on an `in` filter


@dataclass(frozen=True)
class Access:
    """The roles of one caller, and the space tree they apply to."""

    principal: str
    roles: dict[str, int] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    system: bool = False
    touched: list[str] = field(default_factory=list, compare=False)

    def level(self, space: str) -> int:
        """The caller's role level in `space` (inherited from ancestors), 0 for none."""
        if self.system:
            return ADMIN
        best, seen = 0, set()
        current: str | None = space
        while current and current not in seen:
            seen.add(current)
            best = max(best, self.roles.get(current, 0))
            # A space nobody declared yet hangs under global: only global roles reach it.
            current = self.parents.get(current, GLOBAL) if current != GLOBAL else None
        return best

    def require(self, space: str, needed: int) -> None:
        """404 when the caller cannot see `space`, 403 when its role is too low there."""
        self.touched.append(space)
        granted = self.level(space)
        if granted == 0:
            raise errors.NotFound("not found")
        if granted < needed:
            raise errors.PermissionDenied(
                f"your role in space {space!r} does not allow this")

    def visible(self) -> list[str] | None:
        """Spaces the caller can read; None when it can read everything."""
        if self.level(GLOBAL) >= VIEWER:
            return None
        spaces = [s for s in self.parents if self.level(s) >= VIEWER]
        return sorted(spaces)[:MAX_VISIBLE_SPACES]

    def spaces_for_list(self, requested: str | None) -> list[str] | None:
        """The spaces a list may show: the one asked for (if readable) or every visible one."""
        if requested:
            self.require(requested, VIEWER)
            return [requested]
        return self.visible()


SYSTEM = Access(principal="system", system=True)
_current: contextvars.ContextVar[Access | None] = contextvars.ContextVar("access", default=None)


def current() -> Access:
    """The access of the running request; refuses when none was established."""
    access = _current.get()
    if access is None:
        raise errors.PermissionDenied("no caller identity for this operation")
    return access


def set_current(access: Access | None) -> contextvars.Token[Access | None]:
    """Establish the access of a request (the HTTP layer calls this)."""
    return _current.set(access)


def reset_current(token: contextvars.Token[Access | None]) -> None:
    """Forget the access established with `token` (end of request)."""
    _current.reset(token)


@contextlib.contextmanager
def as_system() -> Iterator[None]:
    """Run trusted work (notifications, scheduled targets, benchmarks) with every right."""
    token = _current.set(SYSTEM)
    try:
        yield
    finally:
        _current.reset(token)


def scheduler(principal: str) -> Access:
    """Every right for a configured scheduler principal (`SCHEDULER_PRINCIPALS`), else 403."""
    from shared.config import settings

    # Roles do not count here, not even ADMIN of global: a scheduled run acts on every space at
    # once (and against the emulators takes a `now` that expires every profile), so only the
    # identity the scheduler calls with may start one; an administrator who needs a run now
    # triggers the scheduler job, which calls with that identity.
    if principal.lower() not in settings().scheduler_principals:
        raise errors.PermissionDenied(
            f"{principal} may not run scheduled targets: only the scheduler may")
    return SYSTEM


def require(space: str, needed: int) -> None:
    """`current().require(space, needed)`."""
    current().require(space, needed)


def load(principal: str) -> Access:
    """The access of a principal from its role bindings and the space tree."""
    from shared.store import access_control

    roles: dict[str, int] = {}
    for binding in access_control.bindings_of(principal):
        level = ROLES.get(binding.get("role", ""), 0)
        roles[binding["space"]] = max(roles.get(binding["space"], 0), level)
    return Access(principal=principal, roles=roles, parents=space_tree())


SPACE_TREE_TTL_SECONDS = 10.0
_tree_lock = threading.Lock()
_tree: tuple[float, dict[str, str]] | None = None


def space_tree() -> dict[str, str]:
    """Each declared space's parent, read at most every few seconds per instance.

    Safe to serve a little stale: spaces are never moved or deleted, so a tree that lacks a
    space just declared elsewhere hangs it under `global`, where only global roles reach it —
    it can only grant less, never more.
    """
    global _tree
    from shared.store import access_control

    with _tree_lock:
        if _tree is not None and time.monotonic() - _tree[0] < SPACE_TREE_TTL_SECONDS:
            return _tree[1]
    parents = {space: str(data.get("parent") or GLOBAL)
               for space, data in access_control.all_spaces().items()}
    parents[GLOBAL] = ""
    with _tree_lock:
        _tree = (time.monotonic(), parents)
    return parents


def forget_space_tree() -> None:
    """Read the tree afresh next time (after this instance declared a space; in tests)."""
    global _tree
    with _tree_lock:
        _tree = None
