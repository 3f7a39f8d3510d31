"""What a device notification writes is decided against the device as stored at write time."""

from shared.notifications.handlers import _device_write

NAME = "enterprises/E/devices/d1"
REPORT = {"name": NAME, "state": "ACTIVE", "lastStatusReportTime": "2026-12-02T10:00:00Z",
          "applicationReports": [{"packageName": "com.example.kiosk", "keyedAppStates": [
              {"key": "k", "severity": "ERROR", "message": "m"}]}]}


def test_a_report_never_moves_a_device_back_to_the_space_it_was_read_in():
    # Read in "global", then handed to "lyon" before the write: the write keeps "lyon".
    build = _device_write(NAME, REPORT, {}, "global", [], False, {})
    write = build({"name": NAME, "space": "lyon", "labels": []})
    assert write.device["space"] == "lyon"
    assert {state["space"] for state in write.feedback} == {"lyon"}


def test_a_new_device_takes_the_space_its_enrollment_names():
    write = _device_write(NAME, REPORT, {}, "stores", [], False, {})(None)
    assert write.device["space"] == "stores"
