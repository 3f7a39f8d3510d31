"""Status reports at fleet volume: only what changed is written, and the guarantees hold."""

import random
import threading

from google.cloud.firestore_v1.batch import WriteBatch

from shared.store import app_feedback, devices, notification_receipts
from shared.store.client import db
from tests.conftest import ENV
from tests.integration.notification_helpers import push_envelope

DEVICE_ID = "5566778899aabbcc"
NAME = f"enterprises/{ENV.enterprise_id}/devices/{DEVICE_ID}"
KIOSK = "com.example.kiosk"


def report(minute, message_id, states=None):
    payload = {"name": NAME, "state": "ACTIVE",
               "lastStatusReportTime": f"2026-11-21T10:{minute:02d}:00Z"}
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
    return writes


def test_a_repeating_report_writes_only_what_changed(function_apps, firestore,
                                                     amapi_emulator, monkeypatch):
    app = function_apps["notifications"]
    state = {"key": "server_url", "severity": "ERROR", "message": "unreachable",
             "lastUpdateTime": "2026-11-21T09:00:00Z"}
    assert post(app, report(1, "v1", [state])) in (200, 204)
    assert feedback_ref("server_url").get().exists

    writes = committed_writes(monkeypatch)
    assert post(app, report(2, "v2", [state])) in (200, 204)
    # The device's report time and the receipt: no inventory field or app state it repeats.
    assert writes == [(f"devices/{DEVICE_ID}", ["lastStatusReportTime", "reportTime"]),
                      ("notificationReceipts/v2", ["expireTime", "notificationType",
                                                   "publishTime", "receiveTime", "resource",
                                                   "source"])]
    assert devices.get(NAME)["reportTime"] == "2026-11-21T10:02:00Z"

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
    receipts = notification_receipts.receipts_for(NAME)
    assert len(receipts) == 41
