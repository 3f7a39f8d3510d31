"""The Firestore client, created on first use so that cold starts do not pay for it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import settings
from shared.store.errors import translate_module

if TYPE_CHECKING:
    from google.cloud.firestore import Client

T = TypeVar("T")
_lock = threading.Lock()
_client: Client | None = None


def db() -> Client:
    """The process-wide Firestore client (honours FIRESTORE_EMULATOR_HOST)."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                from google.cloud import firestore

                config = settings()
                _client = firestore.Client(project=config.project or None,
                                           database=config.firestore_database)
    return _client


@functools.cache
def _call_limits(budget: float) -> dict[str, Any]:
    from google.api_core.retry import Retry, if_transient_error

    return {"retry": Retry(predicate=if_transient_error, initial=0.1, maximum=2.0,
                           multiplier=2.0, timeout=budget),
            "timeout": min(budget, 10.0)}


def bounded() -> dict[str, Any]:
    """`retry` and `timeout` arguments that bound one Firestore call by the retry budget.

    Without them an unreachable Firestore can hold a request far beyond any client's patience;
    with them it fails as StoreUnavailable, which the HTTP layer answers with 503.
    """
    return _call_limits(settings().firestore_retry_budget_seconds)


def reset_client() -> None:
    """Forget the client (tests that change the emulator host call this)."""
    global _client
    with _lock:
        _client = None


def filtered_query(collection: str, filters: dict[str, Any], limit: int,
                   after: str | None) -> Any:
    """Documents of `collection` matching `filters`, by id, starting after id `after`.

    Each filter is an equality, except `spaces` (the `space` field is one of them) and `label`
    (one of the `labels`).
    """
    from google.cloud.firestore import FieldFilter

    query: Any = db().collection(collection)
    for field, value in filters.items():
        if field == "label":
            query = query.where(filter=FieldFilter("labels", "array_contains", value))
        elif field == "spaces":
            query = query.where(filter=FieldFilter("space", "in", value or ["-"]))
        else:
            query = query.where(filter=FieldFilter(field, "==", value))
    query = query.order_by("__name__").limit(limit)
    if after:
        query = query.start_after({"__name__": db().collection(collection).document(after)})
    return query


def filtered_page(collection: str, filters: dict[str, Any], limit: int,
                  after: str | None) -> list[dict[str, Any]]:
    """The documents `filtered_query` finds, each with its `id`."""
    return [{"id": s.id, **(s.to_dict() or {})}
            for s in filtered_query(collection, filters, limit, after).stream(**bounded())]


def transact(run: Callable[[Any], T]) -> T:
    """Run a `@firestore.transactional` function in a new transaction.

    A transaction that stays contended past its attempts fails as StoreContention (retry
    later), not as the client library's bare ValueError, which callers would mistake for bad
    data: `translate_module` below classifies it.
    """
    return run(db().transaction())


translate_module(__name__)
