"""One-time enrollment profiles: each token enrolls one device, then the profile is USED."""

import datetime

import pytest

from shared.clock import rfc3339, utcnow
from tests.integration.enroll_helpers import EnrollApi, emulator_call, enroll_device
from tests.integration.notification_helpers import deliver


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = EnrollApi(function_apps["enroll"], admin_headers)
    assert api.user("kiosk-operator").status_code == 201
    return api


@pytest.fixture
def notify(function_apps):
    def send(device, kind="ENROLLMENT", message_id=None):
        status = deliver(function_apps["notifications"], kind, device, message_id)
        assert status in (200, 204)
    return send


def enrolled(server, profile, serial):
    """A device enrolled with the profile's current token, as AMAPI returns it."""
    status, device = enroll_device(server, profile["token"]["value"], serial)
    assert status == 200, device
    return device


def amapi_token(server, name):
    """The token as the emulator keeps it (its full resource, even once spent)."""
    return server.app.simulation.state.tokens[name].resource


def shown(api, profile):
    response = api.call("GET", f"/enrollment-profiles/{profile['id']}")
    assert response.status_code == 200
    return response.get_json()


def listed(api, status):
    response = api.call("GET", f"/enrollment-profiles?status={status}")
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["enrollmentProfiles"]]


def test_one_time_token_enrolls_one_device_until_a_validity_edit_renews_it(
        api, notify, amapi_emulator):
    created = api.profile("Spare scanner", 7, oneTimeOnly=True)
    assert created.status_code == 201, created.get_json()
    profile = created.get_json()
    assert profile["oneTimeOnly"] is True and profile["status"] == "ACTIVE"
    assert amapi_token(amapi_emulator, profile["token"]["name"])["oneTimeOnly"] is True

    first = enrolled(amapi_emulator, profile, "ONE-1")
    notify(first, message_id="enroll-one-1")
    spent = shown(api, profile)
    assert spent["status"] == "USED" and spent["enrolledDevices"] == 1
    assert spent["etag"] != profile["etag"]
    qr = api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.png")
    assert qr.status_code == 412 and "one-time" in qr.get_json()["error"]["message"]
    assert listed(api, "USED") == [profile["id"]]
    assert listed(api, "ACTIVE") == []

    # Redelivered, or followed by its first status report: counted once.
    notify(first, message_id="enroll-one-1")
    notify({**first, "lastStatusReportTime": rfc3339(utcnow())}, "STATUS_REPORT")
    assert shown(api, profile)["enrolledDevices"] == 1

    assert enroll_device(amapi_emulator, profile["token"]["value"], "ONE-2")[0] == 400

    renewed = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", {"validityDays": 3})
    assert renewed.status_code == 200, renewed.get_json()
    fresh = renewed.get_json()
    assert fresh["status"] == "ACTIVE" and fresh["oneTimeOnly"] is True
    assert fresh["token"]["name"] != profile["token"]["name"]
    assert amapi_token(amapi_emulator, fresh["token"]["name"])["oneTimeOnly"] is True
    assert listed(api, "ACTIVE") == [profile["id"]] and listed(api, "USED") == []
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.svg").status_code == 200

    second = enrolled(amapi_emulator, fresh, "ONE-2")
    notify(second)
    again = shown(api, profile)
    assert again["status"] == "USED" and again["enrolledDevices"] == 2
    assert enroll_device(amapi_emulator, fresh["token"]["value"], "ONE-3")[0] == 400


def test_regular_profile_stays_active_after_two_enrollments(api, notify, amapi_emulator):
    profile = api.profile("Lobby kiosks", 7).get_json()
    assert profile["oneTimeOnly"] is False
    assert not amapi_token(amapi_emulator, profile["token"]["name"]).get("oneTimeOnly")
    for serial in ("MANY-1", "MANY-2"):
        notify(enrolled(amapi_emulator, profile, serial))
    after = shown(api, profile)
    assert after["status"] == "ACTIVE" and after["enrolledDevices"] == 2
    assert api.call("GET", f"/enrollment-profiles/{profile['id']}/qr.png").status_code == 200


