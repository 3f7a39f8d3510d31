"""Every MCP tool through the official `mcp` SDK client against the live stack: what an agent
reads matches the stores and AMAPI, writes act like the HTTP API (roles, spaces, audit), and
what destroys or reaches several devices waits for a confirmation."""

from __future__ import annotations

import base64
import json

import pytest

from shared.store.client import db
from tests.integration.callers import Caller
from tests.integration.enroll_helpers import decode_qr_png, enroll_device
from tests.integration.mcp_helpers import call_tool, envelope, with_session
from tests.integration.policy_helpers import amapi_calls, amapi_device, clear_calls, managed_device

ADMIN, VIEWER, OPERATOR = "admin@example.com", "viewer@example.com", "operator@example.com"
LEAD = "lead@example.com"  # ADMIN of the child space `paris` only
KIOSK, LAUNCHER_APP, HELPER, VPN_APP = ("com.example.kiosk", "com.example.maps",
                                        "com.example.helper", "com.example.vpn")
ISSUE_COMMAND = "enterprises.devices.issueCommand"
PASSWORD = "7391-secret-pin"


@pytest.fixture
def world(live_gateway, firestore, amapi_emulator, function_apps):
    admin = Caller(function_apps, ADMIN)
    for email, role in ((VIEWER, "VIEWER"), (OPERATOR, "OPERATOR")):
        granted = admin.call("policy", "POST", "/role-bindings",
                             {"principal": email, "role": role})
        assert granted.status_code == 201, granted.get_json()
    for package in (KIOSK, LAUNCHER_APP, HELPER, VPN_APP):
        created = admin.call("policy", "POST", "/apps", {"packageName": package,
                                                         "type": "PUBLIC"})
        assert created.status_code == 201, created.get_json()
    assert admin.call("enroll", "POST", "/users",
                      {"userName": "kiosk-operator"}).status_code == 201
    return {"url": f"{live_gateway}/mcp", "admin": admin, "server": amapi_emulator}


def config(world, name, priority, distribution, **fields):
    created = world["admin"].call("policy", "POST", "/cosu-configs", {
        "name": name, "priority": priority, "app": {"packageName": KIOSK},
        "distribution": distribution, **fields})
    assert created.status_code in (201, 202), created.get_json()
    return created.get_json()


def ok(result):
    assert not result.is_error, result.content[0].text
    return result.structured_content


def audit_entries(world, **query):
    path = "/audit-log?pageSize=100" + "".join(f"&{k}={v}" for k, v in query.items())
    return world["admin"].call("policy", "GET", path).get_json()["entries"]


# --- devices -----------------------------------------------------------------------------------

