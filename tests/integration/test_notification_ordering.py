"""Pub/Sub redelivers and reorders: any shuffle with duplicates ends in the in-order state."""

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack import emulators
from shared.clock import rfc3339, utcnow
from shared.store import access_control
from shared.store.client import db
from tests.conftest import ENV
from tests.integration.enroll_helpers import EnrollApi, emulator_call
from tests.integration.notification_helpers import deliver

VOLATILE = {"decideTime", "updateTime", "receiveTime"}
EFFECT_COLLECTIONS = ("devices", "notificationReceipts", "appFeedback", "operationResults",
                      "commands", "effectivePolicies")


@pytest.fixture(scope="module")
def stream(function_apps, admin_headers, gcp_emulators, amapi_server):
    """One device's notifications: enrollment, reports, usage logs, a command result."""
    amapi_server.reset()
    emulators.clear_firestore(ENV.firestore_host, ENV.project)
    access_control.put_binding({"principal": "admin@example.com", "role": "ADMIN",
                                "space": "global"})
    enroll = EnrollApi(function_apps["enroll"], admin_headers)
    enroll.user("kiosk-operator")
    profile = enroll.profile().get_json()
    status, device = emulator_call(amapi_server, "POST", "/emulator/v1/enroll", {
        "enrollmentToken": profile["token"]["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "P-1", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
    assert status == 200
    base = utcnow()

    def report(hours, states, patch):
        return {**device, "lastStatusReportTime": rfc3339(base + datetime.timedelta(hours=hours)),
                "softwareInfo": {"androidVersion": "14", "securityPatchLevel": patch},
                "applicationReports": [{"packageName": "com.example.kiosk", "state": "INSTALLED",
                                        "keyedAppStates": states}]}

    operation = {"name": f"{device['name']}/operations/42", "done": True,
                 "metadata": {"@type": "type.googleapis.com/google.android.devicemanagement."
                                       "v1.Command", "type": "LOCK"}}
    messages = [
        ("ENROLLMENT", device),
        ("STATUS_REPORT", report(1, [{"key": "a", "severity": "INFO", "data": "1"},
                                     {"key": "b", "severity": "INFO", "data": "1"}],
                                 "2026-10-01")),
        ("STATUS_REPORT", report(2, [{"key": "b", "severity": "ERROR", "data": "2"}],
                                 "2026-11-01")),
        ("USAGE_LOGS", {"device": device["name"], "usageLogEvents": [
            {"eventId": str(i), "eventTime": f"2026-11-21T10:00:0{i}Z",
             "eventType": "OS_STARTUP", "osStartupEvent": {}} for i in range(4)]}),
        ("USAGE_LOGS", {"device": device["name"], "usageLogEvents": [
            {"eventId": str(i), "eventTime": f"2026-11-21T10:00:0{i}Z",
             "eventType": "OS_STARTUP", "osStartupEvent": {}} for i in range(2, 6)]}),
        ("COMMAND", operation),
    ]
    return {"messages": [(f"msg-{i}", kind, payload) for i, (kind, payload)
                         in enumerate(messages)],
            "profile": profile, "operation": operation["name"]}


def reset_effects(stream):
    client = db()
    for collection in EFFECT_COLLECTIONS:
        for snapshot in client.collection(collection).stream():
            snapshot.reference.delete()
    client.collection("enrollmentProfiles").document(stream["profile"]["id"]).update(
        {"enrolledDevices": 0})
    client.collection("commands").document("cmd-1").set(
        {"operationName": stream["operation"], "state": "SENT"})


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def final_state(stream):
    client = db()
    state = {collection: {s.id: _clean(s.to_dict()) for s in client.collection(collection).stream()}
             for collection in ("devices", "appFeedback", "operationResults", "commands")}
    profile = client.collection("enrollmentProfiles").document(stream["profile"]["id"]).get()
    state["enrolledDevices"] = profile.get("enrolledDevices")
    return state


def play(function_apps, stream, order):
    reset_effects(stream)
    for index in order:
        message_id, kind, payload = stream["messages"][index]
        assert deliver(function_apps["notifications"], kind, payload, message_id) in (200, 204)
    return final_state(stream)


@pytest.fixture(scope="module")
def in_order(function_apps, stream):
    return play(function_apps, stream, range(len(stream["messages"])))


def test_in_order_delivery_has_every_effect(in_order, stream):
    [device] = in_order["devices"].values()
    assert device["software"]["securityPatchLevel"] == "2026-11-01"
    assert len(device["usageEvents"]) == 6
    assert [s["key"] for s in in_order["appFeedback"].values()] == ["b"]
    assert in_order["commands"]["cmd-1"]["state"] == "SUCCEEDED"
    assert in_order["enrolledDevices"] == 1


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_shuffle_with_duplicates_ends_in_the_same_state(function_apps, stream, in_order,
                                                            data):
    count = len(stream["messages"])
    order = data.draw(st.permutations(range(count)))
    duplicates = data.draw(st.lists(st.integers(0, count - 1), max_size=4))
    positions = data.draw(st.lists(st.integers(0, count), min_size=len(duplicates),
                                   max_size=len(duplicates)))
    delivery = list(order)
    for duplicate, position in zip(duplicates, positions, strict=True):
        delivery.insert(position, duplicate)
    assert play(function_apps, stream, delivery) == in_order