def test_late_enrollment_of_a_replaced_token_does_not_spend_the_fresh_one(
        api, notify, amapi_emulator):
    profile = api.profile("Replaced", 7, oneTimeOnly=True).get_json()
    early = enrolled(amapi_emulator, profile, "EARLY")
    fresh = api.call("PATCH", f"/enrollment-profiles/{profile['id']}",
                     {"validityDays": 7}).get_json()
    notify(early)  # the old token's enrollment, delivered after the renewal
    after = shown(api, profile)
    assert after["enrolledDevices"] == 1 and after["status"] == "ACTIVE"
    notify(enrolled(amapi_emulator, fresh, "FRESH"))
    assert shown(api, profile)["status"] == "USED"


@pytest.mark.parametrize("body", [{"oneTimeOnly": False}, {"validityDays": 5,
                                                           "oneTimeOnly": True}])
def test_one_time_only_cannot_be_changed(api, amapi_emulator, body):
    profile = api.profile("Fixed", 7, oneTimeOnly=True).get_json()
    response = api.call("PATCH", f"/enrollment-profiles/{profile['id']}", body)
    assert response.status_code == 400
    details = {d["field"]: d["reason"] for d in response.get_json()["error"]["details"]}
    assert details == {"oneTimeOnly": "is immutable"}
    assert shown(api, profile) == profile


def test_one_time_only_is_a_strict_boolean_defaulting_to_false(api, amapi_emulator):
    for value in ("true", 1, None):
        response = api.profile("Loose", 7, oneTimeOnly=value)
        assert response.status_code == 400
        assert [d["field"] for d in response.get_json()["error"]["details"]] == ["oneTimeOnly"]
    assert listed(api, "ACTIVE") == []
    explicit = api.profile("Explicit", 7, oneTimeOnly=False)
    assert explicit.status_code == 201, explicit.get_json()
    assert explicit.get_json()["oneTimeOnly"] is False
    assert api.profile("Implicit", 7).get_json()["oneTimeOnly"] is False


def test_openapi_documents_one_time_only_and_used(function_apps):
    document = function_apps["enroll"].test_client().get("/openapi.json").get_json()
    operation = document["paths"]["/enrollment-profiles"]
    schemas = document["components"]["schemas"]

    def resolved(schema):
        return schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    body = resolved(operation["post"]["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["oneTimeOnly"]["type"] == "boolean"
    assert body["properties"]["oneTimeOnly"]["default"] is False
    shown_schema = resolved(operation["post"]["responses"]["201"]["content"][
        "application/json"]["schema"])
    assert shown_schema["properties"]["oneTimeOnly"]["type"] == "boolean"
    assert "USED" in shown_schema["properties"]["status"]["enum"]


def test_expiry_and_deletion_keep_working_for_one_time_profiles(
        api, notify, function_apps, admin_headers, amapi_emulator):
    waiting = api.profile("Waiting", 1, oneTimeOnly=True).get_json()
    spent = api.profile("Spent", 1, oneTimeOnly=True).get_json()
    notify(enrolled(amapi_emulator, spent, "SPENT-1"))
    run = function_apps["expire_tokens"].test_client().post(
        "/", json={"now": rfc3339(utcnow() + datetime.timedelta(days=2))},
        headers=admin_headers)
    assert run.status_code == 200, run.get_json()
    assert run.get_json()["expired"] == 1
    assert shown(api, waiting)["status"] == "EXPIRED"
    assert enroll_device(amapi_emulator, waiting["token"]["value"], "LATE")[0] == 400
    assert shown(api, spent)["status"] == "USED"  # spent, whatever its expiry

    assert api.call("DELETE", f"/enrollment-profiles/{spent['id']}").status_code == 204
    assert spent["token"]["name"] not in amapi_emulator.app.simulation.state.tokens
    status, _ = emulator_call(amapi_emulator, "GET", f"/v1/{spent['token']['name']}")
    assert status == 404
