"""Notifications under attack and under load: nothing is lost, nothing is retried forever."""

import base64
import json
import threading

import pytest

from shared.store import devices, notification_effects, notification_receipts
from shared.store.client import db
from tests.conftest import ENV
from tests.integration.notification_helpers import push_envelope

DEVICE_ID = "0011223344556677"
NAME = f"enterprises/{ENV.enterprise_id}/devices/{DEVICE_ID}"
SOURCE = f"//pubsub.googleapis.com/{ENV.topic}"


def report(message_id=None, **extra):
    return push_envelope("STATUS_REPORT", {"name": NAME, "state": "ACTIVE", **extra}, message_id)


def post(app, envelope):
    """A Pub/Sub push from the configured topic, as the local stack delivers it."""
    return app.test_client().post(f"/{ENV.topic}", json=envelope).status_code


def cloud_event(app, envelope, source=SOURCE, body=None):
    """A binary-mode CloudEvent as Eventarc delivers it, from `source`."""
    headers = {"ce-id": "ce-1", "ce-specversion": "1.0", "ce-source": source,
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
               "Content-Type": "application/json"}
    data = body if body is not None else json.dumps(envelope).encode()
    return app.test_client().post("/", headers=headers, data=data).status_code


def usage_logs(device_name, *event_ids, message_id=None):
    return push_envelope("USAGE_LOGS", {"device": device_name, "usageLogEvents": [
        {"eventId": i, "eventTime": f"2026-11-21T10:00:{int(i):02d}Z", "eventType": "OS_STARTUP"}
        for i in event_ids]}, message_id)


def good_message_still_applies(app):
    assert post(app, report(hardwareInfo={"serialNumber": "AFTER"})) in (200, 204)
    assert devices.get(NAME)["hardware"]["serialNumber"] == "AFTER"


def test_contended_usage_logs_are_redelivered_not_kept_as_malformed(function_apps, firestore,
                                                                    amapi_emulator):
    app = function_apps["notifications"]
    assert post(app, report()) == 200
    # Another transaction holds the device: every attempt of the delivery's transaction times
    # out on its lock (Aborted), exactly as a burst of notifications for one device does.
    held, release = threading.Event(), threading.Event()
    device_ref = db().collection(devices.COLLECTION).document(DEVICE_ID)

    def hold() -> None:
        from google.cloud import firestore

        @firestore.transactional
        def keep_reading(transaction):
            device_ref.get(transaction=transaction)
            held.set()
            release.wait(60)

        keep_reading(db().transaction())

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        assert post(app, usage_logs(NAME, "1", message_id="contended")) >= 500
    finally:
        release.set()
        holder.join(30)
    assert notification_receipts.malformed() == []
    assert notification_receipts.get_receipt("contended") is None
    # Pub/Sub redelivers the same message: now it applies, once.
    assert post(app, usage_logs(NAME, "1", message_id="contended")) == 200
    assert post(app, usage_logs(NAME, "1", message_id="contended")) == 200
    assert [e["eventId"] for e in devices.get(NAME)["usageEvents"]] == ["1"]
    assert notification_receipts.malformed() == []


def _data(envelope, raw: bytes):
    envelope["message"]["data"] = base64.b64encode(raw).decode()
    return envelope


DEEP = b"[" * 50_000 + b"]" * 50_000
POISON = {
    "2 MB field": lambda app: post(app, report("big-field", hardwareInfo={
        "serialNumber": "S", "model": "x" * 2_000_000})),
    "2 MB notification type": lambda app: post(app, {
        "message": {"attributes": {"notificationType": "T" * 2_000_000},
                    "data": base64.b64encode(b'{"a": 1}').decode(), "messageId": "big-type"},
        "subscription": "s"}),
    "non-JSON data": lambda app: post(app, _data(report("not-json"), b"nope{")),
    "non-JSON CloudEvent body": lambda app: cloud_event(app, None, body=b"nope{" * 10),
    "deeply nested data": lambda app: post(app, _data(report("deep"), DEEP)),
    "deeply nested body": lambda app: app.test_client().post(
        f"/{ENV.topic}", data=b'{"message": ' + DEEP + b', "subscription": "s"}',
        headers={"Content-Type": "application/json"}).status_code,
    "device id not a document id": lambda app: post(app, push_envelope(
        "STATUS_REPORT", {"name": f"enterprises/{ENV.enterprise_id}/devices/__x__"}, "bad-id")),
    "2 MB device name": lambda app: post(app, push_envelope(
        "ENROLLMENT", {"name": f"enterprises/{ENV.enterprise_id}/devices/" + "d" * 2_000_000},
        "long-name")),
}


