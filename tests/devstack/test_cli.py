"""`python -m devstack.amapi_emulator` runs in the foreground and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/emulator/v1/quota", timeout=5) as reply:
            quota = json.loads(reply.read())
        assert (quota["calls"], quota["windowSeconds"], quota["used"]) == (1000, 100, 1)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


@contextmanager
def emulator(*args: str, quota_env: str | None = None) -> Iterator[str]:
    """A CLI emulator's base URL, stopped afterwards."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "AMAPI_EMULATOR_QUOTA"}
    if quota_env is not None:
        env["AMAPI_EMULATOR_QUOTA"] = quota_env
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.amapi_emulator", "--port", str(port),
         "--pubsub-host", "127.0.0.1:1", "--quiet", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("AMAPI emulator listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def statuses(url: str, count: int) -> list[int]:
    found = []
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                found.append(reply.status)
        except urllib.error.HTTPError as exc:
            found.append(exc.code)
    return found


def test_quota_comes_from_the_flag_or_the_environment() -> None:
    with emulator(quota_env="2/100") as base:
        assert statuses(f"{base}/v1/enterprises/LC00local", 3) == [200, 200, 429]
    with emulator("--quota", "3/100", quota_env="off") as base:
        assert statuses(f"{base}/v1/enterprises/LC00local", 4) == [200, 200, 200, 429]
    with emulator(quota_env="off") as base:
        assert statuses(f"{base}/v1/enterprises/LC00local", 1001) == [200] * 1001


def test_a_malformed_quota_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.amapi_emulator", "--quota", "many"],
        cwd=ROOT, capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert "CALLS/SECONDS" in result.stderr
