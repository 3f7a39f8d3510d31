"""Status reports at fleet volume: only what changed is written, and the guarantees hold."""

import logging
import random
import threading

import pytest
from google.cloud.firestore_v1.batch import WriteBatch
from google.cloud.firestore_v1.document import DocumentReference

from shared import logs
from shared.store import app_feedback, devices, notification_effects, notification_receipts
from shared.store.client import db
from tests.conftest import ENV
from tests.integration.notification_helpers import push_envelope

DEVICE_ID = "5566778899aabbcc"
NAME = f"enterprises/{ENV.enterprise_id}/devices/{DEVICE_ID}"
KIOSK = "com.example.kiosk"


@pytest.fixture(autouse=True)
def forgetful_instance():
    """Each test starts as a fresh instance: nothing remembered of an earlier test's devices."""
    notification_effects.RECENT.clear()
    yield
    notification_effects.RECENT.clear()


def report(minute, message_id, states=None, **extra):
    payload = {"name": NAME, "state": "ACTIVE",
               "lastStatusReportTime": f"2026-11-21T10:{minute:02d}:00Z", **extra}
    if states is not None:
        payload["applicationReports"] = [{"packageName": KIOSK, "state": "INSTALLED",
                                          "keyedAppStates": states}]
    return push_envelope("STATUS_REPORT", payload, message_id)


def post(app, envelope):
    return app.test_client().post(f"/{ENV.topic}", json=envelope).status_code


def feedback_ref(key):
    return db().collection(app_feedback.COLLECTION).document(
        app_feedback.state_id(DEVICE_ID, KIOSK, key))


def committed_writes(monkeypatch):
    """Every write the notifications function commits from now on, as (document, fields)."""
    writes = []
    commit = WriteBatch.commit

    def recording(batch, **kwargs):
        for write in batch._write_pbs:
            target = write.update.name or write.delete
            fields = (sorted(write.update_mask.field_paths) if "update_mask" in write
                      else sorted(write.update.fields))
            writes.append((target.split("/documents/", 1)[-1], fields))
        return commit(batch, **kwargs)

    monkeypatch.setattr(WriteBatch, "commit", recording)
    update = notification_effects._LeanCommit.update

    def recording_lean(lean, path, fields, update_time):
        result = update(lean, path, fields, update_time)
        if result is not notification_effects._UNSUPPORTED:  # else the batch above records it
            writes.append((path.split("/documents/", 1)[-1], sorted(fields)))
        return result

    monkeypatch.setattr(notification_effects._LeanCommit, "update", recording_lean)
    return writes


def device_reads(monkeypatch):
    """Every read of a device document from now on."""
    reads = []
    get = DocumentReference.get

    def recording(reference, *args, **kwargs):
        if reference.path.startswith(f"{devices.COLLECTION}/"):
            reads.append(reference.path)
        return get(reference, *args, **kwargs)

    monkeypatch.setattr(DocumentReference, "get", recording)
    return reads


def device_version():
    return db().collection(devices.COLLECTION).document(DEVICE_ID).get().update_time


def test_a_repeating_report_writes_only_what_changed(function_apps, firestore,
                                                     amapi_emulator, monkeypatch):
    app = function_apps["notifications"]
    state = {"key": "server_url", "severity": "ERROR", "message": "unreachable",
             "lastUpdateTime": "2026-11-21T09:00:00Z"}
    assert post(app, report(1, "v1", [state])) in (200, 204)
    assert feedback_ref("server_url").get().exists

    writes = committed_writes(monkeypatch)
    reads = device_reads(monkeypatch)
    assert post(app, report(2, "v2", [state])) in (200, 204)
    # The device's report time alone: no inventory field or app state it repeats, no receipt
    # (report-time ordering deduplicates), and no read (this instance wrote the last version).
    assert writes == [(f"devices/{DEVICE_ID}", ["lastStatusReportTime", "reportTime"])]
    assert reads == []
    assert devices.get(NAME)["reportTime"] == "2026-11-21T10:02:00Z"
    assert notification_receipts.get_receipt("v2") is None

    changed = {**state, "severity": "INFO", "message": "ok"}
    assert post(app, report(3, "v3", [changed])) in (200, 204)
    assert feedback_ref("server_url").get().to_dict()["severity"] == "INFO"
    assert feedback_ref("server_url").get().to_dict()["severity"] == "INFO"

    assert post(app, report(4, "v4", [])) in (200, 204)
    assert not feedback_ref("server_url").get().exists
    assert devices.get(NAME)["feedbackIds"] == []


