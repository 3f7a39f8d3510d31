"""Cold start: time to load each function the way functions-framework does, in a fresh process."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from devstack.gateway import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5

_PROBE = """
import time, sys
started = time.perf_counter()
import functions_framework
app = functions_framework.create_app(sys.argv[1], sys.argv[2], sys.argv[3])
loaded = time.perf_counter()
status = app.test_client().get("/healthz").status_code if sys.argv[3] == "http" else 200
first = time.perf_counter() - loaded
print(f"RESULT {(loaded - started) * 1000:.1f} {first * 1000:.1f} {status}")
print("HEAVY " + " ".join(sorted(m for m in ("google.cloud.firestore", "googleapiclient.discovery",
                                  "apispec", "qrcode") if m in sys.modules)))
"""


def main() -> None:
    """Print median load and first-request times per function, and heavy modules loaded."""
    print(f"cold start (median of {RUNS} fresh processes)")
    print(f"  {'function':<20} {'load ms':>8} {'1st /healthz ms':>16}  heavy modules at start")
    for target, source, signature in FUNCTIONS.values():
        loads, firsts, heavy = [], [], ""
        for _ in range(RUNS):
            out = subprocess.run([sys.executable, "-c", _PROBE, target, str(ROOT / source),
                                  signature], capture_output=True, text=True, check=True,
                                 cwd=ROOT).stdout.splitlines()
            result = next(line for line in out if line.startswith("RESULT "))
            _, load, first, _status = result.split()
            loads.append(float(load))
            firsts.append(float(first))
            heavy = next(line for line in out if line.startswith("HEAVY")).removeprefix("HEAVY ")
        print(f"  {target:<20} {statistics.median(loads):>8.1f} "
              f"{statistics.median(firsts):>16.1f}  {heavy or '-'}")


if __name__ == "__main__":
    main()
