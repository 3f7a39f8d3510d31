"""Enrollment profiles end to end through the enroll function, Firestore and the AMAPI emulator."""

import contextlib
import datetime
import json
import threading
import time

import pytest

from shared.clock import parse_rfc3339
from shared.store.client import db
from tests.integration.enroll_helpers import EnrollApi, decode_qr_png, emulator_call, enroll_device

EXTRAS = "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE"
TOKEN_EXTRA = "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN"


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = EnrollApi(function_apps["enroll"], admin_headers)
    assert api.user("kiosk-operator", displayName="Kiosk Operator").status_code == 201
    for name in ("store", "region"):
        assert api.attribute(name).status_code == 201
    return api


def amapi_tokens(server):
    status, body = emulator_call(server, "GET",
                                 "/v1/enterprises/LC00tests/enrollmentTokens?pageSize=100")
    assert status == 200
    return body.get("enrollmentTokens", [])


def stored_profiles():
    return list(db().collection("enrollmentProfiles").stream())


def test_profile_gets_a_dedicated_device_token_valid_for_its_validity(api, amapi_emulator):
    response = api.profile("Lobby kiosks", 30, description="Front desk",
                           customAttributes=[{"name": "store", "value": "042"},
                                             {"name": "Region", "value": "EU"}])
    assert response.status_code == 201, response.get_json()
    profile = response.get_json()
    assert response.headers["Location"].endswith(f"/enrollment-profiles/{profile['id']}")
    assert profile["status"] == "ACTIVE" and profile["enrolledDevices"] == 0
    assert profile["customAttributes"] == [{"name": "store", "value": "042"},
                                           {"name": "region", "value": "EU"}]
    created = parse_rfc3339(profile["token"]["createTime"])
    expires = parse_rfc3339(profile["token"]["expireTime"])
    assert abs((expires - created) - datetime.timedelta(days=30)) < datetime.timedelta(seconds=5)
    qr = json.loads(profile["qrCode"])
    assert qr[EXTRAS][TOKEN_EXTRA] == profile["token"]["value"]
    assert profile["qrImage"]["png"].endswith(f"/enrollment-profiles/{profile['id']}/qr.png")

    [token] = [t for t in amapi_tokens(amapi_emulator) if t["name"] == profile["token"]["name"]]
    assert token["allowPersonalUsage"] == "PERSONAL_USAGE_DISALLOWED_USERLESS"
    status, policy = emulator_call(amapi_emulator, "GET",
                                   "/v1/enterprises/LC00tests/policies/holding-global")
    assert status == 200
    assert policy["statusReportingSettings"]["softwareInfoEnabled"] is True


def test_enrolled_device_carries_profile_user_and_attributes(api, amapi_emulator):
    profile = api.profile(customAttributes=[{"name": "store", "value": "042"}]).get_json()
    status, device = enroll_device(amapi_emulator, profile["token"]["value"])
    assert status == 200
    assert device["policyName"] == "enterprises/LC00tests/policies/holding-global"
    assert json.loads(device["enrollmentTokenData"]) == {
        "profileId": profile["id"], "space": "global", "userName": "kiosk-operator",
        "attrs": {"store": "042"}}


def test_summary_and_etag_are_stable(api):
    created = api.profile().get_json()
    fetched = api.call("GET", f"/enrollment-profiles/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.get_json() == created
    assert fetched.headers["ETag"] == created["etag"]
    assert api.call("GET", "/enrollment-profiles/nope").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"validityDays": 0}, "validityDays"),
    ({"validityDays": 31}, "validityDays"),
    ({"validityDays": "7"}, "validityDays"),
    ({"validityDays": 7.5}, "validityDays"),
    ({"validityDays": None}, "validityDays"),
    ({"userName": "nobody"}, "userName"),
    ({"customAttributes": [{"name": "undefined-attr", "value": "x"}]},
     "customAttributes[0].name"),
    ({"customAttributes": [{"name": "store", "value": "1"}, {"name": "STORE", "value": "2"}]},
     "customAttributes[1].name"),
    ({"customAttributes": [{"name": "store", "value": "x" * 257}]},
     "customAttributes[0].value"),
    ({"colour": "red"}, "colour"),
    ({"name": ""}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"space": "Not A Space"}, "space"),
])
def test_bad_input_is_400_naming_the_field_and_stores_nothing(api, amapi_emulator, body, field):
    request = {"name": "Lobby", "userName": "kiosk-operator", "validityDays": 7, **body}
    response = api.call("POST", "/enrollment-profiles", request)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert field in [d["field"] for d in error["details"]]
    assert stored_profiles() == []
    assert amapi_tokens(amapi_emulator) == []


def test_attributes_too_large_for_amapi_are_400(api, amapi_emulator):
    for i in range(5):
        api.attribute(f"attr{i}")
    attributes = [{"name": f"attr{i}", "value": "v" * 256} for i in range(5)]
    response = api.profile(customAttributes=attributes)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "customAttributes"
    assert "1024" in response.get_json()["error"]["details"][0]["reason"]
    assert stored_profiles() == [] and amapi_tokens(amapi_emulator) == []