def test_concurrent_reports_and_writes_to_one_device_lose_nothing(function_apps, firestore,
                                                                  amapi_emulator):
    app = function_apps["notifications"]
    assert post(app, report(0, "c-start")) in (200, 204)
    minutes = list(range(1, 41))
    random.Random(7).shuffle(minutes)
    queue = [(minute, f"c{minute}") for minute in minutes]
    # Every report twice: redeliveries race their first delivery.
    queue += queue[::3]
    lock = threading.Lock()
    statuses = []

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                minute, message_id = queue.pop()
            # Pub/Sub redelivers anything not acknowledged with 2xx.
            while (status := post(app, report(minute, message_id))) >= 300:
                statuses.append(status)

    def other_writer():
        for index in range(30):
            devices.put(NAME, {"policyName": f"policies/p{index}"})

    threads = [threading.Thread(target=worker) for _ in range(6)]
    threads.append(threading.Thread(target=other_writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = devices.get(NAME)
    assert stored["reportTime"] == "2026-11-21T10:40:00Z"
    assert stored["policyName"] == "policies/p29"
    assert all(status >= 500 for status in statuses)
    # Only the first report, which vetted the new device, needed a receipt.
    receipts = notification_receipts.receipts_for(NAME)
    assert len(receipts) == 1


def test_a_redelivered_report_applies_once_without_a_receipt(function_apps, firestore,
                                                             amapi_emulator, monkeypatch):
    app = function_apps["notifications"]
    state = {"key": "server_url", "severity": "ERROR", "message": "unreachable"}
    assert post(app, report(1, "first")) in (200, 204)
    envelope = report(2, "again", [state], hardwareInfo={"serialNumber": "SN-2"})
    assert post(app, envelope) in (200, 204)
    applied, version = devices.get(NAME), device_version()
    feedback = feedback_ref("server_url").get()

    writes = committed_writes(monkeypatch)
    # Redelivered to the instance that applied it, then to one that never saw the device.
    assert post(app, envelope) in (200, 204)
    notification_effects.RECENT.clear()
    assert post(app, envelope) in (200, 204)

    assert devices.get(NAME) == applied
    # Nothing rewritten: the device's version and its app feedback are the first delivery's.
    assert device_version() == version
    assert feedback_ref("server_url").get().update_time == feedback.update_time
    assert all(fields == ["name"] for _, fields in writes)
    assert notification_receipts.get_receipt("again") is None
    assert notification_receipts.malformed() == []


def test_an_older_report_after_a_newer_one_changes_nothing(function_apps, firestore,
                                                           amapi_emulator):
    app = function_apps["notifications"]
    newer = {"key": "server_url", "severity": "INFO", "message": "ok"}
    older = {"key": "battery", "severity": "ERROR", "message": "low"}
    assert post(app, report(5, "newer", [newer], hardwareInfo={"serialNumber": "NEW"})) in (
        200, 204)
    applied = devices.get(NAME)
    assert post(app, report(3, "older", [older], hardwareInfo={"serialNumber": "OLD"})) in (
        200, 204)
    notification_effects.RECENT.clear()
    assert post(app, report(4, "old", [older], state="DISABLED")) in (200, 204)

    assert devices.get(NAME) == applied
    assert applied["hardware"]["serialNumber"] == "NEW"
    assert feedback_ref("server_url").get().exists
    assert not feedback_ref("battery").get().exists
    assert notification_receipts.get_receipt("older") is None


def test_a_device_changed_elsewhere_is_read_again_and_nothing_is_lost(
        function_apps, firestore, amapi_emulator, monkeypatch):
    app = function_apps["notifications"]
    assert post(app, report(1, "s1")) in (200, 204)
    assert post(app, report(2, "s2")) in (200, 204)
    # Another instance applies a newer report, an administrator moves the device: this
    # instance's remembered version is stale.
    devices.put(NAME, {"reportTime": "2026-11-21T10:06:00Z",
                       "lastStatusReportTime": "2026-11-21T10:06:00Z",
                       "space": "store-42", "labels": ["moved"], "policyName": "policies/p7"})

    reads = device_reads(monkeypatch)
    # Newer than what this instance remembers, older than what is stored: changes nothing.
    assert post(app, report(4, "s4", hardwareInfo={"serialNumber": "LATE"})) in (200, 204)
    assert len(reads) == 1
    stored = devices.get(NAME)
    assert stored["reportTime"] == "2026-11-21T10:06:00Z"
    assert "serialNumber" not in stored.get("hardware", {})
    assert (stored["space"], stored["labels"], stored["policyName"]) == (
        "store-42", ["moved"], "policies/p7")

    # A newer report lands on what is stored, and this instance now knows that version again.
    reads.clear()
    assert post(app, report(8, "s8", hardwareInfo={"serialNumber": "NOW"})) in (200, 204)
    assert reads == []
    stored = devices.get(NAME)
    assert stored["reportTime"] == "2026-11-21T10:08:00Z"
    assert stored["hardware"]["serialNumber"] == "NOW"
    assert (stored["space"], stored["labels"], stored["policyName"]) == (
        "store-42", ["moved"], "policies/p7")
    assert notification_receipts.malformed() == []


def test_a_device_removed_elsewhere_is_vetted_again(function_apps, firestore, amapi_emulator):
    app = function_apps["notifications"]
    assert post(app, report(1, "r1")) in (200, 204)
    db().collection(devices.COLLECTION).document(DEVICE_ID).delete()
    assert post(app, report(2, "r2")) in (200, 204)
    stored = devices.get(NAME)
    assert stored["reportTime"] == "2026-11-21T10:02:00Z"
    assert stored["enrollmentDecision"]["result"] == "ALLOWED"
    # A new inventory record is gated like any first report, with its receipt.
    assert notification_receipts.get_receipt("r2") is not None


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_status_reports_write_no_log_line_at_the_deployed_level(function_apps, firestore,
                                                                amapi_emulator):
    """A line per report at fleet volume costs more than the report: DEBUG only; what an
    operator must see (a payload kept for inspection) still warns."""
    app = function_apps["notifications"]
    logs.configure()
    records = _Records()
    logs.logger.addHandler(records)
    try:
        for minute in range(1, 4):
            assert post(app, report(minute, f"quiet{minute}")) in (200, 204)
        assert post(app, report(5, "bad", hardwareInfo="not an object")) in (200, 204)
    finally:
        logs.logger.removeHandler(records)
    loud = [r for r in records.records if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in loud if r.levelno < logging.WARNING] == []
    assert any("kept for inspection" in r.getMessage() for r in loud)
    assert devices.get(NAME)["reportTime"] == "2026-11-21T10:03:00Z"


def lean_commits(monkeypatch):
    """The documents committed without the client library's batch from now on."""
    sent = []
    update = notification_effects._LeanCommit.update

    def recording(lean, path, fields, update_time):
        result = update(lean, path, fields, update_time)
        if result is not notification_effects._UNSUPPORTED:
            sent.append(path.split("/documents/", 1)[-1])
        return result

    monkeypatch.setattr(notification_effects._LeanCommit, "update", recording)
    return sent


def test_a_lean_report_stores_what_the_client_library_would(function_apps, firestore,
                                                             amapi_emulator, monkeypatch):
    """Status reports of a known device skip the client library's encoding: every kind of
    value a report carries reads back exactly as through the library."""
    app = function_apps["notifications"]
    full = {"state": "ACTIVE", "appliedState": "ACTIVE", "apiLevel": 34,
            "policyCompliant": False, "appliedPolicyVersion": "12",
            "appliedPolicyName": "enterprises/e/policies/kiosk",
            "hardwareInfo": {"manufacturer": "Zébra ✓", "model": "TC58", "serialNumber": ""},
            "networkInfo": {}, "softwareInfo": {"androidVersion": "14"},
            "nonComplianceDetails": [{"settingName": "apps", "packageName": KIOSK,
                                      "nonComplianceReason": "APP_NOT_INSTALLED"}, {}],
            "applicationReports": [{"packageName": KIOSK, "versionCode": 2 ** 40,
                                    "displayName": "Kiosk \u2013 café", "state": "INSTALLED"}]}
    stored = {}
    for lean in (True, False):
        notification_effects.RECENT.clear()
        db().collection(devices.COLLECTION).document(DEVICE_ID).delete()
        if not lean:
            monkeypatch.setattr(notification_effects, "_lean_commit", lambda client: None)
        writes = committed_writes(monkeypatch)
        sent_lean = lean_commits(monkeypatch)
        assert post(app, report(1, f"first-{lean}")) in (200, 204)
        assert post(app, report(2, f"full-{lean}", **full)) in (200, 204)
        assert post(app, report(3, f"less-{lean}", state="DISABLED", networkInfo={"imei": "1"},
                                nonComplianceDetails=[])) in (200, 204)
        # One device write each, whichever the path.
        assert [target for target, _ in writes if target.startswith("devices/")] == [
            f"devices/{DEVICE_ID}"] * 3
        assert sent_lean == ([f"devices/{DEVICE_ID}"] * 2 if lean else [])
        stored[lean] = devices.get(NAME)
        stored[lean]["enrollmentDecision"].pop("decideTime")  # when each was vetted
    assert stored[True] == stored[False]
    assert stored[True]["apps"][0]["versionCode"] == 2 ** 40
    assert stored[True]["state"] == "DISABLED"


def test_a_lean_report_while_firestore_is_unreachable_is_redelivered(
        function_apps, firestore, amapi_emulator, monkeypatch):
    from devstack import emulators
    from shared import config
    from shared.store import client

    app = function_apps["notifications"]
    assert post(app, report(1, "up")) in (200, 204)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{emulators.free_port()}")
    monkeypatch.setenv("FIRESTORE_RETRY_BUDGET_SECONDS", "1")
    config.settings.cache_clear()
    client.reset_client()
    try:
        # Remembered, so its commit is the first call Firestore would see: it fails, and
        # Pub/Sub must redeliver rather than lose the report.
        assert post(app, report(2, "down")) >= 500
    finally:
        monkeypatch.undo()
        config.settings.cache_clear()
        client.reset_client()
    assert devices.get(NAME)["reportTime"] == "2026-11-21T10:01:00Z"
    assert post(app, report(2, "down")) in (200, 204)
    assert devices.get(NAME)["reportTime"] == "2026-11-21T10:02:00Z"
