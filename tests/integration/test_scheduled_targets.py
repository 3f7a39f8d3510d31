"""Scheduled targets answer only the scheduler's principal, whatever roles others hold."""

import datetime

import pytest

from shared import config
from shared.clock import rfc3339, utcnow
from shared.store import access_control
from tests.conftest import token_for
from tests.integration.enroll_helpers import EnrollApi

SCHEDULED = ["expire_tokens", "reconcile_commands"]
SCHEDULER = "admin@example.com"  # SCHEDULER_PRINCIPALS of the test environment


def _bearer(email):
    return {"Authorization": f"Bearer {token_for(email)}"}


@pytest.fixture
def principals(firestore):
    """A global ADMIN who is not the scheduler, a VIEWER of global, and a principal with no role."""
    access_control.put_binding({"principal": "boss@example.com", "role": "ADMIN",
                                "space": "global"})
    access_control.put_binding({"principal": "viewer@example.com", "role": "VIEWER",
                                "space": "global"})
    return ["boss@example.com", "viewer@example.com", "nobody@example.com"]


def test_scheduled_targets_use_the_configured_scheduler_principals():
    assert config.settings().scheduler_principals == frozenset({SCHEDULER})


@pytest.mark.parametrize("target", SCHEDULED)
def test_scheduler_principal_runs_the_target(function_apps, firestore, amapi_emulator, target):
    response = function_apps[target].test_client().post("/", headers=_bearer(SCHEDULER))
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("target", SCHEDULED)
def test_anyone_else_is_403_in_the_envelope(function_apps, principals, amapi_emulator, target):
    client = function_apps[target].test_client()
    for email in principals:
        response = client.post("/", headers=_bearer(email))
        assert response.status_code == 403, (email, response.get_json())
        error = response.get_json()["error"]
        assert error["status"] == "PERMISSION_DENIED" and "scheduler" in error["message"]


@pytest.mark.parametrize("target", SCHEDULED)
def test_no_token_is_401(function_apps, firestore, target):
    response = function_apps[target].test_client().post("/")
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == "UNAUTHENTICATED"


def test_others_cannot_expire_every_profile_with_a_future_now(function_apps, admin_headers,
                                                              principals, amapi_emulator):
    api = EnrollApi(function_apps["enroll"], admin_headers)
    api.user()
    profile = api.profile().get_json()
    far_future = {"now": rfc3339(utcnow() + datetime.timedelta(days=365))}
    client = function_apps["expire_tokens"].test_client()
    for email in principals:
        assert client.post("/", json=far_future, headers=_bearer(email)).status_code == 403
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}").get_json()[
        "status"] == "ACTIVE"
    ran = client.post("/", json=far_future, headers=admin_headers)
    assert ran.status_code == 200 and ran.get_json()["expired"] == 1


def test_unset_scheduler_principals_refuse_everyone(function_apps, firestore, admin_headers,
                                                    monkeypatch):
    monkeypatch.setenv("SCHEDULER_PRINCIPALS", "")
    config.settings.cache_clear()
    try:
        for target in SCHEDULED:
            response = function_apps[target].test_client().post("/", headers=admin_headers)
            assert response.status_code == 403
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()


def test_scheduler_principals_are_matched_case_insensitively(function_apps, firestore,
                                                             amapi_emulator, monkeypatch):
    monkeypatch.setenv("SCHEDULER_PRINCIPALS",
                       " Cron@Example.com , scheduler@project.iam.gserviceaccount.com")
    config.settings.cache_clear()
    try:
        response = function_apps["reconcile_commands"].test_client().post(
            "/", headers=_bearer("cron@example.com"))
        assert response.status_code == 200, response.get_json()
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
