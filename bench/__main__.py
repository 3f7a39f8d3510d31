"""`make bench`: run every benchmark, each in its own process, and print its numbers."""

import subprocess
import sys

BENCHMARKS = ["bench.cold_start", "bench.request_overhead", "bench.token_expiry",
              "bench.policy_push", "bench.fleet_changes", "bench.staged_rollouts",
              "bench.notifications", "bench.device_listing", "bench.commands",
              "bench.rollout_pacing", "bench.device_export"]

failed = [name for name in BENCHMARKS
          if subprocess.run([sys.executable, "-m", name], check=False).returncode != 0]
sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
