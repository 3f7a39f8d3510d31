"""Binding an organisation's enterprise: signup, completion, notifications wired, re-wiring."""

import pytest

from shared.store import devices
from tests.conftest import ENV
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.notification_helpers import Relay
from tests.integration.policy_helpers import amapi_calls, clear_calls, managed_device


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    return EnrollApi(function_apps["enroll"], admin_headers)


def signup(api, server):
    started = api.call("POST", "/enterprise:signup",
                       {"callbackUrl": "https://admin.example.com/amapi/callback",
                        "adminEmail": "it@example.com"})
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    assert body["signupUrl"].startswith("https://")
    status, completed = emulator_call(server, "POST", "/emulator/v1/signup:complete",
                                      {"signupUrlName": body["name"]})
    assert status == 200
    return body["name"], completed["enterpriseToken"]


def test_before_binding_the_configured_enterprise_is_shown(api):
    shown = api.call("GET", "/enterprise").get_json()
    assert shown["name"] == f"enterprises/{ENV.enterprise_id}" and shown["amapiEnabled"]


def test_signup_then_completion_binds_an_enterprise_wired_to_the_topic(api, amapi_emulator):
    name, token = signup(api, amapi_emulator)
    completed = api.call("POST", "/enterprise:complete",
                         {"signupUrlName": name, "enterpriseToken": token,
                          "displayName": "Example Retail"})
    assert completed.status_code == 200, completed.get_json()
    bound = completed.get_json()
    assert bound["amapiEnabled"] is True and bound["name"] != f"enterprises/{ENV.enterprise_id}"
    assert bound["pubsubTopic"] == ENV.topic
    assert set(bound["enabledNotificationTypes"]) == {"ENROLLMENT", "STATUS_REPORT", "COMMAND",
                                                      "USAGE_LOGS"}
    shown = api.call("GET", "/enterprise").get_json()
    assert shown["name"] == bound["name"] and shown["pubsubTopic"] == ENV.topic


def test_replayed_or_bogus_completions_are_refused_and_change_nothing(api, amapi_emulator):
    bogus = api.call("POST", "/enterprise:complete",
                     {"signupUrlName": "signupUrls/Cnope", "enterpriseToken": "x"})
    assert bogus.status_code == 400
    name, token = signup(api, amapi_emulator)
    wrong_token = api.call("POST", "/enterprise:complete",
                           {"signupUrlName": name, "enterpriseToken": "not-the-token"})
    assert wrong_token.status_code == 400
    assert api.call("GET", "/enterprise").get_json()["name"] == f"enterprises/{ENV.enterprise_id}"
    first = api.call("POST", "/enterprise:complete",
                     {"signupUrlName": name, "enterpriseToken": token})
    assert first.status_code == 200
    replay = api.call("POST", "/enterprise:complete",
                      {"signupUrlName": name, "enterpriseToken": token})
    assert replay.status_code == 409
    assert api.call("GET", "/enterprise").get_json()["name"] == first.get_json()["name"]
    assert api.call("POST", "/enterprise:signup",
                    {"callbackUrl": "https://admin.example.com/cb"}).status_code == 409


def test_bad_signup_requests_are_400(api):
    for body in ({}, {"callbackUrl": "not a url"}, {"callbackUrl": "https://x.example.com",
                                                    "adminEmail": "nope"}):
        assert api.call("POST", "/enterprise:signup", body).status_code == 400
    assert api.call("PATCH", "/enterprise", {}).status_code == 400
    assert api.call("PATCH", "/enterprise", {"pubsubTopic": "topic"}).status_code == 400


def test_topic_can_be_rewired(api, amapi_emulator):
    topic = f"projects/{ENV.project}/topics/other-events"
    changed = api.call("PATCH", "/enterprise", {"pubsubTopic": topic})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["pubsubTopic"] == topic
    api.call("PATCH", "/enterprise", {"pubsubTopic": ENV.topic})


def test_a_device_of_the_bound_enterprise_reaches_the_inventory(api, amapi_emulator,
                                                                function_apps):
    relay = Relay(function_apps["notifications"], ENV.pubsub_host, ENV.topic, "binding")
    relay.deliver_all(settle=0)
    name, token = signup(api, amapi_emulator)
    bound = api.call("POST", "/enterprise:complete",
                     {"signupUrlName": name, "enterpriseToken": token}).get_json()
    api.user("kiosk-operator")
    profile = api.profile().get_json()
    assert profile["token"]["name"].startswith(bound["name"] + "/")
    status, device = emulator_call(amapi_emulator, "POST", "/emulator/v1/enroll", {
        "enrollmentToken": profile["token"]["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "B-1", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"}})
    assert status == 200 and device["name"].startswith(bound["name"] + "/")
    assert "ENROLLMENT" in relay.deliver_all()
    record = devices.get(device["name"])
    assert record["enrollmentDecision"]["result"] == "ALLOWED"
    assert record["profileId"] == profile["id"]


def _managed(server, serial, state="ACTIVE"):
    device = managed_device(server, serial)
    if state != "ACTIVE":
        devices.put(device["name"], {"state": state})
    return device


def test_another_enterprise_is_refused_while_devices_are_managed_in_the_current_one(
        api, amapi_emulator):
    name, token = signup(api, amapi_emulator)  # started while no device was managed
    for serial in ("MOVE-1", "MOVE-2"):
        _managed(amapi_emulator, serial)
    _managed(amapi_emulator, "MOVE-3", state="DELETED")
    clear_calls(amapi_emulator)
    refused = api.call("POST", "/enterprise:complete",
                       {"signupUrlName": name, "enterpriseToken": token})
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["status"] == "ALREADY_EXISTS"
    assert "2 device(s)" in error["message"] and "wipe" in error["message"]
    assert f"enterprises/{ENV.enterprise_id}" in error["message"]
    assert api.call("GET", "/enterprise").get_json()["name"] == f"enterprises/{ENV.enterprise_id}"
    assert "enterprises.create" not in {c["method"] for c in amapi_calls(amapi_emulator)}
    again = api.call("POST", "/enterprise:signup", {"callbackUrl": "https://admin.example.com/cb"})
    assert again.status_code == 409 and "2 device(s)" in again.get_json()["error"]["message"]


def test_another_enterprise_may_be_bound_once_every_device_is_deleted(api, amapi_emulator):
    for serial in ("GONE-1", "GONE-2"):
        _managed(amapi_emulator, serial, state="DELETED")
    name, token = signup(api, amapi_emulator)
    bound = api.call("POST", "/enterprise:complete",
                     {"signupUrlName": name, "enterpriseToken": token})
    assert bound.status_code == 200, bound.get_json()
    assert bound.get_json()["name"] != f"enterprises/{ENV.enterprise_id}"

