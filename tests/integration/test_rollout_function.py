"""The rollouts function: a rollout message reaches the worker; a malformed one is acknowledged."""

import base64
import json
import logging

import pytest

from shared import logs
from tests.conftest import ENV

HANDLED = "rollout message handled"


def envelope(data, message_id="r1"):
    message = {"messageId": message_id, "publishTime": "2026-11-21T10:00:00Z"}
    if data is not None:
        message["data"] = data if isinstance(data, str) else \
            base64.b64encode(json.dumps(data).encode()).decode()
    return {"message": message, "subscription": "projects/p/subscriptions/rollouts-push"}


def push(function_apps, body, topic=ENV.rollout_topic):
    return function_apps["rollouts"].test_client().post(f"/{topic}", json=body)


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def caplog():
    """The suite's own log records (its logger does not propagate to pytest's)."""
    logs.configure()
    records = Records()
    logs.logger.addHandler(records)
    yield records
    logs.logger.removeHandler(records)


def handled(caplog):
    return [r for r in caplog.records if r.getMessage() == HANDLED]


def test_a_rollout_message_pushed_by_pubsub_reaches_the_worker(function_apps, firestore, caplog):
    response = push(function_apps, envelope({"rolloutId": "x"}, "m-42"))

    assert response.status_code == 200, response.get_data(as_text=True)
    [record] = handled(caplog)
    assert record.fields == {"rolloutId": "x", "messageId": "m-42"}


def test_a_rollout_cloud_event_reaches_the_worker(function_apps, firestore, caplog):
    data = envelope({"rolloutId": "y"})
    response = function_apps["rollouts"].test_client().post("/", json=data, headers={
        "ce-id": "e1", "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": f"//pubsub.googleapis.com/{ENV.rollout_topic}"})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r.fields["rolloutId"] for r in handled(caplog)] == ["y"]


@pytest.mark.parametrize("data", [
    None,                                   # no data at all
    "not base64!",                          # not base64
    base64.b64encode(b"{not json").decode(),
    base64.b64encode(b"[1, 2]").decode(),   # JSON, but not an object
    base64.b64encode(b"[" * 100_000).decode(),  # nested too deeply to decode
    {"rolloutId": ""},
    {"rolloutId": 7},
    {"somethingElse": "x"},
])
def test_a_malformed_rollout_message_is_acknowledged_not_run(function_apps, firestore,
                                                             caplog, data):
    response = push(function_apps, envelope(data))

    assert response.status_code == 204
    assert handled(caplog) == []
    assert any(r.getMessage().endswith("acknowledged") and r.levelno == logging.WARNING
               for r in caplog.records)


@pytest.mark.parametrize("body", [b"", b"garbage", b'{"no": "message"}', b"[]"])
def test_a_delivery_that_is_no_pubsub_message_is_acknowledged(function_apps, firestore,
                                                              caplog, body):
    response = function_apps["rollouts"].test_client().post(
        f"/{ENV.rollout_topic}", data=body, content_type="application/json")

    assert response.status_code == 204
    assert handled(caplog) == []
    assert any(r.getMessage().endswith("acknowledged") for r in caplog.records)


@pytest.mark.parametrize("topic", [ENV.topic, "projects/other/topics/amapi-cosu-rollouts"])
def test_a_message_from_another_topic_is_not_run(function_apps, firestore, caplog, topic):
    response = push(function_apps, envelope({"rolloutId": "x"}), topic=topic)

    assert 200 <= response.status_code < 300
    assert handled(caplog) == []

