"""enterprises.devices through the real client, and simulated status reports."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ENTERPRISE, ControlClient, Recorder, http_json


def devices(amapi: Any) -> Any:
    return amapi.enterprises().devices()


def test_list_pages_cover_every_device_once(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    enrolled = {control.enroll(token["value"], serial=f"S{i:02d}")["name"] for i in range(23)}

    seen: list[str] = []
    page_sizes: list[int] = []
    request = devices(amapi).list(parent=ENTERPRISE, pageSize=10)
    while request is not None:
        response = request.execute()
        page_sizes.append(len(response["devices"]))
        seen += [device["name"] for device in response["devices"]]
        request = devices(amapi).list_next(request, response)

    assert page_sizes == [10, 10, 3]
    assert sorted(seen) == sorted(enrolled)
    assert len(seen) == len(set(seen))


def test_list_page_size_defaults_to_10_and_is_capped_at_100(
        amapi: Any, control: ControlClient, token: dict[str, Any]) -> None:
    for i in range(12):
        control.enroll(token["value"], serial=f"S{i:02d}")

    default = devices(amapi).list(parent=ENTERPRISE).execute()
    huge = devices(amapi).list(parent=ENTERPRISE, pageSize=1000).execute()

    assert len(default["devices"]) == 10
    assert "nextPageToken" in default
    assert len(huge["devices"]) == 12
    assert "nextPageToken" not in huge


def test_tampered_page_token_is_400(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        devices(amapi).list(parent=ENTERPRISE, pageToken="%%%").execute()
    assert caught.value.status_code == 400


def test_delete_is_immediate_and_a_deleted_report_follows(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    devices(amapi).delete(name=device["name"], wipeDataFlags=["WIPE_EXTERNAL_STORAGE"],
                          wipeReasonMessage="Decommissioned").execute()

    with pytest.raises(HttpError) as caught:
        devices(amapi).get(name=device["name"]).execute()
    assert caught.value.status_code == 404
    assert devices(amapi).list(parent=ENTERPRISE).execute() == {}
    report = recorder.wait_for(lambda m: m.type == "STATUS_REPORT")
    assert report.payload == {
        "name": device["name"], "state": "DELETED", "appliedState": "DELETED",
        "hardwareInfo": {"serialNumber": device["hardwareInfo"]["serialNumber"]},
        "lastStatusReportTime": report.payload["lastStatusReportTime"]}


def test_delete_validates_wipe_flags(amapi: Any, server: Any, device: dict[str, Any]) -> None:
    # The Google client checks enums itself, so send what a buggy client would.
    status, body = http_json(
        "DELETE", f"{server.url}/v1/{device['name']}?wipeDataFlags=WIPE_EVERYTHING")

    assert status == 400
    assert "wipeDataFlags[0]" in body["error"]["message"]
    assert devices(amapi).get(name=device["name"]).execute()["name"] == device["name"]


def test_unknown_query_parameter_is_400(server: Any) -> None:
    status, body = http_json("GET", f"{server.url}/v1/{ENTERPRISE}/devices?alt=json&colour=red")

    assert status == 400
    assert 'Unknown name "colour"' in body["error"]["message"]


def test_unknown_route_is_404(server: Any) -> None:
    status, body = http_json("GET", f"{server.url}/v1/{ENTERPRISE}/gadgets")

    assert status == 404
    assert body["error"]["status"] == "NOT_FOUND"


def test_patch_moves_the_device_to_another_policy_which_it_applies(
        amapi: Any, device: dict[str, Any], recorder: Recorder) -> None:
    amapi.enterprises().policies().patch(
        name=f"{ENTERPRISE}/policies/approved", body={"funDisabled": True}).execute()
    recorder.clear()

    patched = devices(amapi).patch(name=device["name"], updateMask="policyName",
                                   body={"policyName": "approved"}).execute()

    assert patched["policyName"] == f"{ENTERPRISE}/policies/approved"
    report = recorder.wait_for(lambda m: m.type == "STATUS_REPORT")
    assert report.payload["appliedPolicyName"] == f"{ENTERPRISE}/policies/approved"
    assert report.payload["appliedPolicyVersion"] == "1"


def test_patch_disables_the_device(amapi: Any, device: dict[str, Any],
                                   recorder: Recorder) -> None:
    reason = {"defaultMessage": "Rejected by enrollment rules"}

    patched = devices(amapi).patch(name=device["name"], updateMask="state,disabledReason",
                                   body={"state": "DISABLED", "disabledReason": reason}).execute()

    assert (patched["state"], patched["disabledReason"]) == ("DISABLED", reason)
    report = recorder.wait_for(lambda m: m.type == "STATUS_REPORT")
    assert report.payload["appliedState"] == "DISABLED"


@pytest.mark.parametrize(("mask", "body"), [
    ("state", {"state": "DELETED"}),
    ("apiLevel", {"apiLevel": 20}),
])
def test_patch_refuses_what_cannot_be_written(
        amapi: Any, device: dict[str, Any], mask: str, body: dict[str, Any]) -> None:
    with pytest.raises(HttpError) as caught:
        devices(amapi).patch(name=device["name"], updateMask=mask, body=body).execute()

    assert caught.value.status_code == 400
    assert devices(amapi).get(name=device["name"]).execute() == device


def test_report_merges_into_the_device_and_publishes(
        amapi: Any, control: ControlClient, device: dict[str, Any], recorder: Recorder) -> None:
    app = {"packageName": "com.example.kiosk", "state": "INSTALLED",
           "keyedAppStates": [{"key": "server_url", "severity": "ERROR", "data": "HTTP 503"}]}

    merged = control.ok("POST", f"{device['name']}:report",
                        {"applicationReports": [app], "softwareInfo": {"androidVersion": "15"}})

    assert merged["applicationReports"] == [app]
    assert merged["softwareInfo"] == {"androidVersion": "15", "securityPatchLevel": "2026-09-01"}
    assert merged["lastStatusReportTime"] >= device["lastStatusReportTime"]
    assert devices(amapi).get(name=device["name"]).execute() == merged
    [report] = recorder.messages("STATUS_REPORT")
    assert report.payload == merged


def test_report_is_validated_and_needs_a_live_device(
        amapi: Any, control: ControlClient, device: dict[str, Any]) -> None:
    status, body = control.call("POST", f"{device['name']}:report",
                                {"applicationReports": [{"packageName": "a", "colour": 1}]})
    assert status == 400
    assert "device.applicationReports[0]" in body["error"]["message"]

    devices(amapi).delete(name=device["name"]).execute()
    assert control.call("POST", f"{device['name']}:report", {})[0] == 404
