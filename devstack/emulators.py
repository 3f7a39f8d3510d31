"""Google's Firestore and Pub/Sub emulators, started straight from their jars.

The gcloud wrapper scripts do not forward signals to the JVM, so stopping them leaves Java
listening; launching the jars directly lets us stop exactly what we started.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Child-side: receive SIGTERM if the process that started us dies (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def sdk_root() -> Path:
    """The Google Cloud SDK's root folder, found from `gcloud` on PATH."""
    configured = os.environ.get("CLOUDSDK_ROOT_DIR")
    if configured:
        return Path(configured)
    gcloud = shutil.which("gcloud")
    if not gcloud:
        raise RuntimeError("gcloud is not on PATH: install the Google Cloud SDK with the "
                           "cloud-firestore-emulator and pubsub-emulator components")
    return Path(gcloud).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 200, the process dies, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


@dataclass
class ManagedProcess:
    """A child process of the local stack, stopped with its whole process group."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        """Launch it with output going to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=self.env, cwd=self.cwd,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        log.close()

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=grace)
        except ProcessLookupError:
            pass


def firestore_emulator(host: str, port: int, log_dir: Path,
                       import_data: Path | None = None) -> ManagedProcess:
    """The Firestore emulator (native mode) on host:port, seeded from an export if given."""
    jar = sdk_root() / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    seed = [f"--import-data={import_data}"] if import_data is not None else []
    return ManagedProcess("firestore", [
        "java", "-Duser.language=en", "-cp", str(jar),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
        f"--host={host}", f"--port={port}", *seed], log_dir / "firestore.log")


FIRESTORE_EXPORT_NAME = "firestore"


def firestore_export_metadata(directory: Path) -> Path:
    """The file `--import-data` takes for an export written by `export_firestore`."""
    return directory / FIRESTORE_EXPORT_NAME / f"{FIRESTORE_EXPORT_NAME}.overall_export_metadata"


def export_firestore(host: str, project: str, directory: Path) -> None:
    """Have the emulator export `project`'s default database into `directory` (created empty).

    The emulator's own export (what `--import-data` reads back) rather than copying documents:
    it keeps every field type and timestamp exactly.
    """
    directory.mkdir(parents=True)
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}:export", method="POST",
        data=json.dumps({"database": f"projects/{project}/databases/(default)",
                         "export_directory": str(directory.resolve()),
                         "export_name": FIRESTORE_EXPORT_NAME}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60):
        pass
    if not firestore_export_metadata(directory).exists():
        raise RuntimeError(f"the Firestore emulator wrote no export in {directory}")


def pubsub_emulator(host: str, port: int, log_dir: Path) -> ManagedProcess:
    """The Pub/Sub emulator on host:port."""
    lib = sdk_root() / "platform" / "pubsub-emulator" / "lib"
    jars = sorted(lib.glob("cloud-pubsub-emulator-*.jar"))
    if not jars:
        raise RuntimeError(f"no Pub/Sub emulator jar in {lib}")
    return ManagedProcess("pubsub", ["java", "-jar", str(jars[-1]), f"--host={host}",
                                     f"--port={port}"], log_dir / "pubsub.log")


def _pubsub_call(host: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://{host}/v1/{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else {}


def ensure_topic(host: str, topic: str) -> None:
    """Create `projects/P/topics/T` unless it exists."""
    try:
        _pubsub_call(host, "PUT", topic, {})
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise


def ensure_subscription(host: str, subscription: str, topic: str,
                        push_endpoint: str | None = None, ack_deadline: int = 10) -> None:
    """Create (or recreate) a pull or push subscription on `topic`."""
    body: dict[str, Any] = {"topic": topic, "ackDeadlineSeconds": ack_deadline}
    if push_endpoint:
        body["pushConfig"] = {"pushEndpoint": push_endpoint}
    try:
        _pubsub_call(host, "PUT", subscription, body)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
        _pubsub_call(host, "DELETE", subscription)
        _pubsub_call(host, "PUT", subscription, body)


def publish(host: str, topic: str, data: bytes, attributes: dict[str, str]) -> str:
    """Publish one message; returns its id."""
    import base64

    result = _pubsub_call(host, "POST", f"{topic}:publish", {"messages": [
        {"data": base64.b64encode(data).decode(), "attributes": attributes}]})
    return str(result["messageIds"][0])


def pull(host: str, subscription: str, max_messages: int = 100) -> list[dict[str, Any]]:
    """Pull and acknowledge what is waiting on a pull subscription."""
    result = _pubsub_call(host, "POST", f"{subscription}:pull",
                          {"maxMessages": max_messages, "returnImmediately": True})
    received = result.get("receivedMessages", [])
    if received:
        _pubsub_call(host, "POST", f"{subscription}:acknowledge",
                     {"ackIds": [m["ackId"] for m in received]})
    return [m["message"] for m in received]


def clear_firestore(host: str, project: str) -> None:
    """Delete every document of the emulator's default database for `project`."""
    request = urllib.request.Request(
        f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents",
        method="DELETE")
    with urllib.request.urlopen(request, timeout=30):
        pass


def delete_subscription(host: str, subscription: str) -> None:
    """Delete a subscription; one already gone counts as deleted."""
    try:
        _pubsub_call(host, "DELETE", subscription)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
