"""devices.issueCommand and devices.operations through the real client."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ControlClient, Recorder

COMMAND_TYPE_URL = "type.googleapis.com/google.android.devicemanagement.v1.Command"


def issue(amapi: Any, device: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = amapi.enterprises().devices().issueCommand(
        name=device["name"], body=command).execute()
    return result


def operations(amapi: Any) -> Any:
    return amapi.enterprises().devices().operations()


def completion(recorder: Recorder, operation: dict[str, Any]) -> dict[str, Any]:
    message = recorder.wait_for(
        lambda m: m.type == "COMMAND" and m.payload["name"] == operation["name"])
    return message.payload


def test_issue_returns_a_pending_operation_that_completes(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    operation = issue(amapi, device, {"type": "LOCK"})

    assert re.fullmatch(re.escape(device["name"]) + r"/operations/\d+", operation["name"])
    assert operation["done"] is False
    assert operation["metadata"]["@type"] == COMMAND_TYPE_URL
    assert operation["metadata"]["type"] == "LOCK"
    assert operation["metadata"]["duration"] == "600s"
    assert operation["metadata"]["createTime"].endswith("Z")

    done = completion(recorder, operation)
    assert done == {**operation, "done": True}
    assert operations(amapi).get(name=operation["name"]).execute() == done
    assert len(recorder.messages("COMMAND")) == 1


def test_reboot_changes_nothing_else(amapi: Any, device: dict[str, Any],
                                     recorder: Recorder) -> None:
    operation = issue(amapi, device, {"type": "REBOOT", "duration": "86400s"})

    done = completion(recorder, operation)

    assert done["metadata"]["duration"] == "86400s"
    assert "error" not in done
    assert amapi.enterprises().devices().get(name=device["name"]).execute() == device
    assert [m.type for m in recorder.messages()] == ["ENROLLMENT", "COMMAND"]


def test_type_is_inferred_from_params_and_clear_app_data_reports_per_package(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    packages = ["com.example.kiosk", "com.example.helper"]

    operation = issue(amapi, device, {"clearAppsDataParams": {"packageNames": packages}})
    done = completion(recorder, operation)

    assert operation["metadata"]["type"] == "CLEAR_APP_DATA"
    assert done["metadata"]["clearAppsDataStatus"] == {
        "results": {p: {"clearingResult": "SUCCESS"} for p in packages}}


@pytest.mark.parametrize(("command", "status_field", "status"), [
    ({"startLostModeParams": {"lostMessage": {"defaultMessage": "Return to store 42"}}},
     "startLostModeStatus", {"status": "SUCCESS"}),
    ({"stopLostModeParams": {}}, "stopLostModeStatus", {"status": "SUCCESS"}),
])
def test_lost_mode_commands_report_success(
        amapi: Any, device: dict[str, Any], recorder: Recorder, command: dict[str, Any],
        status_field: str, status: dict[str, str]) -> None:
    done = completion(recorder, issue(amapi, device, command))

    assert done["metadata"][status_field] == status


def test_short_numeric_password_fails_on_android_14(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    operation = issue(amapi, device, {"type": "RESET_PASSWORD", "newPassword": "1234",
                                      "resetPasswordFlags": ["LOCK_NOW"]})
    done = completion(recorder, operation)

    assert "newPassword" not in operation["metadata"]
    assert done["metadata"]["errorCode"] == "INVALID_VALUE"
    assert done["error"]["code"] == 3


def test_long_enough_password_succeeds(amapi: Any, device: dict[str, Any],
                                       recorder: Recorder) -> None:
    done = completion(recorder, issue(amapi, device, {"type": "RESET_PASSWORD",
                                                      "newPassword": "123456"}))

    assert "error" not in done
    assert "errorCode" not in done["metadata"]


def test_wipe_command_deletes_the_device_when_done(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    operation = issue(amapi, device, {"wipeParams": {"wipeDataFlags": ["WIPE_ESIMS"]}})

    done = completion(recorder, operation)
    deleted = recorder.wait_for(lambda m: m.type == "STATUS_REPORT")

    assert done["metadata"]["type"] == "WIPE"
    assert deleted.payload["state"] == "DELETED"
    with pytest.raises(HttpError) as caught:
        amapi.enterprises().devices().get(name=device["name"]).execute()
    assert caught.value.status_code == 404
    assert operations(amapi).get(name=operation["name"]).execute() == done


def test_cancel_a_pending_command(amapi: Any, control: ControlClient, device: dict[str, Any],
                                  recorder: Recorder) -> None:
    control.ok("POST", "delays", {"commandSeconds": 30})
    operation = issue(amapi, device, {"type": "LOCK"})

    assert operations(amapi).cancel(name=operation["name"]).execute() == {}

    cancelled = operations(amapi).get(name=operation["name"]).execute()
    assert cancelled["done"] is True
    assert cancelled["error"] == {"code": 1, "message": "Cancelled"}
    assert completion(recorder, operation) == cancelled


def test_a_cancelled_command_is_never_acknowledged(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    control.ok("POST", "delays", {"commandSeconds": 0.3})
    operation = issue(amapi, device, {"type": "LOCK"})
    operations(amapi).cancel(name=operation["name"]).execute()

    time.sleep(0.5)  # past the moment the device would have acknowledged

    assert len(recorder.messages("COMMAND")) == 1
    assert operations(amapi).get(name=operation["name"]).execute()["error"]["code"] == 1


def test_delays_can_be_changed_and_reset_restores_them(control: ControlClient) -> None:
    assert control.ok("POST", "delays", {"applySeconds": 2}) == {
        "commandSeconds": 0.05, "applySeconds": 2}
    assert control.call("POST", "delays", {"applySeconds": -1})[0] == 400

    control.ok("POST", "reset")

    assert control.ok("GET", "delays") == {"commandSeconds": 0.05, "applySeconds": 0.05}


def test_cancel_a_finished_command_is_a_no_op(amapi: Any, device: dict[str, Any],
                                              recorder: Recorder) -> None:
    operation = issue(amapi, device, {"type": "LOCK"})
    done = completion(recorder, operation)

    assert operations(amapi).cancel(name=operation["name"]).execute() == {}
    assert operations(amapi).get(name=operation["name"]).execute() == done
    assert len(recorder.messages("COMMAND")) == 1


def test_operations_list_shows_the_devices_commands(
        amapi: Any, device: dict[str, Any], control: ControlClient,
        token: dict[str, Any]) -> None:
    other = control.enroll(token["value"], serial="OTHER")
    names = [issue(amapi, device, {"type": "LOCK"})["name"] for _ in range(3)]
    issue(amapi, other, {"type": "LOCK"})

    listed = operations(amapi).list(name=f"{device['name']}/operations").execute()

    assert [op["name"] for op in listed["operations"]] == names


@pytest.mark.parametrize("command", [
    {},
    {"type": "LOCK", "wipeParams": {}},
    {"clearAppsDataParams": {"packageNames": ["a"]}, "stopLostModeParams": {}},
])
def test_ambiguous_or_empty_commands_are_400(amapi: Any, device: dict[str, Any],
                                             command: dict[str, Any]) -> None:
    with pytest.raises(HttpError) as caught:
        issue(amapi, device, command)
    assert caught.value.status_code == 400


def test_command_to_an_unknown_device_is_404(amapi: Any, device: dict[str, Any]) -> None:
    with pytest.raises(HttpError) as caught:
        issue(amapi, {"name": device["name"][:-1] + "x"}, {"type": "LOCK"})
    assert caught.value.status_code == 404