def test_explanation_names_the_winning_configuration_its_rivals_apps_wifi_and_vpn(world):
    device = managed_device(world["server"], "SN-EXPLAIN", labels=["lobby"])
    older = config(world, "Lobby kiosk", 5, {"mode": "CUSTOM", "labels": ["lobby"]},
                   additionalKioskApps=[{"packageName": LAUNCHER_APP}])
    config(world, "Everyone", 5, {"mode": "ALL"})
    config(world, "Fallback", 1, {"mode": "CUSTOM", "userNames": ["kiosk-operator"]})
    admin = world["admin"]
    assert admin.call("policy", "PATCH", f"/apps/{HELPER}", {"distribution": {
        "mode": "CUSTOM", "deviceIds": [device["id"]]}}).status_code == 200
    wifi = admin.call("policy", "POST", "/wifi-configs", {
        "name": "Store Wi-Fi", "ssid": "store", "security": "WPA_PSK",
        "passphrase": "correct horse battery", "distribution": {"mode": "ALL"}})
    assert wifi.status_code == 201, wifi.get_json()
    vpn = admin.call("policy", "POST", "/vpn-configs", {
        "name": "Tunnel", "packageName": VPN_APP,
        "distribution": {"mode": "CUSTOM", "labels": ["lobby"]}})
    assert vpn.status_code == 201, vpn.get_json()

    async def use(session):
        return (await session.call_tool("explain_device_policy", {"deviceId": device["id"]}),
                await session.call_tool("get_device", {"deviceId": device["name"]}))

    explained, shown = with_session(world["url"], VIEWER, use)
    explanation = ok(explained)
    assert ok(shown)["id"] == device["id"] and ok(shown)["labels"] == ["lobby"]
    assert explanation["cosuConfig"]["id"] == older["id"]
    reason = explanation["reason"]
    assert "'Lobby kiosk' (priority 5, distributed to label 'lobby')" in reason
    assert "'Everyone' (priority 5)" in reason and "'Fallback' (priority 1)" in reason
    assert "the older configuration wins" in reason
    why = {app["packageName"]: app["why"] for app in explanation["apps"]}
    # A multi-app kiosk pins nothing: its apps are on AMAPI's kiosk launcher.
    assert why[KIOSK] == why[LAUNCHER_APP] == "on the kiosk launcher"
    assert why[HELPER] == "distributed to this device by id"
    assert why[VPN_APP] == "the always-on VPN app"
    assert [(w["name"], w["why"]) for w in explanation["wifi"]] == [
        ("Store Wi-Fi", "distributed to all devices")]
    assert explanation["vpn"]["name"] == "Tunnel"
    assert explanation["vpn"]["why"] == "distributed to label 'lobby'"
    assert explanation["policyName"] == amapi_device(world["server"],
                                                     device["name"])["policyName"]


def test_explanation_by_user_and_of_a_device_not_yet_vetted(world):
    vetted = managed_device(world["server"], "SN-USER", user="kiosk-operator")
    waiting = managed_device(world["server"], "SN-WAIT", user="kiosk-operator")
    db().collection("devices").document(waiting["id"]).update(
        {"enrollmentDecision": {"result": "PENDING"}})
    config(world, "Per user", 3, {"mode": "CUSTOM", "userNames": ["kiosk-operator"]})

    async def use(session):
        return [await session.call_tool("explain_device_policy", {"deviceId": d["id"]})
                for d in (vetted, waiting)]

    by_user, not_vetted = (ok(r) for r in with_session(world["url"], VIEWER, use))
    assert "distributed to user 'kiosk-operator'" in by_user["reason"]
    assert by_user["cosuConfig"]["name"] == "Per user"
    assert by_user["apps"] == [{"packageName": KIOSK, "why": "the pinned kiosk app",
                                "title": KIOSK}]
    assert "has not passed its space's enrollment rules (PENDING)" in not_vetted["reason"]
    # What it runs is the holding policy: nothing of the configuration applies yet.
    assert not_vetted["cosuConfig"] is None and not_vetted["apps"] == []
    assert not_vetted["wouldGet"]["cosuConfig"]["name"] == "Per user"


def test_commands_are_listed_and_destructive_types_have_their_own_tools(world):
    device = managed_device(world["server"], "SN-LOCK")

    async def use(session):
        locked = await session.call_tool("issue_device_command", {
            "deviceId": device["id"], "type": "LOCK", "reason": "shift over"})
        refused = [await session.call_tool("issue_device_command", {
            "deviceId": device["id"], "type": kind, "reason": "x",
            "params": {"newPassword": "1234"} if kind == "RESET_PASSWORD" else {}})
            for kind in ("WIPE", "RESET_PASSWORD")]
        listed = await session.call_tool("list_device_commands", {"deviceId": device["id"]})
        return locked, refused, listed

    locked, refused, listed = with_session(world["url"], OPERATOR, use)
    assert ok(locked)["type"] == "LOCK"
    for result in refused:
        error = envelope(result)
        assert error["status"] == "INVALID_ARGUMENT"
        assert [d["field"] for d in error["details"]] == ["type"]
    commands = ok(listed)["commands"]
    assert [(c["type"], c["id"]) for c in commands] == [("LOCK", ok(locked)["id"])]
    assert [c for c in amapi_calls(world["server"]) if c["method"] == ISSUE_COMMAND]


