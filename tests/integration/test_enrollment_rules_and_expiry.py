"""Enrollment rules per space, and the scheduled expiry of enrollment tokens."""

import datetime

import pytest

from shared import config
from shared.clock import rfc3339, utcnow
from tests.integration.enroll_helpers import EnrollApi, decode_qr_png, emulator_call, enroll_device


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = EnrollApi(function_apps["enroll"], admin_headers)
    api.user("kiosk-operator")
    return api


@pytest.fixture
def expiry(function_apps, admin_headers):
    client = function_apps["expire_tokens"].test_client()

    def run(now=None):
        body = {"now": rfc3339(now)} if now else None
        return client.post("/", json=body, headers=admin_headers)
    return run


def test_rules_default_then_replace(api):
    defaults = api.call("GET", "/enrollment-rules").get_json()
    assert defaults["allowlist"] == {"enabled": False, "serialNumbers": [], "imeis": []}
    assert defaults["action"] == "WIPE" and defaults["manufacturers"] == []
    rules = {"allowlist": {"enabled": True, "serialNumbers": ["SN-2", "SN-1", "SN-1"],
                           "imeis": ["356938035643809"]},
             "manufacturers": ["Zebra", "Honeywell"], "minAndroidVersion": "11",
             "minSecurityPatchLevel": "2026-01-01", "action": "DISABLE"}
    put = api.call("PUT", "/enrollment-rules", rules, **{"If-Match": defaults["etag"]})
    assert put.status_code == 200, put.get_json()
    stored = api.call("GET", "/enrollment-rules?space=global").get_json()
    assert stored["allowlist"]["serialNumbers"] == ["SN-1", "SN-2"]
    assert stored["action"] == "DISABLE" and stored["minAndroidVersion"] == "11"
    assert stored["etag"] == put.get_json()["etag"] != defaults["etag"]
    assert api.call("GET", "/enrollment-rules?space=paris").get_json()["action"] == "WIPE"


def test_stale_rules_write_is_412(api):
    first = api.call("GET", "/enrollment-rules").get_json()
    api.call("PUT", "/enrollment-rules", {"action": "DISABLE"})
    stale = api.call("PUT", "/enrollment-rules", {"action": "WIPE"},
                     **{"If-Match": first["etag"]})
    assert stale.status_code == 412
    assert api.call("GET", "/enrollment-rules").get_json()["action"] == "DISABLE"


@pytest.mark.parametrize(("rules", "field"), [
    ({"action": "BRICK"}, "action"),
    ({"minSecurityPatchLevel": "2026-02-30"}, "minSecurityPatchLevel"),
    ({"minSecurityPatchLevel": "last year"}, "minSecurityPatchLevel"),
    ({"minAndroidVersion": "eleven"}, "minAndroidVersion"),
    ({"allowlist": {"enabled": True, "imeis": ["35693A035643809"]}}, "allowlist.imeis[0]"),
    ({"allowlist": {"enabled": "yes"}}, "allowlist.enabled"),
    ({"manufacturers": "Zebra"}, "manufacturers"),
    ({"strict": True}, "strict"),
])
def test_bad_rules_are_400_naming_the_field(api, rules, field):
    response = api.call("PUT", "/enrollment-rules", rules)
    assert response.status_code == 400
    assert field in [d["field"] for d in response.get_json()["error"]["details"]]
    assert "updateTime" not in api.call("GET", "/enrollment-rules").get_json()


def test_expiry_expires_exactly_the_due_profiles(api, expiry, amapi_emulator):
    short = [api.profile(f"Day {i}", 1).get_json() for i in range(3)]
    long = [api.profile(f"Month {i}", 30).get_json() for i in range(2)]
    two_days_later = utcnow() + datetime.timedelta(days=2)
    first = expiry(two_days_later)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["expired"] == 3
    assert expiry(two_days_later).get_json()["expired"] == 0
    for profile in short:
        shown = api.call("GET", f"/enrollment-profiles/{profile['id']}").get_json()
        assert shown["status"] == "EXPIRED"
        assert api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.png").status_code == 412
        assert enroll_device(amapi_emulator, profile["token"]["value"])[0] == 400
    for profile in long:
        assert api.call("GET", f"/enrollment-profiles/{profile['id']}").get_json()[
            "status"] == "ACTIVE"
    expired = api.call("GET", "/enrollment-profiles?status=EXPIRED").get_json()
    assert sorted(p["id"] for p in expired["enrollmentProfiles"]) == sorted(
        p["id"] for p in short)


def test_expired_profile_is_renewed_by_a_validity_edit(api, expiry, amapi_emulator):
    profile = api.profile("Day", 1).get_json()
    expiry(utcnow() + datetime.timedelta(days=2))
    renewed = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 7})
    assert renewed.status_code == 200 and renewed.get_json()["status"] == "ACTIVE"
    qr = api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.png")
    assert qr.status_code == 200
    assert decode_qr_png(qr.data) == renewed.get_json()["qrCode"].encode()
    assert enroll_device(amapi_emulator, renewed.get_json()["token"]["value"])[0] == 200


def test_failed_revocations_are_retried_by_the_next_run(api, expiry, amapi_emulator):
    profile = api.profile("Renewed while AMAPI throttles deletes", 5).get_json()
    emulator_call(amapi_emulator, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [429],
                   "methods": ["enterprises.enrollmentTokens.delete"]})
    renewed = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 6})
    assert renewed.status_code == 200
    assert enroll_device(amapi_emulator, profile["token"]["value"], "STILL-LIVE")[0] == 200
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    assert expiry().get_json() == {"expired": 0, "revoked": 1, "deferred": 0}
    assert enroll_device(amapi_emulator, profile["token"]["value"], "TOO-LATE")[0] == 400
    assert expiry().get_json() == {"expired": 0, "revoked": 0, "deferred": 0}


def test_now_is_refused_outside_the_emulators(expiry, firestore, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "cloud-run-iam")
    config.settings.cache_clear()
    try:
        response = expiry(utcnow())
        assert response.status_code == 400
        assert response.get_json()["error"]["details"][0]["field"] == "now"
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()


def test_expiry_route_requires_a_token(function_apps):
    assert function_apps["expire_tokens"].test_client().post("/").status_code == 401
