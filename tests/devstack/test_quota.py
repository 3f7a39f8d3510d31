"""AMAPI's per-project quota: calls per rolling window, 429 RESOURCE_EXHAUSTED beyond it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from devstack.amapi_emulator import EmulatorServer
from devstack.amapi_emulator.quota import QuotaLimit

from .harness import ENTERPRISE, ControlClient, http_json

POLICY = f"{ENTERPRISE}/policies/p"


def patch_policy(amapi: Any) -> dict[str, Any]:
    result: dict[str, Any] = amapi.enterprises().policies().patch(
        name=POLICY, body={"funDisabled": True}).execute()
    return result


def refused(call: Any) -> dict[str, Any]:
    """The error body of a call that must be refused for quota."""
    with pytest.raises(HttpError) as caught:
        call()
    assert caught.value.status_code == 429
    error: dict[str, Any] = json.loads(caught.value.content)["error"]
    return error


def at(control: ControlClient, seconds: float) -> None:
    control.ok("POST", "clock", {"offsetSeconds": seconds})


def test_calls_beyond_the_quota_are_refused_like_amapi_and_not_executed(
        amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "quota", {"calls": 5, "windowSeconds": 100})
    for _ in range(5):
        patch_policy(amapi)

    error = refused(lambda: patch_policy(amapi))

    assert error["code"] == 429
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in error["message"]
    assert "androidmanagement.googleapis.com" in error["message"]
    [info] = [d for d in error["details"]
              if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"]["quota_limit_value"] == "5"
    assert [r["status"] for r in control.ok("GET", "requests")["requests"]] == [200] * 5 + [429]
    control.ok("DELETE", "quota")
    assert amapi.enterprises().policies().get(name=POLICY).execute()["version"] == "5"


def test_the_window_rolls_rather_than_resetting(amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "quota", {"calls": 3, "windowSeconds": 100})
    patch_policy(amapi)
    patch_policy(amapi)
    at(control, 50)
    patch_policy(amapi)
    refused(lambda: patch_policy(amapi))

    at(control, 100.5)  # the two first calls have left the window, the third has not
    patch_policy(amapi)
    patch_policy(amapi)
    refused(lambda: patch_policy(amapi))

    at(control, 150.5)
    patch_policy(amapi)


def test_refused_calls_do_not_consume_quota(amapi: Any, control: ControlClient) -> None:
    control.ok("POST", "quota", {"calls": 2, "windowSeconds": 100})
    patch_policy(amapi)
    patch_policy(amapi)
    at(control, 60)
    for _ in range(5):
        refused(lambda: amapi.enterprises().get(name=ENTERPRISE).execute())

    at(control, 100.5)

    patch_policy(amapi)
    patch_policy(amapi)
    usage = control.ok("GET", "quota")
    assert (usage["used"], usage["remaining"]) == (2, 0)


def test_only_amapi_calls_count(amapi: Any, control: ControlClient, server: EmulatorServer,
                                token: dict[str, Any]) -> None:
    control.ok("POST", "quota", {"calls": 2, "windowSeconds": 100})
    for _ in range(20):
        control.ok("GET", "requests")
        control.ok("GET", "quota")
        assert http_json("GET", f"{server.url}/v1/no/such/route")[0] == 404
    control.ok("POST", "enroll:batch", {"enrollmentToken": token["value"], "devices": [
        {"hardwareInfo": {"serialNumber": f"Q-{i}"}} for i in range(3)]})

    amapi.enterprises().get(name=ENTERPRISE).execute()
    amapi.enterprises().get(name=ENTERPRISE).execute()

    assert control.ok("GET", "quota") == {
        "enabled": True, "calls": 2, "windowSeconds": 100, "used": 2, "remaining": 0,
        "default": None, "windowFreesInSeconds": pytest.approx(100, abs=5)}


def test_concurrent_callers_get_exactly_the_quota(amapi: Any, control: ControlClient,
                                                  server: EmulatorServer) -> None:
    control.ok("POST", "quota", {"calls": 20, "windowSeconds": 100})
    url = f"{server.url}/v1/{ENTERPRISE}"

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: http_json("GET", url)[0], range(60)))

    assert sorted(statuses) == [200] * 20 + [429] * 40
    assert control.ok("GET", "quota")["used"] == 20


@pytest.mark.parametrize("body", [
    {}, [], {"calls": 5}, {"windowSeconds": 5}, {"calls": 0, "windowSeconds": 1},
    {"calls": 5, "windowSeconds": 0}, {"calls": -1, "windowSeconds": 1},
    {"calls": 1.5, "windowSeconds": 1}, {"calls": "5", "windowSeconds": 1},
    {"calls": True, "windowSeconds": 1}, {"calls": 5, "windowSeconds": 1, "burst": 2},
])
def test_quota_setting_is_validated(amapi: Any, control: ControlClient, body: Any) -> None:
    status, answer = control.call("POST", "quota", body)

    assert status == 400
    assert answer["error"]["status"] == "INVALID_ARGUMENT"
    assert control.ok("GET", "quota")["enabled"] is False
    amapi.enterprises().get(name=ENTERPRISE).execute()


def test_in_process_emulator_limits_nothing_until_asked(
        amapi: Any, control: ControlClient, server: EmulatorServer) -> None:
    statuses = {http_json("GET", f"{server.url}/v1/{ENTERPRISE}")[0] for _ in range(1001)}
    assert statuses == {200}
    control.ok("POST", "quota", {"calls": 1, "windowSeconds": 1})

    control.ok("DELETE", "quota")

    assert control.ok("GET", "quota") == {"enabled": False, "default": None}
    amapi.enterprises().get(name=ENTERPRISE).execute()


def test_delete_restores_the_starting_quota_and_reset_clears_the_window() -> None:
    with EmulatorServer(quota=QuotaLimit(2, 100), publisher=lambda *_: None) as server:
        control = ControlClient(server.url)
        url = f"{server.url}/v1/{ENTERPRISE}"
        assert [http_json("GET", url)[0] for _ in range(3)] == [200, 200, 429]
        control.ok("POST", "quota", {"calls": 10, "windowSeconds": 100})
        assert http_json("GET", url)[0] == 200

        assert control.ok("DELETE", "quota")["calls"] == 2
        assert http_json("GET", url)[0] == 429

        control.ok("POST", "quota", {"calls": 10, "windowSeconds": 100})
        control.ok("POST", "reset")
        usage = control.ok("GET", "quota")
        assert (usage["calls"], usage["windowSeconds"], usage["used"]) == (2, 100, 0)
        assert [http_json("GET", url)[0] for _ in range(3)] == [200, 200, 429]
