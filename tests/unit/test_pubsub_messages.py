import base64
import json

from shared.pubsub_messages import decode, resource_name


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
