"""`make run` keeps its data: stopped with Ctrl-C and started again, everything is still there,
consistent between Firestore and the AMAPI emulator; started FRESH, only the admin binding is."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devstack import emulators

ROOT = Path(__file__).resolve().parents[2]
ENTERPRISE = "enterprises/LC00local"


class Stack:
    """One `python -m devstack` run, as `make run` starts it, on its own ports and folder."""

    def __init__(self, state: Path, ports: dict[str, int], *args: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FIRESTORE_", "PUBSUB_", "AMAPI_", "AUTH_", "LOCAL_AUTH"))}
        env.update({k: str(v) for k, v in ports.items()}, DEVSTACK_DIR=str(state))
        self.gateway = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
        self.amapi = f"http://127.0.0.1:{ports['AMAPI_EMULATOR_PORT']}"
        self.process = subprocess.Popen([sys.executable, "-m", "devstack", *args], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.output = []
        for line in self.process.stdout:
            self.output.append(line)
            if "Ctrl-C" in line:  # the banner's last line
                break
        assert any("ready in" in line for line in self.output), "".join(self.output)
        self.token = (state / "admin-token").read_text().strip()

    def call(self, path, method="GET", body=None, base=None):
        request = urllib.request.Request(
            f"{base or self.gateway}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def ok(self, path, method="GET", body=None, base=None):
        status, answer = self.call(path, method, body, base)
        assert status < 300, (path, status, answer)
        return answer

    def until(self, path, done, timeout=20):
        deadline = time.monotonic() + timeout
        while not done(found := self.call(path)):
            assert time.monotonic() < deadline, found
            time.sleep(0.1)
        return found[1]

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        rest = self.process.stdout.read()
        assert self.process.wait(timeout=60) == 0, "".join(self.output) + rest


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    ports = {name: emulators.free_port() for name in
             ("GATEWAY_PORT", "FIRESTORE_PORT", "PUBSUB_PORT", "AMAPI_EMULATOR_PORT")}
    return tmp_path_factory.mktemp("devstack"), ports


@pytest.fixture(scope="module")
def before_restart(place):
    """A first run: a profile, an app, a COSU configuration, a binding and an enrolled device."""
    stack = Stack(*place)
    try:
        stack.ok("/enroll/users", "POST", {"userName": "kiosk-lobby"})
        profile = stack.ok("/enroll/enrollment-profiles", "POST", {
            "name": "Lobby", "userName": "kiosk-lobby", "validityDays": 7})
        stack.ok("/policy/apps", "POST", {"packageName": "com.example.kiosk", "type": "PUBLIC"})
        config = stack.ok("/policy/cosu-configs", "POST", {
            "name": "Lobby kiosk", "priority": 1, "distribution": {"mode": "ALL"},
            "app": {"packageName": "com.example.kiosk"}})
        binding = stack.ok("/policy/role-bindings", "POST", {
            "principal": "operator@example.com", "role": "OPERATOR", "space": "global"})
        device = stack.ok("/emulator/v1/enroll", "POST", {
            "enrollmentToken": profile["token"]["value"], "apiLevel": 34,
            "hardwareInfo": {"serialNumber": "KEEP-1", "manufacturer": "Zebra",
                             "brand": "Zebra", "model": "TC58"},
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}},
            base=stack.amapi)
        device_id = device["name"].rsplit("/", 1)[1]
        # Vetted and moved onto the configuration's policy, in AMAPI and in the inventory.
        on_config = stack.until(f"/commands/devices/{device_id}", lambda found: found[0] == 200
                                and "holding" not in found[1]["policy"]["name"]
                                and found[1]["policy"]["appliedVersion"])
        token = stack.ok(f"/v1/{profile['token']['name']}", base=stack.amapi)
    finally:
        stack.stop()
    return {"profile": profile, "config": config, "binding": binding, "deviceId": device_id,
            "deviceName": device["name"], "policyName": on_config["policy"]["name"],
            "token": token}


def test_a_restarted_stack_has_everything_it_had_and_its_device_still_works(
        place, before_restart):
    stack = Stack(*place)
    try:
        profile = stack.ok(f"/enroll/enrollment-profiles/{before_restart['profile']['id']}")
        assert any("restored from" in line for line in stack.output), "".join(stack.output)
        assert profile["token"] == before_restart["profile"]["token"]
        assert profile["status"] == "ACTIVE"
        config = stack.ok(f"/policy/cosu-configs/{before_restart['config']['id']}")
        assert config["name"] == "Lobby kiosk"
        bindings = stack.ok("/policy/role-bindings")["roleBindings"]
        assert {(b["principal"], b["role"]) for b in bindings} >= {
            ("admin@example.com", "ADMIN"), ("operator@example.com", "OPERATOR")}

        device_id, name = before_restart["deviceId"], before_restart["deviceName"]
        inventory = stack.ok(f"/commands/devices/{device_id}")
        in_amapi = stack.ok(f"/v1/{name}", base=stack.amapi)
        token = stack.ok(f"/v1/{profile['token']['name']}", base=stack.amapi)
        assert inventory["policy"]["name"] == before_restart["policyName"]
        assert in_amapi["policyName"] == inventory["policy"]["name"]
        assert in_amapi["appliedPolicyVersion"] == inventory["policy"]["appliedVersion"]
        assert token == before_restart["token"]  # same value, same expiry
        policy = stack.ok(f"/v1/{in_amapi['policyName']}", base=stack.amapi)
        assert policy["applications"][0]["packageName"] == "com.example.kiosk"

        # The restored device still reports and still takes a command, end to end.
        stack.ok(f"/emulator/v1/{name}:report", "POST", {"memoryInfo": {"totalRam": "4096"}},
                 base=stack.amapi)
        command = stack.ok(f"/commands/devices/{device_id}/commands", "POST", {"type": "LOCK"})
        stack.until(f"/commands/devices/{device_id}/commands/{command['id']}",
                    lambda found: found[1].get("state") == "SUCCEEDED")
    finally:
        stack.stop()


def test_a_fresh_stack_is_empty_but_for_the_admin_binding(place, before_restart):
    state, _ = place
    stack = Stack(*place, "--fresh")
    try:
        assert stack.ok("/enroll/enrollment-profiles")["enrollmentProfiles"] == []
        assert stack.ok("/policy/cosu-configs")["cosuConfigs"] == []
        assert stack.ok("/commands/devices")["devices"] == []
        bindings = stack.ok("/policy/role-bindings")["roleBindings"]
        assert [(b["principal"], b["role"], b["space"]) for b in bindings] == [
            ("admin@example.com", "ADMIN", "global")]
        assert stack.ok(f"/v1/{ENTERPRISE}/devices", base=stack.amapi).get("devices", []) == []
    finally:
        stack.stop()
    assert (state / "data.previous" / "amapi-emulator.json").exists()
