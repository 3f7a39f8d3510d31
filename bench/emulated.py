"""Benchmarks' own Firestore, Pub/Sub and AMAPI emulators, on free ports."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import emulators


@dataclass(frozen=True)
class AmapiProcess:
    """The AMAPI emulator running in a process of its own, as in the local stack."""

    url: str


@contextlib.contextmanager
def emulated_backends(project: str = "amapi-cosu-bench", with_pubsub: bool = False,
                      amapi_process: bool = False) -> Iterator[dict[str, Any]]:
    """Start the emulators and point this process's configuration at them.

    `amapi_process` runs the AMAPI emulator in its own process, as `make run` does, so that a
    benchmark's many client threads do not slow AMAPI's answers down by sharing its
    interpreter; otherwise it serves from a thread of this process (its object is yielded).
    """
    from devstack.amapi_emulator.pubsub import NullPublisher, PubSubEmulatorPublisher
    from devstack.amapi_emulator.server import EmulatorServer

    logs = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-"))
    firestore_host = f"127.0.0.1:{emulators.free_port()}"
    pubsub_host = f"127.0.0.1:{emulators.free_port()}"
    topic = f"projects/{project}/topics/amapi-events"
    rollout_topic = f"projects/{project}/topics/amapi-cosu-rollouts"
    children = [emulators.firestore_emulator("127.0.0.1", int(firestore_host.split(":")[1]),
                                             logs)]
    if with_pubsub:
        children.append(emulators.pubsub_emulator("127.0.0.1", int(pubsub_host.split(":")[1]),
                                                  logs))
    for child in children:
        child.start()
    amapi = None
    try:
        emulators.wait_for_http(f"http://{firestore_host}/", 90, children[0].process)
        if with_pubsub:
            emulators.wait_for_http(f"http://{pubsub_host}/", 90, children[1].process)
            emulators.ensure_topic(pubsub_host, topic)
            emulators.ensure_topic(pubsub_host, rollout_topic)
        if amapi_process:
            port = emulators.free_port()
            command = [sys.executable, "-m", "devstack.amapi_emulator", "--port", str(port),
                       "--project", project, "--enterprise-id", "LC00bench", "--topic", topic,
                       "--quiet"]
            if with_pubsub:
                command += ["--pubsub-host", pubsub_host]
            process = emulators.ManagedProcess("amapi", command, logs / "amapi-emulator.log")
            process.start()
            children.append(process)
            amapi = AmapiProcess(f"http://127.0.0.1:{port}")
            emulators.wait_for_http(f"{amapi.url}/emulator/v1/healthz", 30, process.process)
        else:
            publisher = PubSubEmulatorPublisher(pubsub_host) if with_pubsub else NullPublisher()
            amapi = EmulatorServer(project=project, enterprise_id="LC00bench", topic=topic,
                                   publisher=publisher).start()
        os.environ.update({
            "GOOGLE_CLOUD_PROJECT": project, "AUTH_MODE": "local",
            "FIRESTORE_EMULATOR_HOST": firestore_host, "PUBSUB_EMULATOR_HOST": pubsub_host,
            "AMAPI_ENDPOINT": amapi.url, "AMAPI_ENTERPRISE": "enterprises/LC00bench",
            "PUBSUB_TOPIC": topic, "ROLLOUT_TOPIC": rollout_topic, "LOG_LEVEL": "WARNING"})
        yield {"firestore_host": firestore_host, "pubsub_host": pubsub_host, "topic": topic,
               "project": project, "amapi": amapi}
    finally:
        if isinstance(amapi, EmulatorServer):
            amapi.stop()
        for child in reversed(children):
            child.stop()


def write_all(collection: str, documents: Any) -> None:
    """Store `(id, data)` pairs in batches of 500 writes."""
    from shared.store.client import db

    client = db()
    batch, pending = client.batch(), 0
    for document_id, data in documents:
        batch.set(client.collection(collection).document(document_id), data)
        pending += 1
        if pending == 500:
            batch.commit()
            batch, pending = client.batch(), 0
    if pending:
        batch.commit()


def emulator_call(server: Any, method: str, path: str, body: Any = None,
                  timeout: float = 120) -> Any:
    """Call the AMAPI emulator (its AMAPI surface or its control API); the JSON answer."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{server.url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    return json.loads(text) if text else {}


def amapi_calls(server: Any) -> dict[str, int]:
    """AMAPI calls the emulator received since the last look, by method; forgets them."""
    import collections

    entries = emulator_call(server, "GET", "/emulator/v1/requests")["requests"]
    emulator_call(server, "DELETE", "/emulator/v1/requests")
    return dict(collections.Counter(str(entry["method"]) for entry in entries))

