"""The Firestore door reports a transaction that stayed contended as contention, not bad data."""

import pytest
from google.api_core import exceptions

from shared.store.client import transact
from shared.store.errors import StoreContention


def test_a_transaction_that_outlived_its_attempts_fails_as_contention():
    def contended(transaction):
        # What google-cloud-firestore raises when every attempt was aborted.
        raise ValueError("Failed to commit transaction in 5 attempts.") from exceptions.Aborted(
            "Transaction lock timeout")

    with pytest.raises(StoreContention) as caught:
        transact(contended)
    assert isinstance(caught.value.__cause__, ValueError)  # the library's report is kept


def test_other_value_errors_are_left_alone():
    def broken(transaction):
        raise ValueError("not a transaction problem")

    with pytest.raises(ValueError, match="not a transaction problem"):
        transact(broken)


def test_the_result_of_the_transaction_is_returned():
    assert transact(lambda transaction: 42) == 42