def test_labels_move_a_device_and_take_an_admin(world):
    device = managed_device(world["server"], "SN-LABEL", labels=["lobby"])
    config(world, "Lobby", 2, {"mode": "CUSTOM", "labels": ["lobby"]})
    config(world, "Backroom", 3, {"mode": "CUSTOM", "labels": ["backroom"]})
    before = amapi_device(world["server"], device["name"])["policyName"]
    arguments = {"deviceId": device["id"], "labels": ["backroom"]}
    denied = call_tool(world["url"], OPERATOR, "set_device_labels", arguments)
    assert envelope(denied)["status"] == "PERMISSION_DENIED"
    moved = ok(call_tool(world["url"], ADMIN, "set_device_labels", arguments))
    assert moved["labels"] == ["backroom"]
    after = amapi_device(world["server"], device["name"])["policyName"]
    assert after != before and moved["policy"]["name"] == after
    explained = ok(call_tool(world["url"], VIEWER, "explain_device_policy",
                             {"deviceId": device["id"]}))
    assert explained["cosuConfig"]["name"] == "Backroom"
    outcomes = {(e["principal"], e["outcome"]) for e in audit_entries(world)
                if e.get("action") == "tools/call set_device_labels"}
    assert outcomes == {(OPERATOR, "DENIED"), (ADMIN, "ALLOWED")}


def test_a_password_reset_is_confirmed_and_the_password_is_never_shown(world):
    device = managed_device(world["server"], "SN-PIN")
    arguments = {"deviceId": device["id"], "newPassword": PASSWORD, "reason": "forgotten"}
    clear_calls(world["server"])

    async def use(session):
        first = await session.call_tool("reset_device_password", arguments)
        token = first.structured_content["confirmationToken"]
        second = await session.call_tool("reset_device_password",
                                         {**arguments, "confirmationToken": token})
        listed = await session.call_tool("list_device_commands", {"deviceId": device["id"]})
        return first, second, listed

    first, second, listed = with_session(world["url"], OPERATOR, use)
    plan = ok(first)
    assert plan["confirmationRequired"] is True and plan["plan"]["action"] == "RESET_PASSWORD"
    assert PASSWORD not in first.content[0].text and PASSWORD not in json.dumps(plan)
    sent = ok(second)
    assert sent["type"] == "RESET_PASSWORD" and PASSWORD not in second.content[0].text
    resets = [c for c in amapi_calls(world["server"]) if c["method"] == ISSUE_COMMAND]
    assert len(resets) == 1
    assert PASSWORD not in listed.content[0].text
    assert ok(listed)["commands"][0]["params"]["newPassword"] == "********"
    entries = audit_entries(world)
    assert any(e["action"] == "tools/call reset_device_password" for e in entries)
    assert PASSWORD not in json.dumps(entries)
    stored = [s.to_dict() for s in db().collection("mcpConfirmations").stream()]
    assert PASSWORD not in json.dumps(stored, default=str)


# --- enrollment profiles -----------------------------------------------------------------------

def images_of(result):
    return [base64.b64decode(c.data) for c in result.content if c.type == "image"
            and c.mime_type == "image/png"]