@pytest.mark.parametrize("poison", list(POISON))
def test_poison_delivery_is_acknowledged_and_kept_with_its_data(function_apps, firestore,
                                                                amapi_emulator, poison):
    app = function_apps["notifications"]
    status = POISON[poison](app)
    assert 200 <= status < 300
    kept = notification_receipts.malformed()
    assert len(kept) == 1
    assert kept[0]["reason"] and kept[0]["data"]
    assert len(kept[0]["data"]) <= notification_receipts.MAX_KEPT_DATA
    good_message_still_applies(app)


@pytest.mark.parametrize("message_id", ["a/b", "__x__", "x" * 1600, "..", "ünï code"])
def test_any_message_id_applies_once(function_apps, firestore, amapi_emulator, message_id):
    app = function_apps["notifications"]
    for _ in range(2):
        assert post(app, report(message_id, hardwareInfo={"serialNumber": "ID"})) == 200
    assert notification_receipts.get_receipt(message_id)["resource"] == NAME
    assert len(notification_receipts.receipts_for(NAME)) == 1
    assert devices.get(NAME)["hardware"]["serialNumber"] == "ID"
    assert notification_receipts.malformed() == []


def test_plain_message_ids_stay_readable():
    assert notification_receipts.document_id("1234567890") == "1234567890"
    hashed = {notification_receipts.document_id(i) for i in ("a/b", "__x__", ".", "x" * 1600)}
    assert len(hashed) == 4 and all(h.startswith("sha256:") for h in hashed)


TOPIC_PATH = ENV.topic.split("projects/", 1)[1]


@pytest.mark.parametrize("source", [
    "",
    f"//pubsub.googleapis.com/projects/evil/topics/x/{ENV.topic}",
    f"evil{ENV.topic}",
    f"//pubsub.googleapis.com/projects/evil{TOPIC_PATH}",
    "//pubsub.googleapis.com/projects/other/topics/amapi-events",
])
def test_cloud_event_from_anywhere_but_the_topic_is_refused(function_apps, firestore,
                                                            amapi_emulator, source, caplog):
    app = function_apps["notifications"]
    assert 200 <= cloud_event(app, report("forged"), source=source) < 300
    assert notification_receipts.get_receipt("forged") is None
    assert devices.get(NAME) is None
    assert "unexpected topic" in caplog.text


@pytest.mark.parametrize("source", [SOURCE, ENV.topic])
def test_cloud_event_from_the_topic_applies(function_apps, firestore, amapi_emulator, source):
    app = function_apps["notifications"]
    assert cloud_event(app, report("genuine"), source=source) == 200
    assert notification_receipts.get_receipt("genuine")["source"] == source
    assert devices.get(NAME)["state"] == "ACTIVE"


def test_push_without_a_topic_is_refused(function_apps, firestore, amapi_emulator):
    response = function_apps["notifications"].test_client().post("/", json=report("no-topic"))
    assert 200 <= response.status_code < 300
    assert notification_receipts.get_receipt("no-topic") is None


def test_usage_logs_of_an_unknown_device_are_kept_aside(function_apps, firestore,
                                                        amapi_emulator, admin_headers):
    app = function_apps["notifications"]
    assert post(app, usage_logs(NAME, "1", "2")) == 200
    commands = function_apps["commands"].test_client()
    assert commands.get(f"/devices/{DEVICE_ID}", headers=admin_headers).status_code == 404
    listed = commands.get("/devices?pageSize=100", headers=admin_headers).get_json()["devices"]
    assert DEVICE_ID not in [d["id"] for d in listed]
    command = commands.post(f"/devices/{DEVICE_ID}/commands", json={"type": "LOCK"},
                            headers=admin_headers)
    assert command.status_code == 404
    aside = notification_effects.unmatched_usage_logs(NAME)
    assert [e["eventId"] for e in aside["usageEvents"]] == ["1", "2"]
    # Pub/Sub may deliver usage logs before the enrollment: they join the device when it comes.
    assert post(app, report()) == 200
    assert post(app, usage_logs(NAME, "3")) == 200
    assert [e["eventId"] for e in devices.get(NAME)["usageEvents"]] == ["1", "2", "3"]
    assert notification_effects.unmatched_usage_logs(NAME) is None
