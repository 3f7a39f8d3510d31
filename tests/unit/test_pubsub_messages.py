import base64
import json

from shared.notifications.messages import decode, resource_name, shape_problem


def envelope(payload, notification_type="ENROLLMENT", message_id="m-1", raw=None):
    data = raw if raw is not None else base64.b64encode(json.dumps(payload).encode()).decode()
    return {"message": {"attributes": {"notificationType": notification_type}, "data": data,
                        "messageId": message_id, "publishTime": "2026-11-21T10:00:00Z"}}


def test_device_notification_is_decoded():
    device = {"name": "enterprises/LC1/devices/abc", "state": "ACTIVE"}
    decoded = decode(envelope(device))
    assert decoded.problem is None
    assert decoded.payload == device
    assert decoded.notification_type == "ENROLLMENT"
    assert decoded.message_id == "m-1"
    assert resource_name(decoded) == "enterprises/LC1/devices/abc"


def test_usage_logs_name_their_device():
    decoded = decode(envelope({"device": "enterprises/LC1/devices/abc", "usageLogEvents": []},
                              "USAGE_LOGS"))
    assert resource_name(decoded) == "enterprises/LC1/devices/abc"


def test_snake_case_push_fields_are_understood():
    message = envelope({"name": "x"})["message"]
    message["message_id"] = message.pop("messageId")
    assert decode({"message": message}).message_id == "m-1"


def test_test_message_needs_no_data():
    decoded = decode({"message": {"attributes": {"notificationType": "test"},
                                  "messageId": "t-1"}})
    assert decoded.problem is None and decoded.payload is None


def test_malformed_messages_say_why():
    cases = {
        "not base64": envelope(None, raw="%%%not-base64%%%"),
        "not json": envelope(None, raw=base64.b64encode(b"{oops").decode()),
        "not an object": envelope(None, raw=base64.b64encode(b"[1, 2]").decode()),
        "no data": envelope(None, raw=""),
        "no type": {"message": {"data": "e30=", "messageId": "m-2"}},
        "no message": {"subscription": "s"},
        "no id": {"message": {"attributes": {"notificationType": "COMMAND"}, "data": "e30="}},
    }
    for name, event in cases.items():
        assert decode(event).problem, name
        assert decode(event).payload is None, name


def test_undecodable_messages_are_problems_not_crashes():
    deep = base64.b64encode(b"[" * 50_000 + b"]" * 50_000).decode()
    assert "nested" in decode(envelope(None, raw=deep)).problem
    assert decode(envelope({"a": 1}, notification_type="T" * 100_000)).problem
    assert decode(envelope({"a": 1}, notification_type="NEW_KIND")).problem is None


def test_every_message_keeps_its_data_for_inspection():
    raw = base64.b64encode(json.dumps({"name": "enterprises/LC1/devices/abc"}).encode()).decode()
    assert decode(envelope(None, raw=raw)).raw_data == raw


def test_device_names_must_make_document_ids():
    for bad in ("enterprises/LC1/devices/__x__", "enterprises/LC1/devices/..",
                "enterprises/LC1/devices/a/b", "enterprises/LC1/devices/" + "d" * 2000):
        assert shape_problem(decode(envelope({"name": bad}))), bad
        assert shape_problem(decode(envelope({"device": bad}, "USAGE_LOGS"))), bad
    assert shape_problem(decode(envelope({"name": "enterprises/LC1/devices/abc"}))) is None
