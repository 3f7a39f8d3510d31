"""What a finished AMAPI Operation means for its command, over recorded COMMAND payloads."""

from shared.devices.command_outcomes import command_outcome
from tests.conftest import fixture_json


def test_a_lock_that_ran_succeeded():
    assert command_outcome(fixture_json("operation_lock_succeeded.json")) == {
        "state": "SUCCEEDED", "result": {}}


def test_a_refused_password_reset_failed_with_amapi_reason():
    outcome = command_outcome(fixture_json("operation_reset_password_failed.json"))
    assert outcome["state"] == "FAILED"
    assert outcome["error"] == {
        "code": 3, "errorCode": "INVALID_VALUE",
        "message": "errorCode: INVALID_VALUE; Numeric passwords must be at least 6 characters "
                   "on Android 14+."}


def test_clearing_app_data_that_failed_for_some_apps_failed_naming_them():
    operation = fixture_json("operation_clear_app_data_partial.json")
    outcome = command_outcome(operation)
    assert outcome["state"] == "FAILED"
    assert outcome["result"] == {
        "clearAppsDataStatus": operation["metadata"]["clearAppsDataStatus"]}
    message = outcome["error"]["message"]
    assert "com.example.signage" in message and "APP_NOT_FOUND" in message
    assert "com.android.vending" in message and "APP_PROTECTED" in message
    assert "com.example.kiosk" not in message
    assert outcome["error"]["code"] is None and outcome["error"]["errorCode"] is None


def test_clearing_app_data_that_worked_for_every_app_succeeded():
    operation = fixture_json("operation_clear_app_data_partial.json")
    for result in operation["metadata"]["clearAppsDataStatus"]["results"].values():
        result["clearingResult"] = "SUCCESS"
    assert command_outcome(operation)["state"] == "SUCCEEDED"


def test_a_cancelled_operation_is_cancelled():
    operation = fixture_json("operation_lock_succeeded.json")
    operation["error"] = {"code": 1, "message": "Cancelled."}
    outcome = command_outcome(operation)
    assert outcome["state"] == "CANCELLED"
    assert outcome["error"]["message"] == "Cancelled."


def test_a_status_other_than_success_fails_the_command():
    operation = fixture_json("operation_lock_succeeded.json")
    operation["metadata"].update(type="REQUEST_DEVICE_INFO",
                                 requestDeviceInfoStatus={"status": "UNSUPPORTED"})
    outcome = command_outcome(operation)
    assert outcome["state"] == "FAILED"
    assert outcome["error"]["message"] == "requestDeviceInfoStatus: UNSUPPORTED"