def test_duplicate_name_in_a_space_is_409(api, amapi_emulator):
    assert api.profile("Lobby").status_code == 201
    duplicate = api.profile("lobby")
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["details"][0]["field"] == "name"
    assert len(amapi_tokens(amapi_emulator)) == 1
    api.user("kiosk-operator", space="paris")
    assert api.profile("Lobby", space="paris").status_code == 201


def test_concurrent_duplicate_leaves_no_orphan_token(api, amapi_emulator, monkeypatch):
    from shared.store import enrollment_profiles as store

    assert api.profile("Lobby").status_code == 201
    monkeypatch.setattr(store, "name_taken", lambda space, name: False)  # lost the race
    assert api.profile("Lobby").status_code == 409
    assert len(stored_profiles()) == 1
    assert len(amapi_tokens(amapi_emulator)) == 1


def test_amapi_outage_stores_nothing(api, amapi_emulator):
    emulator_call(amapi_emulator, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [503],
                   "methods": ["enterprises.enrollmentTokens.create"]})
    response = api.profile()
    assert response.status_code == 503
    assert response.get_json()["error"]["status"] == "UNAVAILABLE"
    assert stored_profiles() == []


def test_amapi_quota_surfaces_as_429(api, amapi_emulator):
    emulator_call(amapi_emulator, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [429]})
    response = api.profile()
    assert response.status_code == 429
    assert stored_profiles() == []


def test_idempotency_key_creates_one_profile(api, amapi_emulator):
    first = api.call("POST", "/enrollment-profiles", {"name": "Lobby", "userName":
                     "kiosk-operator", "validityDays": 5}, **{"Idempotency-Key": "abc"})
    again = api.call("POST", "/enrollment-profiles", {"name": "Lobby", "userName":
                     "kiosk-operator", "validityDays": 5}, **{"Idempotency-Key": "abc"})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(amapi_tokens(amapi_emulator)) == 1


def test_pages_cover_every_profile_exactly_once(api):
    created = {api.profile(f"Profile {i:02d}", 1 + i).get_json()["id"] for i in range(12)}
    seen, token, pages = [], None, 0
    while True:
        url = "/enrollment-profiles?pageSize=5" + (f"&pageToken={token}" if token else "")
        body = api.call("GET", url).get_json()
        seen += [p["id"] for p in body["enrollmentProfiles"]]
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(created) and len(seen) == 12
    everything = api.call("GET", "/enrollment-profiles?pageSize=1000").get_json()
    assert len(everything["enrollmentProfiles"]) == 12 and "nextPageToken" not in everything


def test_list_filters_and_bad_paging_are_400(api):
    api.profile("A")
    api.user("kiosk-operator", space="paris")
    api.profile("B", space="paris")
    paris = api.call("GET", "/enrollment-profiles?space=paris").get_json()
    assert [p["name"] for p in paris["enrollmentProfiles"]] == ["B"]
    assert api.call("GET", "/enrollment-profiles?status=EXPIRED").get_json() == {
        "enrollmentProfiles": []}
    token = api.call("GET", "/enrollment-profiles?pageSize=1").get_json()["nextPageToken"]
    for url in ("/enrollment-profiles?pageSize=0", "/enrollment-profiles?status=GONE",
                f"/enrollment-profiles?pageToken={token[:-3]}abc",
                f"/enrollment-profiles?space=paris&pageToken={token}"):
        response = api.call("GET", url)
        assert response.status_code == 400, url


def test_validity_edit_replaces_the_token(api, amapi_emulator):
    profile = api.profile(validity=1).get_json()
    edited = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 10},
                      **{"If-Match": profile["etag"]})
    assert edited.status_code == 200, edited.get_json()
    renewed = edited.get_json()
    assert renewed["token"]["value"] != profile["token"]["value"]
    assert renewed["validityDays"] == 10 and renewed["etag"] != profile["etag"]
    expires = parse_rfc3339(renewed["token"]["expireTime"])
    created = parse_rfc3339(renewed["token"]["createTime"])
    assert abs((expires - created) - datetime.timedelta(days=10)) < datetime.timedelta(seconds=5)
    assert enroll_device(amapi_emulator, profile["token"]["value"], "OLD")[0] == 400
    assert enroll_device(amapi_emulator, renewed["token"]["value"], "NEW")[0] == 200
    assert [t["name"] for t in amapi_tokens(amapi_emulator)] == [renewed["token"]["name"]]


def test_stale_if_match_is_412_and_changes_nothing(api, amapi_emulator):
    profile = api.profile().get_json()
    api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 3})
    stale = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 4},
                     **{"If-Match": profile["etag"]})
    assert stale.status_code == 412
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}").get_json()[
        "validityDays"] == 3
    assert api.call("DELETE", f"/enrollment-profiles/{profile['id']}",
                    **{"If-Match": profile["etag"]}).status_code == 412
    assert len(amapi_tokens(amapi_emulator)) == 1


