import json
import logging

from shared import logs


def _format(message, **fields):
    record = logging.LogRecord("amapi_cosu", logging.WARNING, __file__, 1, message, None, None)
    record.fields = fields
    return json.loads(logs.CloudLoggingFormatter().format(record))


def test_entries_are_json_with_cloud_logging_keys():
    entry = _format("policy pushed", policy={"name": "enterprises/E/policies/p"})
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "policy pushed"
    assert entry["policy"] == {"name": "enterprises/E/policies/p"}
    assert entry["time"].endswith("+00:00")


def test_secrets_are_masked_at_any_depth():
    entry = _format("wifi saved", wifi={"ssid": "Store", "passphrase": "s3cret-pass",
                                        "nested": [{"Password": "hunter2"}]},
                    token="ABCDEFGHIJ", headers={"Authorization": "Bearer eyJhbGciOi.x.y"})
    text = json.dumps(entry)
    for secret in ("s3cret-pass", "hunter2", "ABCDEFGHIJ", "eyJhbGciOi"):
        assert secret not in text
    assert entry["wifi"]["ssid"] == "Store"


def test_bearer_tokens_inside_messages_are_masked():
    entry = _format("calling with Authorization: Bearer eyJraWQiOiJ4In0.payload.sig")
    assert "eyJraWQiOiJ4In0" not in entry["message"]


def test_trace_header_is_attached(monkeypatch):
    logs.set_trace("4bf92f3577b34da6a3ce929d0e0e4736/1;o=1")
    try:
        entry = _format("hello")
    finally:
        logs.set_trace(None)
    assert entry["logging.googleapis.com/trace"].endswith(
        "/traces/4bf92f3577b34da6a3ce929d0e0e4736")
    assert entry["logging.googleapis.com/trace"].startswith("projects/")
