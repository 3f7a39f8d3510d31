"""The recorded AMAPI wire payloads in tests/fixtures/ are what AMAPI can send.

Each is checked against the discovery document bundled with google-api-python-client, so a
unit test over a fixture exercises a shape AMAPI really has.
"""

import base64
import json

import pytest

from devstack.amapi_emulator import validate
from tests.conftest import FIXTURES, fixture_json

OPERATIONS = ["operation_lock_succeeded.json", "operation_reset_password_failed.json",
              "operation_clear_app_data_partial.json"]


def test_the_device_is_a_valid_device():
    assert validate("Device", fixture_json("device_status_report.json")) == []


@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_is_a_finished_operation_carrying_a_command(name):
    operation = fixture_json(name)
    assert validate("Operation", operation) == []
    assert operation["done"] is True
    # An Operation's metadata is an Any: AMAPI puts a Command in it.
    metadata = dict(operation["metadata"])
    assert metadata.pop("@type") == "type.googleapis.com/google.android.devicemanagement.v1.Command"
    assert validate("Command", metadata) == []


def test_the_usage_logs_message_carries_a_batch_of_usage_log_events():
    message = fixture_json("pubsub_usage_logs.json")["message"]
    assert message["attributes"] == {"notificationType": "USAGE_LOGS"}
    batch = json.loads(base64.b64decode(message["data"]))
    assert validate("BatchUsageLogEvents", batch) == []


def test_every_fixture_is_checked():
    checked = {"device_status_report.json", "pubsub_usage_logs.json", *OPERATIONS}
    assert {p.name for p in FIXTURES.glob("*.json")} == checked


def test_the_validator_would_notice_a_wrong_shape():
    device = fixture_json("device_status_report.json")
    device["applicationReports"][0]["keyedAppStates"][0]["severity"] = "WARNING"
    assert validate("Device", device)
