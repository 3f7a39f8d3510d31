"""The notifications function takes Eventarc CloudEvents and Pub/Sub pushes alike."""

import base64
import json

from shared.store import notification_receipts
from tests.conftest import ENV

DEVICE = {"name": "enterprises/LC00tests/devices/0011223344556677", "state": "ACTIVE",
          "hardwareInfo": {"serialNumber": "SN-1", "manufacturer": "Zebra"}}


def pubsub_message(payload, notification_type="ENROLLMENT", message_id="1001"):
    return {"attributes": {"notificationType": notification_type},
            "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            "messageId": message_id, "publishTime": "2026-11-21T10:00:00.000Z"}


def push(client, message, path=f"/{ENV.topic}"):
    """What the Pub/Sub emulator's push subscription sends."""
    return client.post(path, json={"message": message,
                                   "subscription": "projects/p/subscriptions/amapi-push"})


def eventarc(client, message):
    """A binary-mode CloudEvent as Eventarc delivers it in production."""
    headers = {"ce-id": message["messageId"], "ce-specversion": "1.0",
               "ce-source": f"//pubsub.googleapis.com/{ENV.topic}",
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
               "Content-Type": "application/json"}
    return client.post("/", headers=headers, json={
        "message": message, "subscription": "projects/p/subscriptions/eventarc-sub"})


def test_pubsub_push_is_received_once(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    assert push(client, pubsub_message(DEVICE)).status_code == 200
    receipt = notification_receipts.get_receipt("1001")
    assert receipt["notificationType"] == "ENROLLMENT"
    assert receipt["resource"] == DEVICE["name"]
    assert receipt["source"].endswith(ENV.topic)


def test_eventarc_cloud_event_is_received(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    response = eventarc(client, pubsub_message(DEVICE, "STATUS_REPORT", "2002"))
    assert response.status_code == 200
    assert notification_receipts.get_receipt("2002")["notificationType"] == "STATUS_REPORT"


def test_redelivery_is_acknowledged_and_recorded_once(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    for _ in range(3):
        assert push(client, pubsub_message(DEVICE, message_id="3003")).status_code == 200
    assert eventarc(client, pubsub_message(DEVICE, message_id="3003")).status_code == 200
    assert len(notification_receipts.receipts_for(DEVICE["name"])) == 1


def test_malformed_message_is_acknowledged_and_kept(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    message = pubsub_message(DEVICE, message_id="4004")
    message["data"] = base64.b64encode(b"{not json").decode()
    assert push(client, message).status_code == 200
    kept = notification_receipts.malformed()
    assert len(kept) == 1 and "JSON" in kept[0]["reason"]
    assert notification_receipts.get_receipt("4004") is None


def test_unparseable_delivery_is_acknowledged_not_retried(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    response = client.post("/", data=b"\x00garbage", headers={"Content-Type": "text/plain"})
    assert response.status_code == 204
    assert notification_receipts.malformed()[0]["data"].endswith("garbage")


def test_test_and_unknown_types_are_acknowledged(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    test_message = {"attributes": {"notificationType": "test"}, "data": "",
                    "messageId": "5005"}
    assert push(client, test_message).status_code == 200
    assert push(client, pubsub_message({"name": "x"}, "SOMETHING_NEW", "6006")).status_code == 200
    assert notification_receipts.get_receipt("6006")["notificationType"] == "SOMETHING_NEW"
    assert function_apps["notifications"].test_client().post(
        "/", json={"message": {}}).status_code in (200, 204)


def test_messages_from_another_topic_are_ignored(function_apps, firestore, amapi_emulator):
    client = function_apps["notifications"].test_client()
    response = push(client, pubsub_message(DEVICE, message_id="7007"),
                    path="/projects/intruder/topics/fake-amapi")
    assert response.status_code == 200
    assert notification_receipts.get_receipt("7007") is None
