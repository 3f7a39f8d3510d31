"""Firestore failures as the rest of the code sees them: classified once, here, at the door.

Every function a store module defines is wrapped by `translate_module`, so no google.api_core
exception (nor the client library's ValueError around an exhausted transaction) leaves
`shared/store/`: callers speak only in the classes below.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class StoreError(Exception):
    """Base of every classified Firestore failure."""


class StoreUnavailable(StoreError):
    """Firestore unreachable, timing out, throttling or refusing our credentials after the
    retry budget: nothing was written, and a later attempt can pass."""


class StoreContention(StoreError):
    """Concurrent writers won (an aborted or exhausted transaction, a guard that kept failing):
    a later attempt on fresh data can pass."""


class StoreRefused(StoreError):
    """Firestore refused the content itself (too large, too deep, an invalid id or value):
    retrying the same write cannot help."""


class ChangedConcurrently(StoreError):
    """The resource changed (or vanished) since it was read."""


class AlreadyStored(StoreError):
    """A resource with this id exists."""


class NameTaken(AlreadyStored):
    """Another resource of the space has this name."""


def classify(exc: BaseException) -> StoreError | None:
    """The domain class of a Firestore failure, or None for anything that is not one."""
    from google.api_core import exceptions
    from google.auth import exceptions as auth_exceptions

    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, ValueError) and isinstance(exc.__cause__, exceptions.GoogleAPICallError):
        # The client library reports a transaction aborted on every attempt as a bare
        # ValueError, which callers would otherwise take for bad data.
        return StoreContention(f"the transaction kept being aborted: {exc.__cause__}")
    if isinstance(exc, exceptions.RetryError):
        return StoreUnavailable(f"Firestore did not answer within the retry budget: {exc}")
    if isinstance(exc, auth_exceptions.TransportError | auth_exceptions.RefreshError
                  | auth_exceptions.DefaultCredentialsError):
        return StoreUnavailable(f"Firestore credentials could not be obtained: {exc}")
    if not isinstance(exc, exceptions.GoogleAPICallError):
        return None
    if isinstance(exc, exceptions.InvalidArgument | exceptions.OutOfRange):
        return StoreRefused(str(exc.message))
    if isinstance(exc, exceptions.Aborted | exceptions.Conflict | exceptions.AlreadyExists
                  | exceptions.FailedPrecondition | exceptions.NotFound):
        return StoreContention(str(exc.message))
    return StoreUnavailable(str(exc.message))


def translated(function: F) -> F:
    """`function` with Firestore failures raised as their domain class (cause kept)."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            domain = classify(exc)
            if domain is None or domain is exc:
                raise
            raise domain from exc

    call.__store_translated__ = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


def translate_module(module_name: str) -> None:
    """Wrap every function `module_name` defines (not those it imports) with `translated`."""
    namespace = vars(sys.modules[module_name])
    for name, value in list(namespace.items()):
        if inspect.isfunction(value) and value.__module__ == module_name and \
                not getattr(value, "__store_translated__", False):
            namespace[name] = translated(value)
