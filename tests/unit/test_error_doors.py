"""Errors are classified at the doors: Firestore's in shared/store/, AMAPI's in shared/amapi/,
and the HTTP layer alone turns those classes into the contract's statuses."""

import importlib
import inspect
import pathlib

import pytest
from google.api_core import exceptions

from shared.amapi import errors as amapi_errors
from shared.http.router import api_error
from shared.store import errors as store_errors

ROOT = pathlib.Path(__file__).resolve().parents[2]
STORE = ROOT / "shared" / "store"


def _sources(*folders):
    for folder in folders:
        yield from (ROOT / folder).rglob("*.py")


def test_no_module_outside_the_store_speaks_in_firestore_errors():
    leaking = [str(path.relative_to(ROOT)) for path in _sources("shared", "functions")
               if STORE not in path.parents and "google.api_core" in path.read_text()]
    assert leaking == []


def test_the_amapi_door_knows_no_http_status_of_this_suite():
    source = (ROOT / "shared" / "amapi" / "errors.py").read_text()
    assert "from shared import errors" not in source and "ApiError" not in source
    classes = [c for _, c in inspect.getmembers(amapi_errors, inspect.isclass)
               if issubclass(c, amapi_errors.AmapiError)]
    assert classes and not any(hasattr(c("m", "x"), "http_status") for c in classes)


def _store_modules():
    for path in sorted(STORE.glob("*.py")):
        module = importlib.import_module(f"shared.store.{path.stem}")
        if "shared.store.client" in path.read_text() or path.stem == "client":
            yield module


@pytest.mark.parametrize("module", list(_store_modules()), ids=lambda m: m.__name__)
def test_every_function_of_a_store_module_translates_firestore_errors(module):
    defined = [name for name, value in vars(module).items()
               if inspect.isfunction(value) and value.__module__ == module.__name__]
    assert defined
    untranslated = [name for name in defined
                    if not getattr(getattr(module, name), "__store_translated__", False)]
    assert untranslated == []


@pytest.mark.parametrize(("raised", "kind"), [
    (exceptions.ServiceUnavailable("down"), store_errors.StoreUnavailable),
    (exceptions.DeadlineExceeded("slow"), store_errors.StoreUnavailable),
    (exceptions.RetryError("budget spent", exceptions.ServiceUnavailable("down")),
     store_errors.StoreUnavailable),
    (exceptions.ResourceExhausted("quota"), store_errors.StoreUnavailable),
    (exceptions.PermissionDenied("credentials"), store_errors.StoreUnavailable),
    (exceptions.Aborted("lock timeout"), store_errors.StoreContention),
    (exceptions.FailedPrecondition("guard"), store_errors.StoreContention),
    (exceptions.InvalidArgument("too big"), store_errors.StoreRefused),
    (exceptions.OutOfRange("too deep"), store_errors.StoreRefused),
])
def test_firestore_failures_leave_the_store_as_domain_errors(raised, kind):
    def failing():
        raise raised

    with pytest.raises(kind) as caught:
        store_errors.translated(failing)()
    assert caught.value.__cause__ is raised


def test_what_is_not_a_firestore_failure_passes_unchanged():
    def broken():
        raise KeyError("a bug stays a bug")

    with pytest.raises(KeyError):
        store_errors.translated(broken)()


@pytest.mark.parametrize(("error", "http", "status"), [
    (store_errors.StoreUnavailable("down"), 503, "UNAVAILABLE"),
    (store_errors.StoreContention("aborted"), 503, "UNAVAILABLE"),
    (store_errors.StoreRefused("document too large"), 400, "INVALID_ARGUMENT"),
    (store_errors.ChangedConcurrently("p1"), 412, "FAILED_PRECONDITION"),
    (store_errors.AlreadyStored("p1"), 409, "ALREADY_EXISTS"),
    (store_errors.NameTaken("Lobby"), 409, "ALREADY_EXISTS"),
    (amapi_errors.AmapiQuotaExhausted("m", "quota"), 429, "RESOURCE_EXHAUSTED"),
    (amapi_errors.AmapiNotFound("m", "gone"), 404, "NOT_FOUND"),
    (KeyError("x"), None, None),
])
def test_one_table_maps_domain_errors_to_the_contract(error, http, status):
    mapped = api_error(error)
    if http is None:
        assert mapped is None
    else:
        assert (mapped.http_status, mapped.status) == (http, status)
