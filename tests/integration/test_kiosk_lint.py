"""The kiosk linter over HTTP: findings on every create and patch of a COSU configuration, on
demand, in previews, and as a refusal when the change asks to be strict."""

from __future__ import annotations

import pytest

from tests.integration.policy_helpers import amapi_calls, clear_calls, managed_device
from tests.integration.test_cosu_policies import PolicyApi

ESCAPES = {"kiosk": {"navigation": "ENABLED", "statusBar": "NOTIFICATIONS_AND_SYSTEM_INFO"}}


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


def errors_of(findings):
    return {f["code"]: f["field"] for f in findings if f["severity"] == "ERROR"}


def test_a_configuration_with_escape_hatches_gets_the_two_findings(api):
    created = api.config(**ESCAPES)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert errors_of(body["findings"]) == {"NAVIGATION_ENABLED": "kiosk.navigation",
                                           "STATUS_BAR_NOTIFICATIONS": "kiosk.statusBar"}
    linted = api.call("GET", f"/cosu-configs/{body['id']}/lint")
    assert linted.status_code == 200 and linted.get_json()["findings"] == body["findings"]

    fixed = api.call("PATCH", f"/cosu-configs/{body['id']}",
                     {"kiosk": {"navigation": "DISABLED", "statusBar": "HIDDEN"}})
    assert fixed.status_code == 200 and errors_of(fixed.get_json()["findings"]) == {}


def test_a_locked_down_configuration_has_no_error(api):
    created = api.config(kiosk={"globalActions": False}).get_json()
    assert errors_of(created["findings"]) == {}
    assert all(f["fix"] and f["message"] for f in created["findings"])


def test_strict_refuses_an_error_and_stores_nothing(api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    clear_calls(amapi_emulator)
    refused = api.call("POST", "/cosu-configs?strict=true", {
        "name": "Lobby", "priority": 10, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "ALL"}, **ESCAPES})
    assert refused.status_code == 400
    fields = {v["field"] for v in refused.get_json()["error"]["details"]}
    assert fields == {"kiosk.navigation", "kiosk.statusBar"}
    assert api.call("GET", "/cosu-configs").get_json()["cosuConfigs"] == []
    assert amapi_calls(amapi_emulator) == []

    config = api.config().get_json()
    patch = api.call("PATCH", f"/cosu-configs/{config['id']}?strict=true", ESCAPES)
    assert patch.status_code == 400
    stored = api.call("GET", f"/cosu-configs/{config['id']}").get_json()
    assert stored["kiosk"]["navigation"] == "DISABLED"


def test_a_preview_carries_the_findings(api):
    config = api.config().get_json()
    preview = api.call("PATCH", f"/cosu-configs/{config['id']}?validateOnly=true", ESCAPES)
    assert preview.status_code == 200
    assert set(errors_of(preview.get_json()["findings"])) == {"NAVIGATION_ENABLED",
                                                              "STATUS_BAR_NOTIFICATIONS"}


def test_the_lint_of_an_unseen_configuration_is_404(api, function_apps):
    assert api.call("GET", "/cosu-configs/nope/lint").status_code == 404
