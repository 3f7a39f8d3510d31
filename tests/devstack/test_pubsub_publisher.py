"""The Pub/Sub emulator publisher, against a stand-in Pub/Sub REST endpoint."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from devstack import emulators
from devstack.amapi_emulator import EmulatorServer
from devstack.amapi_emulator.pubsub import PubSubEmulatorPublisher

from .harness import http_json


class FakePubSub:
    """Records publish calls the way the Pub/Sub emulator receives them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.calls.append((request.path, json.loads(request.get_data())))
        return Response('{"messageIds": ["1"]}', content_type="application/json")(
            environ, start_response)


@pytest.fixture
def pubsub() -> Iterator[tuple[FakePubSub, str]]:
    fake = FakePubSub()
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_publishes_base64_data_and_attributes(pubsub: tuple[FakePubSub, str]) -> None:
    fake, host = pubsub
    publisher = PubSubEmulatorPublisher(host)

    publisher("projects/p/topics/t", b'{"name":"x"}', {"notificationType": "COMMAND"})

    [(path, body)] = fake.calls
    assert path == "/v1/projects/p/topics/t:publish"
    [message] = body["messages"]
    assert base64.b64decode(message["data"]) == b'{"name":"x"}'
    assert message["attributes"] == {"notificationType": "COMMAND"}


def test_unreachable_pubsub_is_logged_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = PubSubEmulatorPublisher(f"127.0.0.1:{port}", timeout=1)

    publisher("projects/p/topics/t", b"{}", {"notificationType": "COMMAND"})

    assert "publishing to projects/p/topics/t" in capsys.readouterr().err


def enroll_batch(server: EmulatorServer, token: str, serials: list[str]) -> list[str]:
    status, body = http_json("POST", f"{server.url}/emulator/v1/enroll:batch", {
        "enrollmentToken": token,
        "devices": [{"hardwareInfo": {"serialNumber": serial}} for serial in serials]})
    assert status == 200, body
    return [device["name"] for device in body["devices"]]


def new_token(server: EmulatorServer, enterprise: str) -> str:
    status, token = http_json("POST", f"{server.url}/v1/{enterprise}/enrollmentTokens", {})
    assert status == 200, token
    value: str = token["value"]
    return value


def test_a_bulk_enrollment_is_published_in_one_request_in_order(
        pubsub: tuple[FakePubSub, str]) -> None:
    fake, host = pubsub
    with EmulatorServer(publisher=PubSubEmulatorPublisher(host)) as server:
        names = enroll_batch(server, new_token(server, "enterprises/LC00local"),
                             [f"ONE-{i}" for i in range(1000)])

    [(path, body)] = fake.calls
    assert path == "/v1/projects/amapi-cosu-local/topics/amapi-events:publish"
    assert [json.loads(base64.b64decode(m["data"]))["name"] for m in body["messages"]] == names
    assert {m["attributes"]["notificationType"] for m in body["messages"]} == {"ENROLLMENT"}


def test_bulk_enrollments_reach_the_pubsub_emulator_one_message_per_device(
        gcp_emulators: Any) -> None:
    host, project = gcp_emulators.pubsub_host, gcp_emulators.project
    topic = f"projects/{project}/topics/bulk-{uuid.uuid4().hex[:8]}"
    subscription = topic.replace("/topics/", "/subscriptions/")
    emulators.ensure_topic(host, topic)
    emulators.ensure_subscription(host, subscription, topic)
    with EmulatorServer(project=project, topic=topic,
                        publisher=PubSubEmulatorPublisher(host)) as server:
        token = new_token(server, "enterprises/LC00local")
        names = enroll_batch(server, token, [f"BULK-{i}" for i in range(1000)])
        names += enroll_batch(server, token, [f"MORE-{i}" for i in range(500)])

    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(received) < len(names) and time.monotonic() < deadline:
        received += emulators.pull(host, subscription, max_messages=1000)
    assert sorted(json.loads(base64.b64decode(m["data"]))["name"] for m in received) == \
        sorted(names)
    assert all(m["attributes"] == {"notificationType": "ENROLLMENT"} for m in received)
