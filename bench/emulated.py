"""Benchmarks' own Firestore emulator and AMAPI emulator, on free ports."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devstack import emulators


@contextlib.contextmanager
def emulated_backends(project: str = "amapi-cosu-bench") -> Iterator[dict[str, Any]]:
    """Start Firestore and AMAPI emulators and point this process's configuration at them."""
    from devstack.amapi_emulator.pubsub import NullPublisher
    from devstack.amapi_emulator.server import EmulatorServer

    logs = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-"))
    firestore_port = emulators.free_port()
    firestore = emulators.firestore_emulator("127.0.0.1", firestore_port, logs)
    firestore.start()
    amapi = EmulatorServer(project=project, enterprise_id="LC00bench",
                           publisher=NullPublisher()).start()
    try:
        emulators.wait_for_http(f"http://127.0.0.1:{firestore_port}/", 90, firestore.process)
        os.environ.update({
            "GOOGLE_CLOUD_PROJECT": project, "AUTH_MODE": "local",
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}",
            "AMAPI_ENDPOINT": amapi.url, "AMAPI_ENTERPRISE": "enterprises/LC00bench",
            "LOG_LEVEL": "WARNING"})
        yield {"firestore_host": f"127.0.0.1:{firestore_port}", "project": project,
               "amapi": amapi}
    finally:
        amapi.stop()
        firestore.stop()
