"""Device commands under load: POST …/commands from 50 concurrent clients to the commands
function (latency percentiles, 5xx count) while the COMMAND notifications AMAPI publishes for
them are pushed to the notifications function, each served as deployed, in its own process."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.emulated import emulated_backends
from devstack import emulators, local_auth

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 50
PER_CLIENT = 6
DEVICES = 30
HOT_DEVICES = 3  # half of the clients share these few devices
SUBSCRIPTION = "bench-commands"


def _call(url: str, body: Any = None, headers: dict[str, str] | None = None,
          method: str = "POST") -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    try:
        return int(response.status), json.loads(text) if text else {}
    except ValueError:
        return int(response.status), {}


def _enroll(server: Any, count: int) -> list[str]:
    from shared.amapi.client import amapi
    from shared.store import devices

    token = amapi().create_enrollment_token(os.environ["AMAPI_ENTERPRISE"],
                                            {"duration": "86400s"})
    names = []
    for index in range(count):
        _, device = _call(f"{server.url}/emulator/v1/enroll", {
            "enrollmentToken": token["value"], "apiLevel": 34,
            "hardwareInfo": {"serialNumber": f"C-{index}", "manufacturer": "Zebra",
                             "brand": "Zebra", "model": "TC58"}})
        devices.put(device["name"], {"name": device["name"], "space": "global", "labels": [],
                                     "state": "ACTIVE",
                                     "enrollmentDecision": {"result": "ALLOWED"}})
        names.append(device["name"])
    return names


def _cpu_seconds(process: Any) -> float:
    """User + system CPU time of a child process and of the workers it forked (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if stat.parent.name == str(process.pid) or fields[1] == str(process.pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    """Print POST latency percentiles and 5xx count, then the COMMAND drain rate."""
    keys = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-"))
    private_key, public_key = local_auth.ensure_keys(keys)
    with emulated_backends(with_pubsub=True, amapi_process=True) as backends:
        from shared.store import access_control
        from shared.store.client import db

        os.environ.update({"LOCAL_AUTH_PUBLIC_KEY_FILE": str(public_key),
                           "AMAPI_RETRY_BUDGET_SECONDS": "8", "AMAPI_RETRY_BASE_SECONDS": "0.2"})
        access_control.put_binding({"principal": "bench@example.com", "role": "ADMIN",
                                    "space": "global"})
        subscription = f"projects/{backends['project']}/subscriptions/{SUBSCRIPTION}"
        emulators.ensure_subscription(backends["pubsub_host"], subscription, backends["topic"],
                                      ack_deadline=60)
        names = _enroll(backends["amapi"], DEVICES)
        # As deployed: commands and notifications are separate functions, each in its own
        # process (functions-framework's own server), never sharing an interpreter.
        commands, notifications = (
            _function(target, signature, keys) for target, signature in
            (("commands", "http"), ("notifications", "cloudevent")))
        try:
            base = commands.url
            headers = {"Authorization": "Bearer " + local_auth.issue_token(
                private_key, "bench@example.com")}
            _call(f"{base}/devices/{names[0].rsplit('/', 1)[1]}/commands",
                  {"type": "LOCK"}, headers)  # warm-up
            drainer = Drainer(backends, notifications.url, subscription)
            drainer.thread.start()
            started, cpu = time.perf_counter(), _cpu_seconds(commands.process.process)
            latencies, statuses = _fire(base, names, headers)
            elapsed = time.perf_counter() - started
            cpu_per_request = (_cpu_seconds(commands.process.process) - cpu) / len(statuses)
            alone = []
            for index in range(20):
                begun = time.perf_counter()
                _call(f"{base}/devices/{names[index].rsplit('/', 1)[1]}/commands",
                      {"type": "LOCK"}, headers)
                alone.append(time.perf_counter() - begun)
            drainer.finish(len(latencies) + 21)
        finally:
            commands.process.stop()
            notifications.process.stop()
        fivexx = sum(1 for s in statuses if s >= 500)
        print(f"device commands ({CLIENTS} concurrent clients x {PER_CLIENT} POSTs, half on "
              f"{HOT_DEVICES} shared devices, half on their own;"
              " commands, notifications and the AMAPI emulator each in a process of its own)")
        print(f"  POST …/commands  p50 {_percentile(latencies, 0.5) * 1000:7.0f} ms   "
              f"p99 {_percentile(latencies, 0.99) * 1000:7.0f} ms   "
              f"max {max(latencies) * 1000:7.0f} ms   5xx {fivexx} of {len(statuses)}")
        print(f"  throughput {len(statuses) / elapsed:5.0f} requests/s; one client alone: p50 "
              f"{_percentile(alone, 0.5) * 1000:5.0f} ms; function CPU "
              f"{cpu_per_request * 1000:4.1f} ms/request")
        others = sorted({s for s in statuses if s != 202})
        if others:
            print(f"  statuses other than 202: {others}")
        settled = sum(1 for s in db().collection("commands").stream()
                      if (s.to_dict() or {}).get("state") == "SUCCEEDED")
        print(f"  commands settled SUCCEEDED by notification: {settled}")


@dataclass
class _Function:
    process: Any
    url: str


def _function(target: str, signature: str, keys: Path) -> _Function:
    """One deployed function served by functions-framework on a free port (started a second
    time if the first one exits before it answers, which it now and then does under load)."""
    try:
        return _start_function(target, signature, keys)
    except RuntimeError as exc:
        print(f"  ({exc}; started again)", file=sys.stderr)
        return _start_function(target, signature, keys)


def _start_function(target: str, signature: str, keys: Path) -> _Function:
    port = emulators.free_port()
    process = emulators.ManagedProcess(target, [
        sys.executable, "-m", "functions_framework", "--target", target, "--source",
        str(ROOT / f"functions/{target}/main.py"), "--signature-type", signature,
        "--host", "127.0.0.1", "--port", str(port)], keys / f"{target}.log",
        env=dict(os.environ, THREADS="16"), cwd=ROOT)
    process.start()
    url = f"http://127.0.0.1:{port}"
    probe = f"{url}/healthz" if signature == "http" else url
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.process is not None and process.process.poll() is not None:
            raise RuntimeError(f"{target} exited with status {process.process.returncode} "
                               f"before it was ready (log: {keys / f'{target}.log'})")
        try:
            with urllib.request.urlopen(probe, timeout=1):
                break
        except urllib.error.HTTPError:
            break  # it answers (a CloudEvent function refuses a bare GET)
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    return _Function(process, url)


def _fire(base: str, names: list[str], headers: dict[str, str]) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        start.wait()
        for round_ in range(PER_CLIENT):
            if index % 2:
                name = names[(index + round_) % HOT_DEVICES]
            else:
                name = names[HOT_DEVICES + index % (len(names) - HOT_DEVICES)]
            body = ({"type": "LOCK"} if round_ % 2 else
                    {"type": "RESET_PASSWORD", "params": {"newPassword": f"pin-{index}-{round_}"}})
            started = time.perf_counter()
            status, _ = _call(f"{base}/devices/{name.rsplit('/', 1)[1]}/commands",
                              body, headers)
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(status)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    return latencies, statuses


class Drainer:
    """Pushes COMMAND notifications to the notifications function as Pub/Sub would, while the
    commands are still being posted, and counts how fast they are applied."""

    def __init__(self, backends: Any, base: str, subscription: str) -> None:
        self.host = backends["pubsub_host"]
        self.url = f"{base}/{backends['topic']}"
        self.subscription = subscription
        self.delivered = self.failed = 0
        self.first = self.last = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _deliver(self, message: dict[str, Any]) -> None:
        envelope = {"message": message, "subscription": self.subscription}
        for _ in range(20):  # Pub/Sub redelivers what was not acknowledged
            status, _ = _call(self.url, envelope)
            if status < 300:
                self.delivered += 1
                self.last = time.perf_counter()
                return
            time.sleep(0.1)
        self.failed += 1

    def _run(self) -> None:
        with ThreadPoolExecutor(10) as pool:
            while not self.stop.is_set():
                batch = [m for m in emulators.pull(self.host, self.subscription, 100)
                         if (m.get("attributes") or {}).get("notificationType") == "COMMAND"]
                if not batch:
                    time.sleep(0.05)
                    continue
                self.first = self.first or time.perf_counter()
                list(pool.map(self._deliver, batch))

    def finish(self, expected: int, timeout: float = 60) -> None:
        """Wait until `expected` notifications were handled (or the timeout), then stop."""
        deadline = time.monotonic() + timeout
        while self.delivered + self.failed < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        self.stop.set()
        self.thread.join()
        elapsed = max(self.last - self.first, 1e-3)
        print(f"  COMMAND notifications pushed during the load: {self.delivered} applied in "
              f"{elapsed:.1f} s = {self.delivered / elapsed * 60:.0f} per minute, "
              f"{self.failed} failing after 20 deliveries")


if __name__ == "__main__":
    main()
