"""The Pub/Sub emulator publisher, against a stand-in Pub/Sub REST endpoint."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from devstack.amapi_emulator.pubsub import PubSubEmulatorPublisher


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