def test_profiles_show_their_qr_code_as_an_image_while_it_can_enroll(world):
    created = call_tool(world["url"], ADMIN, "create_enrollment_profile", {
        "name": "Lobby", "userName": "kiosk-operator", "validityDays": 7})
    profile = ok(created)
    assert profile["status"] == "ACTIVE" and profile["token"]["value"]
    assert decode_qr_png(images_of(created)[0]).decode() == profile["qrCode"]
    other = ok(call_tool(world["url"], ADMIN, "create_enrollment_profile", {
        "name": "Spent", "userName": "kiosk-operator", "validityDays": 7}))

    async def use(session):
        listed = await session.call_tool("list_enrollment_profiles", {})
        got = await session.call_tool("get_enrollment_profile", {"profileId": profile["id"]})
        return listed, got

    listed, got = with_session(world["url"], VIEWER, use)
    assert [p["id"] for p in ok(listed)["enrollmentProfiles"]] == [profile["id"], other["id"]]
    assert decode_qr_png(images_of(got)[0]).decode() == profile["qrCode"]
    for status, change in (("USED", {"status": "USED"}),
                           ("EXPIRED", {"status": "ACTIVE",
                                        "tokenExpireTime": "2020-01-01T00:00:00Z"})):
        if "tokenExpireTime" in change:
            from shared.clock import parse_rfc3339

            change["tokenExpireTime"] = parse_rfc3339(change["tokenExpireTime"])
        db().collection("enrollmentProfiles").document(other["id"]).update(change)
        shown = call_tool(world["url"], VIEWER, "get_enrollment_profile",
                          {"profileId": other["id"]})
        assert ok(shown)["status"] == status and images_of(shown) == []
    statuses = ok(call_tool(world["url"], VIEWER, "list_enrollment_profiles", {}))
    assert [p["status"] for p in statuses["enrollmentProfiles"]] == ["ACTIVE", "EXPIRED"]


def test_creating_a_profile_takes_an_admin_and_both_outcomes_are_audited(world):
    denied = call_tool(world["url"], VIEWER, "create_enrollment_profile", {
        "name": "Nope", "userName": "kiosk-operator", "validityDays": 7})
    assert envelope(denied)["status"] == "PERMISSION_DENIED"
    profile = ok(call_tool(world["url"], ADMIN, "create_enrollment_profile", {
        "name": "Yes", "userName": "kiosk-operator", "validityDays": 7}))
    entries = [e for e in audit_entries(world)
               if e.get("action") == "tools/call create_enrollment_profile"]
    assert {(e["principal"], e["outcome"], e["via"]) for e in entries} == {
        (VIEWER, "DENIED", "mcp"), (ADMIN, "ALLOWED", "mcp")}
    [allowed] = [e for e in entries if e["outcome"] == "ALLOWED"]
    assert allowed["resource"] == f"/enroll/enrollment-profiles/{profile['id']}"
    names = [p["name"] for p in world["admin"].call("enroll", "GET", "/enrollment-profiles")
             .get_json()["enrollmentProfiles"]]
    assert names == ["Yes"]


def test_a_profile_deletion_is_confirmed_and_refused_once_the_profile_changed(world):
    server = world["server"]
    profile = ok(call_tool(world["url"], ADMIN, "create_enrollment_profile", {
        "name": "Doomed", "userName": "kiosk-operator", "validityDays": 7}))
    arguments = {"profileId": profile["id"]}
    first = ok(call_tool(world["url"], ADMIN, "delete_enrollment_profile", arguments))
    assert first["plan"]["profile"]["id"] == profile["id"]
    assert world["admin"].call("enroll", "GET",
                               f"/enrollment-profiles/{profile['id']}").status_code == 200
    assert enroll_device(server, profile["token"]["value"], "STILL-LIVE")[0] == 200

    renewed = world["admin"].call("enroll", "PATCH", f"/enrollment-profiles/{profile['id']}",
                                  {"validityDays": 3})
    assert renewed.status_code == 200
    stale = call_tool(world["url"], ADMIN, "delete_enrollment_profile",
                      {**arguments, "confirmationToken": first["confirmationToken"]})
    assert envelope(stale)["status"] == "FAILED_PRECONDITION"
    current = world["admin"].call("enroll", "GET", f"/enrollment-profiles/{profile['id']}")
    assert current.status_code == 200

    token = ok(call_tool(world["url"], ADMIN, "delete_enrollment_profile", arguments))[
        "confirmationToken"]
    deleted = ok(call_tool(world["url"], ADMIN, "delete_enrollment_profile",
                           {**arguments, "confirmationToken": token}))
    assert deleted["deleted"] is True
    assert world["admin"].call("enroll", "GET",
                               f"/enrollment-profiles/{profile['id']}").status_code == 404
    value = current.get_json()["token"]["value"]
    assert enroll_device(server, value, "TOO-LATE")[0] == 400