@pytest.mark.parametrize(("body", "field", "reason"), [
    ({"validityDays": 5, "name": "Renamed"}, "name", "immutable"),
    ({"validityDays": 5, "customAttributes": []}, "customAttributes", "immutable"),
    ({"validityDays": 5, "userName": "x"}, "userName", "immutable"),
    ({"validityDays": 5, "bogus": 1}, "bogus", "unknown field"),
    ({"validityDays": 45}, "validityDays", "between 1 and 30"),
    ({}, "validityDays", "required"),
])
def test_patch_accepts_only_validity(api, body, field, reason):
    profile = api.profile().get_json()
    response = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", body)
    assert response.status_code == 400
    details = {d["field"]: d["reason"] for d in response.get_json()["error"]["details"]}
    assert reason in details[field].lower() or reason in details[field]
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}").get_json() == profile


def test_delete_revokes_the_token_and_keeps_devices(api, amapi_emulator):
    profile = api.profile().get_json()
    status, device = enroll_device(amapi_emulator, profile["token"]["value"], "KEEP")
    assert status == 200
    assert api.call("DELETE", f"/enrollment-profiles/{profile['id']}").status_code == 204
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}").status_code == 404
    assert enroll_device(amapi_emulator, profile["token"]["value"], "LATE")[0] == 400
    assert emulator_call(amapi_emulator, "GET", f"/v1/{device['name']}")[0] == 200
    assert api.profile(profile["name"]).status_code == 201  # the name is free again


def test_qr_png_decodes_to_exactly_the_qr_code(api):
    profile = api.profile().get_json()
    response = api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert decode_qr_png(response.data) == profile["qrCode"].encode("utf-8")


def test_qr_svg_is_an_svg_image(api):
    profile = api.profile().get_json()
    response = api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data and b"<path" in response.data


def test_users_type_ahead_is_case_insensitive_on_name_and_display_name(api):
    api.user("abigail", displayName="Abigail Smith")
    api.user("zed", displayName="Abby Zed")
    api.user("ben", displayName="Benjamin")
    names = [u["userName"] for u in api.call("GET", "/users?prefix=AB").get_json()["users"]]
    assert names == ["abigail", "zed"]
    assert api.user("ABIGAIL").status_code == 409
    assert api.user("bad name!").status_code == 400
    assert api.call("GET", "/users?prefix=ab&pageSize=1").get_json()["users"][0][
        "userName"] == "abigail"


def test_attribute_definitions(api):
    assert api.attribute("9lives").status_code == 400
    assert api.attribute("STORE").status_code == 409
    names = [a["name"] for a in api.call("GET", "/device-attributes").get_json()[
        "deviceAttributes"]]
    assert names == ["region", "store"]


def test_firestore_outage_is_503_within_the_budget(api, monkeypatch):
    import time

    from devstack import emulators
    from shared import config
    from shared.store import client

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{emulators.free_port()}")
    monkeypatch.setenv("FIRESTORE_RETRY_BUDGET_SECONDS", "1")
    config.settings.cache_clear()
    client.reset_client()
    try:
        started = time.monotonic()
        response = api.call("GET", "/enrollment-profiles")
        assert response.status_code == 503
        assert response.get_json()["error"]["status"] == "UNAVAILABLE"
        assert time.monotonic() - started < 10
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
        client.reset_client()


def test_delete_racing_enrollments_always_completes_once_the_token_is_revoked(
        api, amapi_emulator):
    from google.cloud import firestore as gfs

    from shared.store import enrollment_profiles as profiles_store

    for trial in range(4):
        profile = api.profile(f"Racing {trial}").get_json()
        ref = db().collection(profiles_store.COLLECTION).document(profile["id"])
        stop = threading.Event()

        def count_enrollments(ref=ref, stop=stop):
            # What the notifications function does while devices enroll with the profile.
            while not stop.is_set():
                with contextlib.suppress(Exception):  # the profile is gone at the end
                    ref.update({"enrolledDevices": gfs.Increment(1)})

        counter = threading.Thread(target=count_enrollments)
        counter.start()
        try:
            time.sleep(0.05)
            deleted = api.call("DELETE", f"/enrollment-profiles/{profile['id']}")
        finally:
            stop.set()
            counter.join()
        assert deleted.status_code == 204, deleted.get_json()
        assert api.call("GET", f"/enrollment-profiles/{profile['id']}").status_code == 404
        assert enroll_device(amapi_emulator, profile["token"]["value"], f"LATE{trial}")[0] == 400


def test_delete_of_a_profile_whose_token_is_already_gone_in_amapi_completes(api, amapi_emulator):
    profile = api.profile().get_json()
    status, _ = emulator_call(amapi_emulator, "DELETE", f"/v1/{profile['token']['name']}")
    assert status == 200
    assert api.call("DELETE", f"/enrollment-profiles/{profile['id']}").status_code == 204
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}").status_code == 404
