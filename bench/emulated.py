"""Benchmarks' own Firestore, Pub/Sub and AMAPI emulators, on free ports."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
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
            "PUBSUB_TOPIC": topic, "LOG_LEVEL": "WARNING"})
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


class QueuedScheduler:
    """The in-process AMAPI emulator's delayed device behaviour, run from one thread.

    The emulator starts a timer thread per device whenever a policy it is on changes: at tens
    of thousands of devices that alone takes longer than the client waits for the answer.
    Installed as `server.app.simulation.scheduler`, this runs the same callbacks at the same
    times, in order, from a single worker thread.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._running = 0
        self._closed = False
        threading.Thread(target=self._work, name="bench-amapi-scheduler", daemon=True).start()

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` once, `delay` seconds from now."""
        with self._ready:
            heapq.heappush(self._queue, (time.monotonic() + max(delay, 0.0),
                                         next(self._sequence), callback))
            self._ready.notify_all()

    def cancel_all(self) -> None:
        """Drop every callback that has not started yet."""
        with self._ready:
            self._queue.clear()
            self._ready.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(remaining)
        return True

    def close(self) -> None:
        """Drop what is pending and stop the worker."""
        with self._ready:
            self._closed = True
            self._queue.clear()
            self._ready.notify_all()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._closed and (
                        not self._queue or self._queue[0][0] > time.monotonic()):
                    self._ready.wait(self._queue[0][0] - time.monotonic() if self._queue
                                     else None)
                if self._closed:
                    return
                callback = heapq.heappop(self._queue)[2]
                self._running += 1
            try:
                callback()
            except Exception:  # one failing simulated step must not stop the others
                traceback.print_exc(file=sys.stderr)
            finally:
                with self._ready:
                    self._running -= 1
                    self._ready.notify_all()


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

