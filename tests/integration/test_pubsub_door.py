"""Publishing through `shared.pubsub`: exact delivery, bounded retries, errors as 503s."""

import base64
import json
import threading
import time
import urllib.request

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from devstack import emulators
from shared import errors, pubsub
from shared.config import settings
from tests.conftest import ENV


@pytest.fixture
def subscription(gcp_emulators, request):
    name = f"projects/{ENV.project}/subscriptions/door-{request.node.name[:40]}"
    name = name.replace("[", "-").replace("]", "")
    emulators.ensure_subscription(ENV.pubsub_host, name, ENV.rollout_topic)
    yield name
    emulators.delete_subscription(ENV.pubsub_host, name)


def pull_one(subscription, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = emulators.pull(ENV.pubsub_host, subscription)
        if messages:
            return messages
        time.sleep(0.05)
    return []


@pytest.fixture
def pubsub_at(monkeypatch):
    """Point the door at another Pub/Sub host for one test."""
    def point(host):
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        settings.cache_clear()
        pubsub._per_thread.__dict__.clear()
    yield point
    monkeypatch.undo()
    settings.cache_clear()
    pubsub._per_thread.__dict__.clear()


def test_a_published_message_arrives_with_its_exact_payload(subscription):
    payload = {"rolloutId": "x", "batch": 3, "note": "ünïcødé ✓", "nested": {"a": [1, None]}}

    message_id = pubsub.publish(ENV.rollout_topic, payload, {"kind": "rollout"})

    [message] = pull_one(subscription)
    assert message["messageId"] == message_id
    assert json.loads(base64.b64decode(message["data"])) == payload
    assert message["attributes"] == {"kind": "rollout"}


def test_each_publish_is_one_message(subscription):
    ids = [pubsub.publish(ENV.rollout_topic, {"rolloutId": str(i)}) for i in range(5)]

    received = []
    deadline = time.monotonic() + 5
    while len(received) < 5 and time.monotonic() < deadline:
        received += pull_one(subscription, 1)
    assert sorted(m["messageId"] for m in received) == sorted(ids)
    assert sorted(json.loads(base64.b64decode(m["data"]))["rolloutId"] for m in received) == \
        [str(i) for i in range(5)]


def test_an_unknown_topic_is_a_503_without_retrying(gcp_emulators):
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as caught:
        pubsub.publish(f"projects/{ENV.project}/topics/no-such-topic", {"rolloutId": "x"})
    assert "no-such-topic" in caught.value.message
    assert caught.value.http_status == 503
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("topic", ["", "amapi-cosu-rollouts", "projects/p/topics/",
                                   "projects/p/subscriptions/s"])
def test_a_topic_that_is_no_topic_name_is_a_503(topic):
    with pytest.raises(errors.Unavailable):
        pubsub.publish(topic, {"rolloutId": "x"})


def test_an_unreachable_pubsub_is_a_503_within_the_budget(pubsub_at, monkeypatch):
    monkeypatch.setattr(pubsub, "RETRY_BUDGET_SECONDS", 1.0)
    pubsub_at(f"127.0.0.1:{emulators.free_port()}")
    started = time.monotonic()

    with pytest.raises(errors.Unavailable) as caught:
        pubsub.publish(ENV.rollout_topic, {"rolloutId": "x"})

    assert "unreachable" in caught.value.message
    assert time.monotonic() - started < 3


class FlakyPubSub:
    """Pub/Sub in front of the emulator that answers `failures` (status) first, then relays."""

    def __init__(self, failures):
        self.failures = list(failures)
        self.calls = 0
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.server.server_port}"

    def app(self, environ, start_response):
        request = Request(environ)
        self.calls += 1
        if self.failures:
            return Response("busy", status=self.failures.pop(0))(environ, start_response)
        relayed = urllib.request.Request(f"http://{ENV.pubsub_host}{request.path}",
                                         data=request.get_data(), method=request.method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(relayed, timeout=10) as answer:
            body = answer.read()
        return Response(body, status=200, content_type="application/json")(
            environ, start_response)


def test_throttling_and_server_errors_are_retried_until_published(subscription, pubsub_at):
    flaky = FlakyPubSub([429, 503, 500])
    pubsub_at(flaky.host)
    try:
        message_id = pubsub.publish(ENV.rollout_topic, {"rolloutId": "retried"})
    finally:
        flaky.server.shutdown()

    assert flaky.calls == 4
    [message] = pull_one(subscription)
    assert message["messageId"] == message_id
    assert json.loads(base64.b64decode(message["data"])) == {"rolloutId": "retried"}


def test_an_outage_longer_than_the_budget_is_a_503(pubsub_at, monkeypatch):
    monkeypatch.setattr(pubsub, "RETRY_BUDGET_SECONDS", 1.0)
    flaky = FlakyPubSub([503] * 1000)
    pubsub_at(flaky.host)
    try:
        with pytest.raises(errors.Unavailable) as caught:
            pubsub.publish(ENV.rollout_topic, {"rolloutId": "x"})
    finally:
        flaky.server.shutdown()
    assert "503" in caught.value.message
    assert 1 < flaky.calls < 1000


def test_a_refusal_is_not_retried(pubsub_at):
    flaky = FlakyPubSub([403, 403])
    pubsub_at(flaky.host)
    try:
        with pytest.raises(errors.Unavailable):
            pubsub.publish(ENV.rollout_topic, {"rolloutId": "x"})
    finally:
        flaky.server.shutdown()
    assert flaky.calls == 1
