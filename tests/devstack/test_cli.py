"""`python -m devstack.amapi_emulator` runs in the foreground and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serves_until_sigterm_then_frees_the_port() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.amapi_emulator", "--host", "127.0.0.1",
         "--port", str(port), "--project", "p", "--enterprise-id", "LC00cli",
         "--topic", "projects/p/topics/t", "--pubsub-host", "127.0.0.1:1", "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        assert ready == f"AMAPI emulator listening on http://127.0.0.1:{port}"
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/v1/enterprises/LC00cli?alt=json", timeout=5) as reply:
            enterprise = json.loads(reply.read())
        assert enterprise["pubsubTopic"] == "projects/p/topics/t"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
