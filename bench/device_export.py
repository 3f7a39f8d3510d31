"""GET /commands/devices:export over 1,000 and 20,000 devices: rows/s and peak Python memory.

The export is read from Firestore a page at a time as the response is consumed, so its peak
memory (tracemalloc, measured while the response streams) should stay flat as the fleet grows.
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.emulated import emulated_backends, write_all
from devstack import local_auth

ROOT = Path(__file__).resolve().parent.parent
FLEETS = (1_000, 20_000)


def _seed(start: int, stop: int) -> None:
    from shared.store.devices import COLLECTION

    enterprise = os.environ["AMAPI_ENTERPRISE"]
    write_all(COLLECTION, ((f"{index:016x}", {
        "name": f"{enterprise}/devices/{index:016x}", "space": "global",
        "userName": f"user{index % 20}", "labels": ["lobby"] if index % 2 else [],
        "state": "ACTIVE", "appliedState": "ACTIVE", "managementMode": "DEVICE_OWNER",
        "hardware": {"manufacturer": "Zebra", "brand": "Zebra", "model": "TC58",
                     "serialNumber": f"S{index}"},
        "network": {"imei": f"35{index:013d}"},
        "software": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"},
        "apiLevel": 34, "policyName": f"{enterprise}/policies/holding-global",
        "compliance": {"compliant": True, "appliedPolicyVersion": "3", "nonCompliance": []},
        "apps": [{"packageName": "com.example.kiosk", "versionName": "1.0",
                  "state": "INSTALLED"}],
        "enrollmentDecision": {"result": "ALLOWED", "reason": ""}}) for index in range(start,
                                                                                   stop)))


def _export(client: Any, headers: dict[str, str]) -> tuple[int, float, int]:
    """Rows, seconds and peak traced bytes of one CSV export, consumed chunk by chunk."""
    tracemalloc.start()
    started = time.perf_counter()
    response = client.get("/devices:export?format=csv", headers=headers)
    rows = 0
    for chunk in response.response:
        rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 200 and response.is_streamed
    return rows - 1, elapsed, peak  # less the header row


def main() -> None:
    """Print rows/s and peak memory for each fleet size."""
    with emulated_backends():
        from functions_framework import create_app

        from shared.store import access_control

        keys = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-keys-"))
        private_key, public_key = local_auth.ensure_keys(keys)
        os.environ["LOCAL_AUTH_PUBLIC_KEY_FILE"] = str(public_key)
        access_control.put_binding({"principal": "bench@example.com", "role": "VIEWER",
                                    "space": "global"})
        token = local_auth.issue_token(private_key, "bench@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        client = create_app("commands", str(ROOT / "functions/commands/main.py")).test_client()
        print("GET /devices:export?format=csv (in process, streamed; peak = tracemalloc while "
              "the response is consumed)")
        seeded = 0
        for fleet in FLEETS:
            _seed(seeded, fleet)
            seeded = fleet
            _export(client, headers)  # warm: imports and the client's first connection
            rows, elapsed, peak = _export(client, headers)
            assert rows == fleet, (rows, fleet)
            print(f"  {fleet:6d} devices   {rows / elapsed:8.0f} rows/s   "
                  f"peak {peak / 1024 / 1024:6.2f} MiB")


if __name__ == "__main__":
    main()
