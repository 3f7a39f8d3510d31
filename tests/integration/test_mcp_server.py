"""The MCP server through the official `mcp` SDK client: it initializes, lists truthful tools,
pages devices like Android Device Management's own list_devices, and lets nobody wipe a device
without the role and a confirmation."""

from __future__ import annotations

import json

import pytest

from tests.integration.mcp_helpers import call_tool, envelope, with_session
from tests.integration.policy_helpers import amapi_calls, amapi_device, clear_calls, managed_device

WIPE_CALL = "enterprises.devices.delete"
ADMIN, VIEWER, OPERATOR = "admin@example.com", "viewer@example.com", "operator@example.com"
SEED_001_ANNOTATIONS = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
                        "openWorldHint": False}
TOOLS = {"list_devices", "get_device", "explain_device_policy", "list_enrollment_profiles",
         "get_enrollment_profile", "list_cosu_configs", "get_cosu_config",
         "list_device_commands", "get_rollout", "list_audit_log", "create_enrollment_profile",
         "set_device_labels", "issue_device_command", "update_cosu_config", "wipe_device",
         "reset_device_password", "delete_enrollment_profile"}


@pytest.fixture
def mcp_url(live_gateway, firestore, amapi_emulator, function_apps, admin_headers):
    policy = function_apps["policy"].test_client()
    for email, role in ((VIEWER, "VIEWER"), (OPERATOR, "OPERATOR")):
        granted = policy.post("/role-bindings", json={"principal": email, "role": role},
                              headers=admin_headers)
        assert granted.status_code == 201, granted.get_json()
    return f"{live_gateway}/mcp"


def annotations_of(tool):
    return tool.annotations.model_dump(by_alias=True, exclude_none=True)


def test_the_sdk_client_initializes_and_lists_truthful_tools(mcp_url):
    async def use(session):
        return await session.list_tools()

    listed = with_session(mcp_url, ADMIN, use)
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) >= TOOLS
    assert {k: v for k, v in annotations_of(tools["list_devices"]).items()
            if k != "title"} == SEED_001_ANNOTATIONS
    for name in ("wipe_device", "reset_device_password", "delete_enrollment_profile"):
        hints = annotations_of(tools[name])
        assert hints["destructiveHint"] is True and hints["readOnlyHint"] is False, name
        assert "confirmationToken" in tools[name].input_schema["properties"]
    for tool in tools.values():
        assert annotations_of(tool)["openWorldHint"] is False
        assert tool.input_schema["type"] == "object"
    # The schema is the HTTP API's: the rule on validityDays is written once.
    create = tools["create_enrollment_profile"].input_schema
    assert create["properties"]["validityDays"]["maximum"] == 30
    assert set(create["required"]) == {"name", "userName", "validityDays"}
    assert tools["list_devices"].input_schema["required"] == ["parent"]


def test_list_devices_pages_like_android_device_management(mcp_url, amapi_emulator):
    for index in range(23):
        managed_device(amapi_emulator, f"SN-{index:02d}")
    clear_calls(amapi_emulator)
    enterprise = json.loads(call_tool(mcp_url, ADMIN, "list_devices", {"parent": "x/y"})
                            .content[0].text)["error"]
    assert enterprise["status"] == "INVALID_ARGUMENT"

    from shared.config import settings

    parent = settings().enterprise
    pages, token = [], None
    while True:
        arguments = {"parent": parent, **({"pageToken": token} if token else {})}
        result = call_tool(mcp_url, VIEWER, "list_devices", arguments)
        assert not result.is_error, result
        pages.append(result.structured_content["devices"])
        token = result.structured_content.get("nextPageToken")
        if not token:
            break
    assert [len(page) for page in pages] == [10, 10, 3]  # default page size 10
    names = [device["name"] for page in pages for device in page]
    assert len(set(names)) == 23
    first = pages[0][0]
    assert first["name"].startswith(f"{parent}/devices/")
    assert first["state"] == "ACTIVE" and first["policyName"]
    coerced = call_tool(mcp_url, VIEWER, "list_devices", {"parent": parent, "pageSize": 500})
    assert len(coerced.structured_content["devices"]) == 23  # 500 is taken as 100
    narrowed = call_tool(mcp_url, VIEWER, "list_devices", {"parent": "spaces/global"})
    assert len(narrowed.structured_content["devices"]) == 10
    other = call_tool(mcp_url, VIEWER, "list_devices", {"parent": "enterprises/other"})
    assert envelope(other)["status"] == "NOT_FOUND"
    assert amapi_calls(amapi_emulator) == []  # the inventory answers, not AMAPI


def test_a_wipe_takes_the_role_and_a_confirmation_that_works_once(mcp_url, amapi_emulator,
                                                                   function_apps,
                                                                   admin_headers):
    device = managed_device(amapi_emulator, "SN-WIPE")
    arguments = {"deviceId": device["id"], "reason": "stolen from the lobby"}
    clear_calls(amapi_emulator)

    denied = call_tool(mcp_url, VIEWER, "wipe_device", arguments)
    assert envelope(denied)["status"] == "PERMISSION_DENIED"

    first = call_tool(mcp_url, ADMIN, "wipe_device", arguments)
    assert not first.is_error, first
    plan = first.structured_content
    assert plan["confirmationRequired"] is True
    assert plan["plan"]["devicesAffected"] == 1
    assert plan["plan"]["devices"][0]["id"] == device["id"]
    assert amapi_calls(amapi_emulator) == []
    assert amapi_device(amapi_emulator, device["name"])["state"] == "ACTIVE"
    clear_calls(amapi_emulator)

    altered = call_tool(mcp_url, ADMIN, "wipe_device", {
        **arguments, "reason": "something else", "confirmationToken":
            call_tool(mcp_url, ADMIN, "wipe_device", arguments)
            .structured_content["confirmationToken"]})
    assert envelope(altered)["status"] == "FAILED_PRECONDITION"
    other_caller = call_tool(mcp_url, OPERATOR, "wipe_device", {
        **arguments, "confirmationToken": plan["confirmationToken"]})
    assert envelope(other_caller)["status"] == "FAILED_PRECONDITION"  # and the token is spent
    assert amapi_calls(amapi_emulator) == []

    token = call_tool(mcp_url, ADMIN, "wipe_device", arguments).structured_content[
        "confirmationToken"]
    wiped = call_tool(mcp_url, ADMIN, "wipe_device", {**arguments, "confirmationToken": token})
    assert not wiped.is_error, wiped
    assert wiped.structured_content["type"] == "WIPE"
    wipes = [c for c in amapi_calls(amapi_emulator) if c["method"] == WIPE_CALL]
    assert len(wipes) == 1 and wipes[0]["name"] == device["name"]  # AMAPI wipes by deleting

    reused = call_tool(mcp_url, ADMIN, "wipe_device", {**arguments, "confirmationToken": token})
    assert envelope(reused)["status"] == "FAILED_PRECONDITION"
    assert len([c for c in amapi_calls(amapi_emulator) if c["method"] == WIPE_CALL]) == 1

    audit = function_apps["policy"].test_client().get(
        "/audit-log", headers=admin_headers).get_json()["entries"]
    mcp_entries = [e for e in audit if e.get("via") == "mcp"]
    outcomes = [(e["principal"], e["action"], e["outcome"]) for e in mcp_entries]
    assert (ADMIN, "tools/call wipe_device", "ALLOWED") in outcomes
    assert (VIEWER, "tools/call wipe_device", "DENIED") in outcomes
    assert sum(1 for o in outcomes if o[2] == "ALLOWED") == 1
