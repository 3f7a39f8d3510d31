"""`make run`'s stack as a newcomer uses it: one process, every part ready, nothing left behind."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devstack import emulators, local_auth

ROOT = Path(__file__).resolve().parents[2]


def _get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _listening(port):
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _first_call_on_first_health(gateway, state, until, seen):
    """Poll /healthz like an impatient client; on the first 200, call as the admin at once."""
    while time.monotonic() < until:
        try:
            healthy = _get(f"{gateway}/enroll/healthz")[0] == 200
        except OSError:
            healthy = False
        if healthy:
            token_file = state / "admin-token"
            seen["token_written"] = token_file.exists()
            # Without the stack's token yet, one signed by the stack's key says the same.
            token = (token_file.read_text().strip() if token_file.exists()
                     else local_auth.issue_token(state / "auth" / "signing-key.pem",
                                                 "admin@example.com"))
            seen["first_call"] = _get(f"{gateway}/enroll/enrollment-profiles", token)
            seen["first_command_call"] = _get(f"{gateway}/commands/devices", token)
            return
        time.sleep(0.01)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ports = {name: emulators.free_port() for name in
             ("GATEWAY_PORT", "FIRESTORE_PORT", "PUBSUB_PORT", "AMAPI_EMULATOR_PORT")}
    state = tmp_path_factory.mktemp("devstack")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FIRESTORE_", "PUBSUB_", "AMAPI_", "AUTH_", "LOCAL_AUTH"))}
    env.update({k: str(v) for k, v in ports.items()}, DEVSTACK_DIR=str(state))
    started = time.monotonic()
    first_client = {}
    watcher = threading.Thread(target=_first_call_on_first_health, args=(
        f"http://127.0.0.1:{ports['GATEWAY_PORT']}", state, started + 180, first_client),
        daemon=True)
    watcher.start()
    process = subprocess.Popen([sys.executable, "-m", "devstack"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in process.stdout:
        output.append(line)
        if "ready in" in line or process.poll() is not None:
            break
    assert any("ready in" in line for line in output), "".join(output)
    ready_after = time.monotonic() - started
    watcher.join(30)
    yield {"process": process, "ports": ports, "state": state, "ready_after": ready_after,
           "output": output, "first_client": first_client}
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_every_function_is_healthy(stack):
    gateway = f"http://127.0.0.1:{stack['ports']['GATEWAY_PORT']}"
    for prefix in ("enroll", "policy", "commands", "notifications", "rollouts"):
        status, body = _get(f"{gateway}/{prefix}/healthz")
        assert status == 200, (prefix, body)


def test_admin_token_is_written_and_accepted(stack):
    gateway = f"http://127.0.0.1:{stack['ports']['GATEWAY_PORT']}"
    token = (stack["state"] / "admin-token").read_text().strip()
    assert _get(f"{gateway}/expire-tokens/", token)[0] == 405  # GET: authenticated, wrong verb
    status, body = _get(f"{gateway}/enroll/no-such-route", token)
    assert status == 404 and b'"NOT_FOUND"' in body
    status, body = _get(f"{gateway}/enroll/no-such-route")
    assert status == 401 and b'"UNAUTHENTICATED"' in body


def test_a_client_starting_on_the_first_healthz_200_is_served_at_once(stack):
    seen = stack["first_client"]
    status, body = seen["first_call"]
    assert status == 200, body
    status, body = seen["first_command_call"]
    assert status == 200, body
    assert seen["token_written"], "no admin token yet when /healthz first answered"


def test_openapi_is_served_by_each_http_function(stack):
    gateway = f"http://127.0.0.1:{stack['ports']['GATEWAY_PORT']}"
    for prefix in ("enroll", "policy", "commands", "expire-tokens", "reconcile-commands"):
        status, body = _get(f"{gateway}/{prefix}/openapi.json")
        assert status == 200 and b'"openapi": "3.1.0"' in body


def test_amapi_emulator_serves_its_enterprise(stack):
    amapi = f"http://127.0.0.1:{stack['ports']['AMAPI_EMULATOR_PORT']}"
    status, body = _get(f"{amapi}/v1/enterprises/LC00local")
    assert status == 200 and b"amapi-events" in body


def test_a_rollout_message_published_on_the_stack_reaches_the_worker(stack):
    import json

    pubsub_host = f"127.0.0.1:{stack['ports']['PUBSUB_PORT']}"
    topic = "projects/amapi-cosu-local/topics/amapi-cosu-rollouts"
    message_id = emulators.publish(pubsub_host, topic, json.dumps({"rolloutId": "e2e"}).encode(),
                                   {})
    functions_log = stack["state"] / "logs" / "functions.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in functions_log.read_text().splitlines()
                 if line.startswith("{") and '"rollout message handled"' in line]
        if lines:
            break
        time.sleep(0.1)
    assert [(e["rolloutId"], e["messageId"]) for e in lines] == [("e2e", message_id)]


def test_ctrl_c_stops_every_child_and_frees_every_port(stack):
    process = stack["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    busy = [name for name, port in stack["ports"].items() if _listening(port)]
    assert busy == []
    leftovers = subprocess.run(["pgrep", "-f", str(stack["state"])], capture_output=True,
                               text=True).stdout.split()
    java = subprocess.run(["pgrep", "-f", f"--port={stack['ports']['FIRESTORE_PORT']}"],
                          capture_output=True, text=True).stdout.split()
    assert leftovers == [] and java == []
