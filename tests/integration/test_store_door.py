"""The Firestore door against the emulator: failures leave shared/store/ as domain errors."""

import time

import pytest

from shared.store import access_control, token_revocations
from shared.store.errors import StoreRefused, StoreUnavailable


def test_a_document_firestore_will_not_store_is_refused(firestore):
    with pytest.raises(StoreRefused):
        access_control.append_audit("too-large", {"action": "x" * 1_100_000})


def test_an_unreachable_firestore_is_unavailable_within_the_budget(firestore, monkeypatch):
    from devstack import emulators
    from shared import config
    from shared.store import client

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{emulators.free_port()}")
    monkeypatch.setenv("FIRESTORE_RETRY_BUDGET_SECONDS", "1")
    config.settings.cache_clear()
    client.reset_client()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            token_revocations.pending(10)
        assert time.monotonic() - started < 10
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
        client.reset_client()
