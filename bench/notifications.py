"""Notifications: STATUS_REPORTs per second through one function process, next to the Firestore
emulator's raw single-document write rate, and enrollment → inventory latency through Pub/Sub.

The raw rate is measured cold (the emulator's first writes, as this bench always did) and warm,
right before and right after the reports: the warm mean is what the reports, which run on a
warmed emulator, compare with like for like. Both ratios are printed.

Like for like on the function's side too: the reports are timed on their second round (the
first warms the function process and the emulator's update path, as the cold raw round warms
its writes), and each client keeps its connection, as Pub/Sub push does and as the raw writes
keep their gRPC channel. The function runs at its deployed log level, and its CPU time per
report is printed: that is what one instance spends on a message.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.emulated import emulated_backends
from devstack import emulators

ROOT = Path(__file__).resolve().parent.parent
REPORTS = 1000
DEVICES = 50
CLIENTS = 8


class _PushClient(threading.local):
    """One kept-alive connection per client thread, as a push subscription keeps its own."""

    connection: http.client.HTTPConnection | None = None

    def post(self, host: str, port: int, path: str, body: dict[str, Any],
             headers: dict[str, str] | None = None) -> int:
        data = json.dumps(body).encode()
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(host, port, timeout=30)
            try:
                self.connection.request("POST", path, body=data,
                                        headers={"Content-Type": "application/json",
                                                 **(headers or {})})
                response = self.connection.getresponse()
                response.read()
                return int(response.status)
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its descendants so far (Linux; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, total = {pid}, 0.0
    for child in sorted(parents):  # children have larger pids, short of wrap-around
        if child in tree or parents[child] in tree:
            tree.add(child)
            total += times.get(child, 0.0)
    return total


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _envelope(kind: str, payload: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {"message": {"attributes": {"notificationType": kind}, "messageId": message_id,
                        "data": base64.b64encode(json.dumps(payload).encode()).decode(),
                        "publishTime": "2026-11-21T10:00:00Z"},
            "subscription": "projects/p/subscriptions/bench"}


def _rate(count: int, work: Any) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(work, range(count)))
    return count / (time.perf_counter() - started)


def main() -> None:
    """Print both rates, their ratio, and the Pub/Sub latency."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with emulated_backends(with_pubsub=True) as backends:
        from shared.store import devices
        from shared.store.client import db

        enterprise = os.environ["AMAPI_ENTERPRISE"]
        names = [f"{enterprise}/devices/bench{i:04d}" for i in range(DEVICES)]
        for name in names:
            devices.put(name, {"name": name, "space": "global", "labels": [],
                               "enrollmentDecision": {"result": "ALLOWED"}})
        def raw_writes(round_: int) -> float:
            return _rate(REPORTS, lambda i: db().collection("rawWrites").document(
                f"r{round_}-{i}").set({"n": i, "payload": "x" * 200}))

        raw_cold = raw_writes(0)
        raw_before = raw_writes(1)

        port = emulators.free_port()
        function = emulators.ManagedProcess("notifications", [
            sys.executable, "-m", "functions_framework", "--target", "notifications",
            "--source", str(ROOT / "functions/notifications/main.py"),
            "--signature-type", "cloudevent", "--host", "127.0.0.1", "--port", str(port)],
            Path(tempfile.mkdtemp()) / "function.log",
            # The function logs at its deployed level, not the bench's quieter one.
            env={key: value for key, value in os.environ.items() if key != "LOG_LEVEL"})
        function.start()
        try:
            url = f"http://127.0.0.1:{port}/{backends['topic']}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    _post(url, _envelope("test", {}, "warm-up"))
                    break
                except OSError:
                    time.sleep(0.2)

            client = _PushClient()
            path = f"/{backends['topic']}"
            statuses: list[int] = []

            def report(i: int) -> None:
                payload = {"name": names[i % DEVICES], "state": "ACTIVE",
                           "lastStatusReportTime": _report_time(i),
                           "hardwareInfo": {"manufacturer": "Zebra", "model": "TC58"},
                           "softwareInfo": {"androidVersion": "14"}}
                statuses.append(client.post("127.0.0.1", port, path,
                                            _envelope("STATUS_REPORT", payload, f"r{i}")))

            handled_cold = _rate(REPORTS, report)
            assert function.process is not None
            cpu_before = _cpu_seconds(function.process.pid)
            handled = _rate(REPORTS, lambda i: report(REPORTS + i))
            cpu_per_report = (_cpu_seconds(function.process.pid) - cpu_before) / REPORTS
        finally:
            function.stop()
        raw_after = raw_writes(2)
        # Every report acknowledged, and every device ends at its newest report: a status
        # report of a known device leaves no receipt to count, its device is the evidence.
        if len(statuses) < 2 * REPORTS or any(status >= 300 for status in statuses):
            raise SystemExit(f"{sum(s < 300 for s in statuses)} of {2 * REPORTS} acknowledged")
        newest = {names[i % DEVICES]: i for i in range(2 * REPORTS)}
        stale = [name for name, i in newest.items()
                 if (devices.get(name) or {}).get("reportTime") != _report_time(i)]
        if stale:
            raise SystemExit(f"{len(stale)} devices miss their newest report")
        raw = (raw_before + raw_after) / 2
        print(f"notifications ({REPORTS} messages a round, {CLIENTS} concurrent clients on "
              f"kept-alive connections, one function process)")
        print(f"  Firestore emulator raw writes, cold            {raw_cold:8.0f} /s")
        print(f"  Firestore emulator raw writes, warm            {raw:8.0f} /s "
              f"({raw_before:.0f} before, {raw_after:.0f} after the reports)")
        print(f"  STATUS_REPORT notifications handled, cold      {handled_cold:8.0f} /s")
        print(f"  STATUS_REPORT notifications handled, warm      {handled:8.0f} /s")
        print(f"  function process CPU per report (warm)         {cpu_per_report * 1e6:8.0f} µs")
        print(f"  ratio to the warm raw rate (warm reports)      {handled / raw:8.2f}")
        print(f"  ratio cold to cold (as earlier benches)        {handled_cold / raw_cold:8.2f}")
        print(f"  enrollment → inventory through Pub/Sub        "
              f"{_pubsub_latency(backends):8.2f} s")


