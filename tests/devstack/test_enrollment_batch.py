"""Bulk simulated enrollment: many devices with one token, in one control API call."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import ENTERPRISE, ControlClient, Recorder


def entry(serial: str, **fields: Any) -> dict[str, Any]:
    return {"hardwareInfo": {"serialNumber": serial, "manufacturer": "Zebra", "brand": "Zebra",
                             "model": "TC58"},
            "softwareInfo": {"androidVersion": "14", "securityPatchLevel": "2026-09-01"},
            "apiLevel": 33, **fields}


def batch(token: str, count: int, prefix: str = "B") -> dict[str, Any]:
    return {"enrollmentToken": token, "devices": [entry(f"{prefix}-{i}") for i in range(count)]}


def listed(amapi: Any) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    request = amapi.enterprises().devices().list(parent=ENTERPRISE, pageSize=100)
    while request is not None:
        page = request.execute()
        devices += page.get("devices", [])
        request = amapi.enterprises().devices().list_next(request, page)
    return devices


def test_batch_enrolls_every_device_with_one_notification_each(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    created = control.ok("POST", "enroll:batch", batch(token["value"], 3))["devices"]

    assert [d["hardwareInfo"]["serialNumber"] for d in created] == ["B-0", "B-1", "B-2"]
    assert len({d["name"] for d in created}) == 3
    for device in created:
        assert device["policyName"] == f"{ENTERPRISE}/policies/kiosk"
        assert device["enrollmentTokenName"] == token["name"]
        assert device["apiLevel"] == 33
        assert device["softwareInfo"]["androidVersion"] == "14"
        assert amapi.enterprises().devices().get(name=device["name"]).execute() == device
    assert [m.payload for m in recorder.messages("ENROLLMENT")] == created


def test_batch_of_the_maximum_size_is_accepted_and_one_more_is_refused(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    status, body = control.call("POST", "enroll:batch", batch(token["value"], 1001, "OVER"))
    assert status == 400
    assert "1000" in body["error"]["message"]
    assert listed(amapi) == []

    created = control.ok("POST", "enroll:batch", batch(token["value"], 1000))["devices"]

    assert len(created) == 1000
    assert len(listed(amapi)) == 1000
    assert len(recorder.messages("ENROLLMENT")) == 1000


def test_one_bad_device_enrolls_none_and_is_named(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    body = batch(token["value"], 3)
    body["devices"][2]["hardwareInfo"]["colour"] = "red"

    status, answer = control.call("POST", "enroll:batch", body)

    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"].startswith("devices[2]: ")
    assert "device.hardwareInfo" in answer["error"]["message"]
    assert listed(amapi) == []
    assert recorder.messages() == []


@pytest.mark.parametrize("body", [
    {}, [], {"enrollmentToken": "T"}, {"devices": [entry("X")]},
    {"enrollmentToken": "{token}", "devices": []},
    {"enrollmentToken": "{token}", "devices": {"hardwareInfo": {"serialNumber": "X"}}},
    {"enrollmentToken": "{token}", "devices": ["X"]},
    {"enrollmentToken": "{token}", "devices": [{"apiLevel": 33}]},
    {"enrollmentToken": "{token}", "devices": [entry("X", enrollmentToken="{token}")]},
    {"enrollmentToken": "{token}", "devices": [entry("X", name="enterprises/E/devices/d")]},
    {"enrollmentToken": "{token}", "devices": [entry("X")], "count": 5},
    {"enrollmentToken": "NOSUCHTOKENXXXXXXXXX", "devices": [entry("X")]},
])
def test_bad_batches_are_400_and_enroll_nothing(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder,
        body: Any) -> None:
    if isinstance(body, dict):
        body = {key: value.replace("{token}", token["value"]) if isinstance(value, str)
                else value for key, value in body.items()}
        for device in body.get("devices") or []:
            if isinstance(device, dict) and "enrollmentToken" in device:
                device["enrollmentToken"] = token["value"]

    status, answer = control.call("POST", "enroll:batch", body)

    assert status == 400, answer
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert listed(amapi) == []
    assert recorder.messages() == []


def test_expired_and_used_one_time_tokens_are_refused(
        amapi: Any, control: ControlClient) -> None:
    expiring = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"duration": "600s"}).execute()
    one_time = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"oneTimeOnly": True}).execute()

    status, pair = control.call("POST", "enroll:batch", batch(one_time["value"], 2))
    control.ok("POST", "enroll:batch", batch(one_time["value"], 1, "ONCE"))
    status_again, _ = control.call("POST", "enroll:batch", batch(one_time["value"], 1))
    control.ok("POST", "clock", {"offsetSeconds": 601})
    status_expired, expired = control.call("POST", "enroll:batch", batch(expiring["value"], 2))

    assert (status, status_again, status_expired) == (400, 400, 400)
    assert "one device" in pair["error"]["message"]
    assert "expired" in expired["error"]["message"]
    assert [d["hardwareInfo"]["serialNumber"] for d in listed(amapi)] == ["ONCE-0"]


def test_repeated_serials_list_their_earlier_devices(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    first = control.enroll(token["value"], serial="SAME")
    amapi.enterprises().devices().delete(name=first["name"]).execute()

    created = control.ok("POST", "enroll:batch", {
        "enrollmentToken": token["name"], "devices": [entry("SAME"), entry("OTHER"),
                                                      entry("SAME")]})["devices"]

    assert created[0]["previousDeviceNames"] == [first["name"]]
    assert "previousDeviceNames" not in created[1]
    assert created[2]["previousDeviceNames"] == [first["name"], created[0]["name"]]
    later = control.enroll(token["value"], serial="SAME")
    assert later["previousDeviceNames"] == [first["name"], created[0]["name"],
                                            created[2]["name"]]
