"""The `amapi-cosu` command line against a live gateway: tables for people, JSON for scripts, a
QR code a scanner reads off the terminal, and a wipe that asks for the device first."""

from __future__ import annotations

import json

import numpy
import pytest
import zxingcpp
from click.testing import CliRunner

from amapi_cosu_cli import qr_terminal
from amapi_cosu_cli.main import cli
from tests.conftest import token_for
from tests.integration.policy_helpers import amapi_calls, clear_calls, managed_device

KIOSK = "com.example.kiosk"


@pytest.fixture
def run(live_gateway, firestore, amapi_emulator):
    runner = CliRunner()
    token = token_for("admin@example.com")

    def invoke(*args: str, input: str | None = None, as_json: bool = False):
        options = ["--url", live_gateway, "--token", token, *(["--json"] if as_json else [])]
        result = runner.invoke(cli, [*options, *args], input=input, catch_exceptions=False)
        return result

    invoke.json = lambda *args: json.loads(invoke(*args, as_json=True).output)
    return invoke


def scanned(drawing: str) -> str:
    """What a phone reads off the terminal: the drawing rendered as pixels, then decoded."""
    modules = qr_terminal.read(drawing)
    pixels = numpy.array([[0 if dark else 255 for dark in row] for row in modules],
                         dtype=numpy.uint8)
    image = numpy.kron(pixels, numpy.ones((6, 6), dtype=numpy.uint8))
    [found] = zxingcpp.read_barcodes(image)
    return bytes(found.bytes).decode()


def drawing_in(output: str) -> str:
    cells = set(qr_terminal.CELLS.values())
    lines = [line for line in output.splitlines()
             if line and set(line) <= cells and len(line) > 20]
    return "\n".join(lines)


def test_a_profile_shows_a_qr_code_a_scanner_reads_off_the_terminal(run, function_apps,
                                                                     admin_headers):
    enroll = function_apps["enroll"].test_client()
    assert enroll.post("/users", json={"userName": "lobby"},
                       headers=admin_headers).status_code == 201
    created = run("profiles", "create", "--name", "Lobby", "--user", "lobby", "--days", "7")
    assert created.exit_code == 0, created.output
    listed = run.json("profiles", "list")["enrollmentProfiles"]
    [profile] = listed
    assert profile["name"] == "Lobby"

    shown = run("profiles", "show", profile["id"])
    assert shown.exit_code == 0, shown.output
    assert profile["id"] in shown.output and "ACTIVE" in shown.output
    assert scanned(drawing_in(shown.output)) == profile["qrCode"]
    assert scanned(drawing_in(created.output)) == profile["qrCode"]

    missing = run("profiles", "show", "nope")
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.output


def test_devices_configs_and_commands(run, amapi_emulator, function_apps, admin_headers):
    device = managed_device(amapi_emulator, "SN-CLI-1")
    policy = function_apps["policy"].test_client()
    assert policy.post("/apps", json={"packageName": KIOSK, "type": "PUBLIC"},
                       headers=admin_headers).status_code == 201
    config = policy.post("/cosu-configs", json={
        "name": "Lobby", "priority": 1, "app": {"packageName": KIOSK},
        "distribution": {"mode": "ALL"}}, headers=admin_headers).get_json()

    listed = run("devices", "list")
    assert listed.exit_code == 0 and device["id"] in listed.output
    assert run.json("devices", "show", device["id"])["id"] == device["id"]
    assert run.json("configs", "list")["cosuConfigs"][0]["id"] == config["id"]
    assert run.json("configs", "policy", config["id"])["applications"][0]["packageName"] == KIOSK
    findings = run.json("configs", "lint", config["id"])["findings"]
    assert {"USB_DATA_ALLOWED"} <= {f["code"] for f in findings}

    clear_calls(amapi_emulator)
    plan = run("--json", "configs", "plan", config["id"], "-",
               input=json.dumps({"lockdown": {"disableKeyguard": True}}))
    assert plan.exit_code == 0, plan.output
    preview = json.loads(plan.output)
    assert preview["plan"]["amapiCalls"] == 1
    assert any(d["field"] == "keyguardDisabled" for d in preview["diff"])
    assert amapi_calls(amapi_emulator) == []  # a plan changes nothing

    locked = run.json("devices", "lock", device["id"])
    assert locked["type"] == "LOCK"

    refused = run("devices", "wipe", device["id"], "--reason", "stolen", input="wrong\n")
    assert refused.exit_code == 1 and "nothing was done" in refused.output
    assert not [c for c in amapi_calls(amapi_emulator)
                if c["method"] == "enterprises.devices.delete"]
    wiped = run("devices", "wipe", device["id"], "--reason", "stolen",
                input=f"{device['id']}\n")
    assert wiped.exit_code == 0, wiped.output
    assert [c for c in amapi_calls(amapi_emulator)
            if c["method"] == "enterprises.devices.delete"]


def test_without_credentials_the_cli_says_how_to_get_them(live_gateway, tmp_path,
                                                          monkeypatch):
    monkeypatch.delenv("AMAPI_COSU_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["--url", live_gateway, "--token-file",
                                      str(tmp_path / "none"), "devices", "list"])
    assert result.exit_code == 2
    assert "--token" in result.output


def test_find_export_and_watch_a_rollout(run, amapi_emulator, function_apps, admin_headers,
                                         tuned):
    from shared.store import devices

    tuned(ROLLOUT_INLINE_LIMIT=1)
    fleet = [managed_device(amapi_emulator, f"SN-FLEET-{index}") for index in range(3)]
    for index, device in enumerate(fleet):  # as the ENROLLMENT report leaves it
        devices.put(device["name"], {"hardware": {"serialNumber": f"SN-FLEET-{index}"}})
    found = run.json("devices", "find", "--serial", "SN-FLEET-1")["devices"]
    assert [device["id"] for device in found] == [fleet[1]["id"]]

    exported = run("export", "--format", "csv")
    assert exported.exit_code == 0, exported.output
    rows = exported.output.strip().splitlines()
    assert rows[0].startswith("id,") and len(rows) == 1 + len(fleet)
    assert {row.split(",")[0] for row in rows[1:]} == {device["id"] for device in fleet}

    policy = function_apps["policy"].test_client()
    assert policy.post("/apps", json={"packageName": KIOSK, "type": "PUBLIC"},
                       headers=admin_headers).status_code == 201
    accepted = policy.post("/cosu-configs", json={
        "name": "Fleet", "priority": 1, "app": {"packageName": KIOSK},
        "distribution": {"mode": "ALL"}}, headers=admin_headers)
    assert accepted.status_code == 202, accepted.get_json()  # more calls than the inline limit
    rollout = accepted.get_json()["rollout"]["id"]
    assert [r["id"] for r in run.json("rollouts", "list")["rollouts"]] == [rollout]
    assert policy.post(f"/rollouts/{rollout}:cancel", headers=admin_headers).status_code == 200
    watched = run("rollouts", "watch", rollout, "--every", "0.1")
    assert watched.exit_code == 0 and f"{rollout}: CANCELLED" in watched.output