# --- configurations, rollouts, audit -----------------------------------------------------------

def policies_of(server, devices):
    return {d["name"]: amapi_device(server, d["name"])["policyName"] for d in devices}


def test_a_change_reaching_several_devices_is_confirmed_with_a_true_count(world):
    server = world["server"]
    lobby = [managed_device(server, f"SN-L{i}", labels=["lobby"]) for i in range(3)]
    single = managed_device(server, "SN-SOLO", labels=["solo"])
    bystander = managed_device(server, "SN-BY", labels=["other"])
    wide = config(world, "Lobby", 2, {"mode": "CUSTOM", "labels": ["lobby"]})
    solo = config(world, "Solo", 2, {"mode": "CUSTOM", "labels": ["solo"]})
    before = policies_of(server, [*lobby, single, bystander])
    clear_calls(server)

    # One device: acts at once.
    alone = ok(call_tool(world["url"], ADMIN, "update_cosu_config", {
        "configId": solo["id"], "changes": {"kiosk": {"globalActions": False}}}))
    assert "confirmationToken" not in alone and alone["id"] == solo["id"]
    assert amapi_calls(server)

    # Three devices on one policy, and one more moving in: the plan first, nothing done.
    clear_calls(server)
    arguments = {"configId": wide["id"], "changes": {
        "kiosk": {"globalActions": False},
        "distribution": {"labels": ["lobby", "other"]}}}
    first = ok(call_tool(world["url"], ADMIN, "update_cosu_config", arguments))
    plan = first["plan"]
    assert plan["devicesAffected"] == 4
    assert plan["plan"]["amapiCalls"] >= 2 and plan["diff"]
    assert amapi_calls(server) == []
    stored = world["admin"].call("policy", "GET", f"/cosu-configs/{wide['id']}").get_json()
    assert stored["distribution"]["labels"] == ["lobby"]

    done = ok(call_tool(world["url"], ADMIN, "update_cosu_config",
                        {**arguments, "confirmationToken": first["confirmationToken"]}))
    assert done["distribution"]["labels"] == ["lobby", "other"]
    after = policies_of(server, [*lobby, single, bystander])
    changed_policy = [n for n in after if after[n] != before[n]]
    patched = {c["name"] for c in amapi_calls(server)
               if c["method"] == "enterprises.policies.patch"}
    on_patched = [n for n in after if after[n] in patched]
    assert len(set(changed_policy) | set(on_patched)) == plan["devicesAffected"]


def test_a_split_is_counted_once_per_device(world):
    server = world["server"]
    devices = [managed_device(server, f"SN-S{i}", labels=["lobby", f"d{i}"]) for i in range(3)]
    wide = config(world, "Lobby", 2, {"mode": "CUSTOM", "labels": ["lobby"]})
    # Two of the three leave the configuration (to the holding policy) and the one staying
    # gets the new content: three devices reached, each counted once.
    first = ok(call_tool(world["url"], ADMIN, "update_cosu_config", {
        "configId": wide["id"], "changes": {"distribution": {"labels": ["d0"]},
                                            "kiosk": {"globalActions": False}}}))
    assert first["plan"]["devicesAffected"] == len(devices), first["plan"]


def test_staging_is_refused_through_mcp(world):
    wide = config(world, "Lobby", 2, {"mode": "ALL"})
    refused = call_tool(world["url"], ADMIN, "update_cosu_config", {
        "configId": wide["id"], "changes": {"priority": 3, "rollout": {"stages": []}}})
    error = envelope(refused)
    assert error["status"] == "INVALID_ARGUMENT"
    assert [d["field"] for d in error["details"]] == ["changes.rollout"]