def _report_time(i: int) -> str:
    return f"2026-11-21T10:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z"


def _pubsub_latency(backends: dict[str, Any]) -> float:
    """Median of 5 enrollments from the AMAPI emulator to the inventory via a push subscription."""
    import statistics

    from werkzeug.serving import make_server

    from devstack.gateway import build_gateway
    from shared.amapi.client import amapi
    from shared.store import devices

    server = make_server("127.0.0.1", 0, build_gateway(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        topic = backends["topic"]
        emulators.ensure_subscription(
            backends["pubsub_host"], f"projects/{backends['project']}/subscriptions/push",
            topic, push_endpoint=f"http://127.0.0.1:{server.server_port}/notifications/{topic}")
        amapi_server = backends["amapi"]
        token = amapi().create_enrollment_token(os.environ["AMAPI_ENTERPRISE"],
                                                {"duration": "3600s"})
        latencies = []
        for index in range(5):
            started = time.monotonic()
            request = urllib.request.Request(
                f"{amapi_server.url}/emulator/v1/enroll", method="POST",
                headers={"Content-Type": "application/json"},
                data=json.dumps({"enrollmentToken": token["value"], "apiLevel": 34,
                                 "hardwareInfo": {"serialNumber": f"L-{index}",
                                                  "manufacturer": "Zebra", "brand": "Zebra",
                                                  "model": "TC58"}}).encode())
            with urllib.request.urlopen(request, timeout=10) as response:
                name = json.loads(response.read())["name"]
            while devices.get(name) is None and time.monotonic() - started < 15:
                time.sleep(0.02)
            latencies.append(time.monotonic() - started)
        return statistics.median(latencies)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
