"""GET /devices?pageSize=100 under 50 concurrent clients over 2,000 devices: p50, p99, errors."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.emulated import emulated_backends, write_all
from devstack import emulators, local_auth

ROOT = Path(__file__).resolve().parent.parent
DEVICES = 2_000
CLIENTS = 50
REQUESTS = 500


def _seed() -> None:
    from shared.store.devices import COLLECTION

    enterprise = os.environ["AMAPI_ENTERPRISE"]
    write_all(COLLECTION, ((f"{index:016x}", {
        "name": f"{enterprise}/devices/{index:016x}", "space": "global",
        "userName": f"user{index % 20}", "labels": ["lobby"] if index % 2 else [],
        "state": "ACTIVE", "appliedState": "ACTIVE", "managementMode": "DEVICE_OWNER",
        "hardware": {"manufacturer": "Zebra", "model": "TC58", "serialNumber": f"S{index}"},
        "software": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"},
        "apiLevel": 34, "compliance": {"compliant": True, "nonCompliance": []},
        "apps": [{"packageName": "com.example.kiosk", "versionName": "1.0",
                  "state": "INSTALLED"}],
        "enrollmentDecision": {"result": "ALLOWED", "reason": ""}}) for index in range(DEVICES)))


def main() -> None:
    """Print latency percentiles and the error count."""
    with emulated_backends():
        from shared.store import access_control

        _seed()
        access_control.put_binding({"principal": "bench@example.com", "role": "VIEWER",
                                    "space": "global"})
        keys = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-keys-"))
        private_key, public_key = local_auth.ensure_keys(keys)
        token = local_auth.issue_token(private_key, "bench@example.com")
        port = emulators.free_port()
        function = emulators.ManagedProcess("commands", [
            sys.executable, "-m", "functions_framework", "--target", "commands",
            "--source", str(ROOT / "functions/commands/main.py"), "--host", "127.0.0.1",
            "--port", str(port)], keys / "function.log",
            env=dict(os.environ, LOCAL_AUTH_PUBLIC_KEY_FILE=str(public_key), THREADS="16"))
        function.start()
        url = f"http://127.0.0.1:{port}/devices?pageSize=100"
        try:
            emulators.wait_for_http(f"http://127.0.0.1:{port}/healthz", 30, function.process)
            latencies: list[float] = []
            errors = 0

            def fetch(index: int) -> None:
                nonlocal errors
                page = url if index % 4 == 0 else f"{url}&label=lobby"
                request = urllib.request.Request(page,
                                                 headers={"Authorization": f"Bearer {token}"})
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        response.read()
                        ok = response.status == 200
                except (urllib.error.URLError, OSError):
                    ok = False
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1

            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(fetch, range(REQUESTS)))
            elapsed = time.perf_counter() - started
        finally:
            function.stop()
        cuts = statistics.quantiles(latencies, n=100)
        print(f"GET /devices?pageSize=100 ({DEVICES} devices, {CLIENTS} concurrent clients, "
              f"{REQUESTS} requests, one function process)")
        print(f"  p50 {cuts[49] * 1000:7.0f} ms   p99 {cuts[98] * 1000:7.0f} ms   "
              f"throughput {REQUESTS / elapsed:6.1f} req/s   errors {errors}")


if __name__ == "__main__":
    main()
