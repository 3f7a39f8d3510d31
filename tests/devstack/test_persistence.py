"""The emulator's world survives a restart: snapshot, restore, and the file it is saved in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.auth.credentials
import pytest
from googleapiclient.discovery import build

from devstack.amapi_emulator import EmulatorServer, persistence

from .harness import ENTERPRISE, ControlClient, Recorder


def client(server: EmulatorServer) -> Any:
    return build("androidmanagement", "v1", static_discovery=True, cache_discovery=False,
                 credentials=google.auth.credentials.AnonymousCredentials(),
                 client_options={"api_endpoint": server.url})


@pytest.fixture
def other_recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def restarted(other_recorder: Recorder) -> Iterator[EmulatorServer]:
    """A second emulator, as the one started after a restart."""
    emulator = EmulatorServer(port=0, publisher=other_recorder, command_delay=0.05,
                              apply_delay=0.05)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def world(server: EmulatorServer, amapi: Any, control: ControlClient, token: dict[str, Any],
          device: dict[str, Any], recorder: Recorder) -> dict[str, Any]:
    """Every kind of resource, one command done and one pending, a behaviour that acted."""
    policies = amapi.enterprises().policies()
    policies.patch(name=f"{ENTERPRISE}/policies/kiosk", body={"funDisabled": False}).execute()
    one_time = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"policyName": "kiosk", "oneTimeOnly": True,
                                 "duration": "7200s"}).execute()
    second = control.enroll(one_time["value"], serial="SER-0002")
    control.ok("POST", "behaviors", {"devices": [second["name"]], "policy": "kiosk",
                                     "appError": {"packageName": "com.example.kiosk",
                                                  "key": "crash", "message": "boom"}})
    policies.patch(name=f"{ENTERPRISE}/policies/kiosk", body={"funDisabled": True}).execute()
    recorder.wait_for(lambda m: m.type == "STATUS_REPORT" and m.payload["name"] == second["name"]
                      and m.payload.get("appliedPolicyVersion") == "3")
    devices = amapi.enterprises().devices()
    done = devices.issueCommand(name=device["name"], body={"type": "LOCK"}).execute()
    recorder.wait_for(lambda m: m.type == "COMMAND" and m.payload["name"] == done["name"])
    control.ok("POST", "delays", {"commandSeconds": 30})
    pending = devices.issueCommand(name=second["name"], body={"type": "REBOOT"}).execute()
    signup = amapi.signupUrls().create(projectId="amapi-cosu-local",
                                       callbackUrl="https://example.com/cb").execute()
    control.ok("POST", "clock", {"offsetSeconds": 120})
    return {"token": token, "oneTime": one_time, "device": device, "second": second,
            "done": done, "pending": pending, "signup": signup}


def test_a_snapshot_restores_exactly_every_resource(
        server: EmulatorServer, restarted: EmulatorServer, world: dict[str, Any],
        tmp_path: Path) -> None:
    taken = server.snapshot()
    path = tmp_path / "state" / "amapi-emulator.json"
    persistence.save(path, taken)
    loaded = persistence.load(path)
    assert loaded == taken
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind

    restarted.restore(loaded)

    assert restarted.snapshot() == taken
    amapi = client(restarted)
    assert amapi.enterprises().get(name=ENTERPRISE).execute()["pubsubTopic"].endswith(
        "/amapi-events")
    assert amapi.enterprises().policies().get(
        name=f"{ENTERPRISE}/policies/kiosk").execute()["version"] == "3"
    kept = amapi.enterprises().enrollmentTokens().get(name=world["token"]["name"]).execute()
    assert kept["expirationTimestamp"] == world["token"]["expirationTimestamp"]
    assert taken["tokens"][world["oneTime"]["name"]]["used"] is True
    second = amapi.enterprises().devices().get(name=world["second"]["name"]).execute()
    assert second["appliedPolicyVersion"] == "3"
    assert second["applicationReports"][0]["keyedAppStates"][0]["message"] == "boom"
    operations = amapi.enterprises().devices().operations()
    assert operations.get(name=world["done"]["name"]).execute()["done"] is True
    assert operations.get(name=world["pending"]["name"]).execute()["done"] is False
    control = ControlClient(restarted.url)
    assert control.ok("GET", "clock")["offsetSeconds"] == 120
    assert control.ok("GET", "delays")["commandSeconds"] == 30
    assert control.ok("GET", "behaviors")["behaviors"][0]["devices"] == [world["second"]["name"]]
    completed = control.ok("POST", "signup:complete", {"signupUrlName": world["signup"]["name"]})
    assert completed["enterpriseToken"]


def test_a_restored_device_carries_on_reporting_and_taking_commands(
        server: EmulatorServer, restarted: EmulatorServer, world: dict[str, Any],
        other_recorder: Recorder) -> None:
    taken = server.snapshot()
    taken["delays"]["commandSeconds"] = 0.05  # the restarted device need not wait 30 s
    restarted.restore(taken)
    amapi, control = client(restarted), ControlClient(restarted.url)

    # The command pending when the emulator stopped completes after it starts again.
    pending = other_recorder.wait_for(
        lambda m: m.type == "COMMAND" and m.payload["name"] == world["pending"]["name"])
    assert pending.payload["done"] is True

    device = world["device"]["name"]
    reported = control.ok("POST", f"{device}:report", {"memoryInfo": {"totalRam": "2048"}})
    assert reported["memoryInfo"]["totalRam"] == "2048"
    other_recorder.wait_for(lambda m: m.type == "STATUS_REPORT" and m.payload["name"] == device)

    lock = amapi.enterprises().devices().issueCommand(name=device, body={"type": "LOCK"}).execute()
    numbers = [int(op["name"].rsplit("/", 1)[1]) for op in (world["done"], world["pending"])]
    assert int(lock["name"].rsplit("/", 1)[1]) > max(numbers)  # operation ids never repeat
    other_recorder.wait_for(lambda m: m.type == "COMMAND" and m.payload["name"] == lock["name"])

    # Tokens keep their state: the multi-use one still enrolls, the used one-time one does not.
    assert control.enroll(world["token"]["value"], serial="SER-0003")["name"]
    status, body = control.call("POST", "enroll", {
        "enrollmentToken": world["oneTime"]["value"], "apiLevel": 34,
        "hardwareInfo": {"serialNumber": "SER-0004", "manufacturer": "Zebra", "brand": "Zebra",
                         "model": "TC58"},
        "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-10-01"}})
    assert status == 400, body


def test_a_wiped_device_still_sends_its_last_report_after_a_restart(
        server: EmulatorServer, restarted: EmulatorServer, amapi: Any, control: ControlClient,
        device: dict[str, Any], other_recorder: Recorder) -> None:
    control.ok("POST", "delays", {"applySeconds": 30})
    amapi.enterprises().devices().delete(name=device["name"]).execute()
    taken = server.snapshot()
    assert taken["pendingDeletionReports"] == {device["name"]: "SER-0001"}
    taken["delays"]["applySeconds"] = 0.05

    restarted.restore(taken)

    report = other_recorder.wait_for(
        lambda m: m.type == "STATUS_REPORT" and m.payload["name"] == device["name"])
    assert report.payload["state"] == "DELETED"
    assert restarted.snapshot()["pendingDeletionReports"] == {}


def test_the_autosave_follows_each_change_within_moments(
        server: EmulatorServer, control: ControlClient, token: dict[str, Any],
        tmp_path: Path) -> None:
    path = tmp_path / "amapi-emulator.json"
    saver = persistence.AutoSaver(server.app.simulation, path, interval=0.05).start()
    try:
        enrolled = control.enroll(token["value"], serial="SER-AUTO")
        deadline = time.monotonic() + 3
        while enrolled["name"] not in (path.read_text() if path.exists() else ""):
            assert time.monotonic() < deadline, "no save followed the enrollment"
            time.sleep(0.02)
        control.ok("POST", "clock", {"offsetSeconds": 60})
    finally:
        saver.stop()
    assert json.loads(path.read_text()) == server.snapshot()


def test_a_state_file_it_cannot_read_is_refused_and_changes_nothing(
        server: EmulatorServer, device: dict[str, Any]) -> None:
    before = server.snapshot()
    for bad in ({"format": "something-else/9"}, {**before, "tokens": {"x": {}}}):
        with pytest.raises(persistence.SnapshotError):
            server.restore(bad)
    assert server.snapshot() == before
