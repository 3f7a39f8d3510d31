"""A rollout message travels shared.pubsub → Pub/Sub emulator → push → /rollouts → the worker."""

import logging
import threading
import time

import pytest
from werkzeug.serving import make_server

from devstack import emulators
from devstack.gateway import build_gateway
from devstack.stack import wire_rollouts
from shared import logs, pubsub
from tests.conftest import ENV


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def worker_log():
    logs.configure()
    records = Records()
    logs.logger.addHandler(records)
    yield records
    logs.logger.removeHandler(records)


@pytest.fixture(scope="module")
def gateway(gcp_emulators):
    server = make_server("127.0.0.1", 0, build_gateway(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    subscription = f"projects/{ENV.project}/subscriptions/e2e-rollouts-push"
    wire_rollouts(ENV.pubsub_host, ENV.rollout_topic, subscription, url)
    yield url
    emulators.delete_subscription(ENV.pubsub_host, subscription)
    server.shutdown()


def handled(worker_log):
    return [r.fields for r in worker_log.records if r.getMessage() == "rollout message handled"]


def test_a_published_rollout_message_reaches_the_worker(gateway, firestore, worker_log):
    message_id = pubsub.publish(ENV.rollout_topic, {"rolloutId": "x"})

    deadline = time.monotonic() + 10
    while not handled(worker_log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert handled(worker_log) == [{"rolloutId": "x", "messageId": message_id}]


def test_a_malformed_rollout_message_is_acknowledged_once(gateway, firestore, worker_log):
    pubsub.publish(ENV.rollout_topic, {"no": "rolloutId"})

    deadline = time.monotonic() + 10
    def dropped():
        return [r for r in worker_log.records
                if r.getMessage() == "malformed rollout message acknowledged"]
    while not dropped() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a push not acknowledged would come back within the ack deadline's retry
    assert len(dropped()) == 1
    assert handled(worker_log) == []
