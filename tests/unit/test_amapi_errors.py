import pytest

from shared.amapi import errors as amapi
from shared.http.router import api_error


@pytest.mark.parametrize(("status", "message", "kind", "http"), [
    (400, "Invalid value at 'policy.x'", amapi.AmapiInvalidArgument, 400),
    (404, "Requested entity was not found.", amapi.AmapiNotFound, 404),
    (500, "Requested entity was not found.", amapi.AmapiNotFound, 404),
    (409, "policy in use", amapi.AmapiFailedPrecondition, 412),
    (403, "The caller does not have permission", amapi.AmapiPermissionDenied, 503),
    (429, "Quota exceeded", amapi.AmapiQuotaExhausted, 429),
    (500, "Internal error", amapi.AmapiUnavailable, 503),
    (503, "The service is currently unavailable.", amapi.AmapiUnavailable, 503),
])
def test_each_status_is_classified_once_and_mapped_to_the_contract(status, message, kind, http):
    failure = amapi.classify("enterprises.policies.patch", status, message)
    assert type(failure) is kind
    assert api_error(failure).http_status == http


def test_classified_failures_carry_no_http_status_only_domain_facts():
    throttled = amapi.classify("enterprises.devices.issueCommand", 429, "Quota exceeded")
    crashed = amapi.classify("enterprises.devices.issueCommand", 500, "Internal error")
    not_serving = amapi.classify("enterprises.devices.issueCommand", 503, "Unavailable")
    assert not hasattr(throttled, "http_status")
    assert throttled.never_executed and not_serving.never_executed
    assert not crashed.never_executed  # a 500 may have acted: a re-send must look first
    assert (throttled.status, crashed.status) == ("RESOURCE_EXHAUSTED", "UNAVAILABLE")


def test_quota_exhaustion_tells_the_caller_when_to_come_back():
    mapped = api_error(amapi.classify("enterprises.policies.patch", 429, "Quota exceeded"))
    assert mapped.status == "RESOURCE_EXHAUSTED" and mapped.headers["Retry-After"] == "60"


def test_google_error_bodies_yield_their_status_and_message():
    body = b'{"error": {"code": 400, "message": "Unknown name \\"x\\"", "status": "INVALID"}}'
    assert amapi.status_of(body) == ("INVALID", 'Unknown name "x"')
    assert amapi.status_of(b"<html>bad gateway</html>") == ("", "<html>bad gateway</html>")
    assert amapi.status_of(None) == ("", "")


def test_a_400_failed_precondition_is_a_state_conflict_not_bad_input():
    failure = amapi.classify("enterprises.policies.delete", 400, "policy is in use",
                             "FAILED_PRECONDITION")
    assert type(failure) is amapi.AmapiFailedPrecondition
    assert api_error(failure).http_status == 412
