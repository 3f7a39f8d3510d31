"""The README's quick start, run as a newcomer would: every `sh` block of the section, in order,
in one shell, against a real `make run` stack (`python -m devstack`)."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from devstack import emulators

ROOT = Path(__file__).resolve().parents[2]
SECTION = re.compile(r"^## Quick start.*?(?=^## )", re.S | re.M)
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def quick_start_script() -> str:
    section = SECTION.search((ROOT / "README.md").read_text())
    assert section, "the README has no Quick start section"
    blocks = BLOCK.findall(section.group(0))
    assert len(blocks) >= 5
    return "\n".join(blocks)


def test_the_readme_quick_start_enrolls_a_device_onto_its_kiosk_and_locks_it(tmp_path):
    ports = {name: emulators.free_port() for name in
             ("GATEWAY_PORT", "FIRESTORE_PORT", "PUBSUB_PORT", "AMAPI_EMULATOR_PORT")}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FIRESTORE_", "PUBSUB_", "AMAPI_", "AUTH_", "LOCAL_AUTH"))}
    env.update({k: str(v) for k, v in ports.items()}, DEVSTACK_DIR=str(tmp_path))
    stack = subprocess.Popen([sys.executable, "-m", "devstack", "--fresh"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = []
        for line in stack.stdout:
            output.append(line)
            if "ready in" in line or stack.poll() is not None:
                break
        assert any("ready in" in line for line in output), "".join(output)
        script = ("set -euo pipefail\n" + quick_start_script()
                  + '\necho "DEVICE=$DEVICE CONFIG=$CONFIG"\n')
        shell_env = {**env, "GW": f"http://127.0.0.1:{ports['GATEWAY_PORT']}",
                     "EMU": f"http://127.0.0.1:{ports['AMAPI_EMULATOR_PORT']}",
                     "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"}
        run = subprocess.run(["timeout", "120", "bash", "-c", script], cwd=ROOT, env=shell_env,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.strip().splitlines()
        assert "Lobby" in lines[-3]  # the device's detail names its configuration
        assert lines[-2] == "LOCK"
        assert lines[-1].startswith("DEVICE=") and "CONFIG=" in lines[-1]
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(timeout=60)