def test_rollouts_configs_and_the_audit_log_read_through_mcp(world, tuned):
    server = world["server"]
    for i in range(4):
        managed_device(server, f"SN-R{i}", labels=[f"r{i}"])
    made = config(world, "Everyone", 2, {"mode": "ALL"})
    tuned(ROLLOUT_INLINE_LIMIT=1)
    arguments = {"configId": made["id"], "changes": {"distribution": {
        "mode": "CUSTOM", "labels": ["r0"]}}}
    token = ok(call_tool(world["url"], ADMIN, "update_cosu_config", arguments))[
        "confirmationToken"]
    changed = ok(call_tool(world["url"], ADMIN, "update_cosu_config",
                           {**arguments, "confirmationToken": token}))
    rollout_id = changed["rollouts"][0]["id"] if "rollouts" in changed else \
        changed["rollout"]["id"]

    async def use(session):
        names = ("get_rollout", "list_rollouts", "list_cosu_configs", "get_cosu_config",
                 "list_audit_log")
        args = ({"rolloutId": rollout_id}, {}, {}, {"configId": made["id"]},
                {"principal": ADMIN, "space": "global"})
        return [await session.call_tool(n, a) for n, a in zip(names, args, strict=True)]

    rollout, rollouts, configs, got, audit = (ok(r) for r in
                                              with_session(world["url"], VIEWER, use))
    assert rollout["id"] == rollout_id
    assert [r["id"] for r in rollouts["rollouts"]] == [rollout_id]
    assert [c["id"] for c in configs["cosuConfigs"]] == [made["id"]]
    assert got["id"] == made["id"] and "findings" in got
    assert audit["entries"] and {e["principal"] for e in audit["entries"]} == {ADMIN}
    assert any(e["action"] == "tools/call update_cosu_config" and e["via"] == "mcp"
               for e in audit["entries"])
    mine = ok(call_tool(world["url"], VIEWER, "list_audit_log", {"principal": VIEWER}))
    assert mine["entries"] == []


# --- spaces -----------------------------------------------------------------------------------

def test_a_child_space_admin_sees_and_changes_only_its_space(world):
    from shared.config import settings

    admin, server = world["admin"], world["server"]
    for space in ("paris", "berlin"):
        assert admin.call("policy", "POST", "/spaces", {"id": space,
                                                        "displayName": space}).status_code == 201
    assert admin.call("policy", "POST", "/role-bindings", {
        "principal": LEAD, "role": "ADMIN", "space": "paris"}).status_code == 201
    mine = managed_device(server, "SN-PARIS", space="paris")
    theirs = managed_device(server, "SN-BERLIN", space="berlin")
    home = managed_device(server, "SN-GLOBAL")
    global_config = config(world, "Global", 1, {"mode": "ALL"})
    lead = Caller(admin.apps, LEAD)
    http_other = lead.call("commands", "GET", "/devices?space=berlin")

    async def use(session):
        calls = [("list_devices", {"parent": settings().enterprise}),
                 ("list_devices", {"parent": "spaces/paris"}),
                 ("list_devices", {"parent": "spaces/berlin"}),
                 ("get_device", {"deviceId": theirs["id"]}),
                 ("get_device", {"deviceId": home["name"]}),
                 ("wipe_device", {"deviceId": theirs["id"], "reason": "x"}),
                 ("update_cosu_config", {"configId": global_config["id"],
                                         "changes": {"priority": 9}}),
                 ("explain_device_policy", {"deviceId": mine["id"]})]
        return [await session.call_tool(n, a) for n, a in calls]

    (everything, paris, berlin, other_device, global_device, wipe, update,
     explained) = with_session(world["url"], LEAD, use)
    assert [d["name"] for d in ok(everything)["devices"]] == [mine["name"]]
    assert [d["name"] for d in ok(paris)["devices"]] == [mine["name"]]
    assert http_other.status_code == 404
    assert envelope(berlin)["status"] == "NOT_FOUND"
    for result in (other_device, global_device, wipe, update):
        assert envelope(result)["status"] == "NOT_FOUND"
    assert ok(explained)["deviceId"] == mine["id"]
    assert admin.call("policy", "GET", f"/cosu-configs/{global_config['id']}").get_json()[
        "priority"] == 1
