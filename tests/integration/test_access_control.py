"""Roles per space, delegation, the audit log, and authentication on every documented route."""

import base64
import json
import re

import pytest

from shared.store import access_control, devices
from tests.conftest import token_for
from tests.integration.callers import Caller
from tests.integration.enroll_helpers import emulator_call
from tests.integration.policy_helpers import amapi_device, managed_device

HTTP_TARGETS = ["enroll", "expire_tokens", "policy", "commands", "reconcile_commands"]


@pytest.fixture
def world(function_apps, firestore, amapi_emulator):
    admin = Caller(function_apps, "admin@example.com")
    assert admin.call("policy", "POST", "/spaces",
                      {"id": "paris", "displayName": "Paris stores"}).status_code == 201
    for email, role in (("viewer@example.com", "VIEWER"), ("operator@example.com", "OPERATOR")):
        granted = admin.call("policy", "POST", "/role-bindings",
                             {"principal": email, "role": role, "space": "paris"})
        assert granted.status_code == 201, granted.get_json()
    for space in ("global", "paris"):
        admin.call("enroll", "POST", "/users", {"userName": "kiosk", "space": space})
    # A package is in the catalog once: Paris gets the kiosk app by delegation.
    admin.call("policy", "POST", "/apps", {"packageName": "com.example.kiosk", "type": "PUBLIC",
                                           "delegatedSpaces": ["paris"]})
    profiles = {space: admin.call("enroll", "POST", "/enrollment-profiles", {
        "name": f"{space} lobby", "userName": "kiosk", "validityDays": 7,
        "space": space}).get_json() for space in ("global", "paris")}
    configs = {space: admin.call("policy", "POST", "/cosu-configs", {
        "name": f"{space} kiosk", "priority": 1, "space": space,
        "app": {"packageName": "com.example.kiosk"}}).get_json()
        for space in ("global", "paris")}
    return {"admin": admin, "viewer": Caller(function_apps, "viewer@example.com"),
            "operator": Caller(function_apps, "operator@example.com"),
            "stranger": Caller(function_apps, "stranger@example.com"),
            "profiles": profiles, "configs": configs, "server": amapi_emulator}


def test_viewer_reads_its_space_only(world):
    viewer, profiles = world["viewer"], world["profiles"]
    listed = viewer.call("enroll", "GET", "/enrollment-profiles").get_json()
    assert [p["space"] for p in listed["enrollmentProfiles"]] == ["paris"]
    assert viewer.call("enroll", "GET",
                       f"/enrollment-profiles/{profiles['paris']['id']}").status_code == 200
    hidden = viewer.call("enroll", "GET", f"/enrollment-profiles/{profiles['global']['id']}")
    assert hidden.status_code == 404
    configs = viewer.call("policy", "GET", "/cosu-configs").get_json()["cosuConfigs"]
    assert [c["space"] for c in configs] == ["paris"]
    assert viewer.call("policy", "GET", "/cosu-configs?space=global").status_code == 404
    assert viewer.call("policy", "GET", "/spaces").get_json()["spaces"] == [
        {"id": "paris", "displayName": "Paris stores", "parent": "global",
         "createTime": viewer.call("policy", "GET", "/spaces").get_json()["spaces"][0][
             "createTime"]}]


def test_viewer_cannot_change_anything(world):
    viewer, profiles = world["viewer"], world["profiles"]
    created = viewer.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Mine", "userName": "kiosk", "validityDays": 3, "space": "paris"})
    assert created.status_code == 403
    deleted = viewer.call("enroll", "DELETE", f"/enrollment-profiles/{profiles['paris']['id']}")
    assert deleted.status_code == 403
    assert viewer.call("policy", "PATCH", f"/cosu-configs/{world['configs']['paris']['id']}"
                       "?space=paris", {"priority": 5}).status_code == 403


def test_viewer_cannot_grant_itself_more(world):
    escalation = world["viewer"].call("policy", "POST", "/role-bindings", {
        "principal": "viewer@example.com", "role": "ADMIN", "space": "paris"})
    assert escalation.status_code == 403
    assert world["viewer"].call("policy", "POST", "/spaces", {"id": "rogue"}).status_code == 404


def test_operator_sends_commands_but_cannot_configure(world):
    device = managed_device(world["server"], "OP-1", space="paris")
    command = world["operator"].call("commands", "POST", f"/devices/{device['id']}/commands",
                                     {"type": "LOCK"})
    assert command.status_code == 202, command.get_json()
    config = world["configs"]["paris"]
    assert world["operator"].call("policy", "PATCH", f"/cosu-configs/{config['id']}"
                                  "?space=paris", {"priority": 9}).status_code == 403
    assert world["operator"].call("commands", "PATCH", f"/devices/{device['id']}",
                                  {"labels": ["x"]}).status_code == 403
    assert world["viewer"].call("commands", "POST", f"/devices/{device['id']}/commands",
                                {"type": "LOCK"}).status_code == 403


def test_principal_without_binding_is_refused_everywhere(world):
    stranger = world["stranger"]
    for target, method, path in (("enroll", "GET", "/enrollment-profiles"),
                                 ("enroll", "GET", "/users?space=paris"),
                                 ("policy", "GET", "/cosu-configs"),
                                 ("commands", "GET", "/devices")):
        assert stranger.call(target, method, path).status_code == 403, path


def test_audit_log_shows_changes_and_refused_attempts(world):
    world["viewer"].call("enroll", "POST", "/enrollment-profiles", {
        "name": "Mine", "userName": "kiosk", "validityDays": 3, "space": "paris"})
    entries = world["admin"].call("policy", "GET", "/audit-log?pageSize=100").get_json()[
        "entries"]
    created = [e for e in entries if e["action"].endswith("POST /enrollment-profiles")
               and e["outcome"] == "ALLOWED" and e["space"] == "paris"]
    assert created and created[0]["principal"] == "admin@example.com"
    refused = [e for e in entries if e["principal"] == "viewer@example.com"
               and e["outcome"] == "DENIED"]
    assert refused and refused[0]["status"] == 403
    paris_only = world["viewer"].call("policy", "GET", "/audit-log").get_json()["entries"]
    assert {e["space"] for e in paris_only} == {"paris"}
    assert "kiosk" not in json.dumps([e for e in entries if "token" in e])


def test_delegated_configuration_applies_to_the_child_space(world):
    device = managed_device(world["server"], "DEL-1", space="paris")
    admin = world["admin"]
    created = admin.call("policy", "POST", "/cosu-configs", {
        "name": "Chain-wide kiosk", "priority": 50, "app": {"packageName": "com.example.kiosk"},
        "distribution": {"mode": "ALL"}, "delegatedSpaces": ["paris"]})
    assert created.status_code == 201, created.get_json()
    on_device = amapi_device(world["server"], device["name"])["policyName"]
    assert "/policies/cosu-" in on_device
    assert devices.get(device["name"])["effectivePolicy"]
    status, pushed = emulator_call(world["server"], "GET", f"/v1/{on_device}")
    assert status == 200 and pushed["applications"][0]["packageName"] == "com.example.kiosk"


def test_every_documented_route_needs_a_token(function_apps, firestore):
    for target in HTTP_TARGETS:
        client = function_apps[target].test_client()
        document = client.get("/openapi.json").get_json()
        for path, operations in document["paths"].items():
            concrete = re.sub(r"\{[^}]+\}", "x", path)
            for method in operations:
                response = client.open(concrete, method=method.upper(), json={})
                expected = 200 if path in ("/healthz", "/openapi.json") else 401
                assert response.status_code == expected, (target, method, path)


def test_unsigned_token_is_401_on_a_real_route(function_apps, firestore):
    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    unsigned = f"{b64({'alg': 'none'})}.{b64({'email': 'admin@example.com'})}."
    response = function_apps["enroll"].test_client().get(
        "/enrollment-profiles", headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401
    assert access_control.bindings_of("admin@example.com")  # the principal exists; still 401


def _global_admins():
    from shared.access.spaces import GLOBAL

    return sorted(b["principal"] for b in access_control.bindings_in([GLOBAL], 100, None)
                  if b["role"] == "ADMIN")


def _global_admin_binding(email):
    return access_control.binding_id(email, "ADMIN", "global")


def test_last_global_admin_binding_cannot_be_revoked(function_apps, firestore):
    admin = Caller(function_apps, "admin@example.com")
    refused = admin.call("policy", "DELETE",
                         f"/role-bindings/{_global_admin_binding('admin@example.com')}")
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["status"] == "ALREADY_EXISTS" and "last ADMIN" in error["message"]
    assert _global_admins() == ["admin@example.com"]
    assert admin.call("policy", "GET", "/spaces").status_code == 200


def test_global_admin_is_revocable_while_another_remains(function_apps, firestore):
    admin = Caller(function_apps, "admin@example.com")
    boss = Caller(function_apps, "boss@example.com")
    assert admin.call("policy", "POST", "/role-bindings", {
        "principal": "boss@example.com", "role": "ADMIN", "space": "global"}).status_code == 201
    assert admin.call("policy", "POST", "/role-bindings", {
        "principal": "reader@example.com", "role": "VIEWER",
        "space": "global"}).status_code == 201
    revoked = boss.call("policy", "DELETE",
                        f"/role-bindings/{_global_admin_binding('admin@example.com')}")
    assert revoked.status_code == 204, revoked.get_json()
    assert _global_admins() == ["boss@example.com"]
    assert boss.call("policy", "DELETE", f"/role-bindings/"
                     f"{_global_admin_binding('boss@example.com')}").status_code == 409
    viewer_binding = access_control.binding_id("reader@example.com", "VIEWER", "global")
    assert boss.call("policy", "DELETE", f"/role-bindings/{viewer_binding}").status_code == 204


def test_last_admin_of_a_child_space_is_revocable(world):
    admin = world["admin"]
    assert admin.call("policy", "POST", "/role-bindings", {
        "principal": "lead@example.com", "role": "ADMIN", "space": "paris"}).status_code == 201
    binding = access_control.binding_id("lead@example.com", "ADMIN", "paris")
    assert admin.call("policy", "DELETE", f"/role-bindings/{binding}").status_code == 204


def _revoke_at_once(function_apps, revocations):
    """Each (caller, binding) revocation in its own thread, released together; the statuses."""
    import threading

    barrier = threading.Barrier(len(revocations))
    statuses = [0] * len(revocations)

    def revoke(index, email, binding):
        client = function_apps["policy"].test_client()
        headers = {"Authorization": f"Bearer {token_for(email)}"}
        barrier.wait()
        statuses[index] = client.delete(f"/role-bindings/{binding}", headers=headers).status_code

    threads = [threading.Thread(target=revoke, args=(i, *r)) for i, r in enumerate(revocations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_concurrent_revokes_never_remove_every_global_admin(function_apps, firestore):
    admins = ["admin@example.com", "boss@example.com"]
    # Each round costs about two seconds: the emulator resolves the transactions' lock
    # conflict by timing one out, which then retries and sees it would remove the last ADMIN.
    for round_number in range(4):
        for email in admins:
            access_control.put_binding({"principal": email, "role": "ADMIN",
                                        "space": "global"})
        # Alternate between each revoking the other and each revoking itself.
        targets = admins if round_number % 2 else admins[::-1]
        pairs = zip(admins, targets, strict=True)
        statuses = _revoke_at_once(function_apps, [
            (email, _global_admin_binding(target)) for email, target in pairs])
        assert sorted(statuses) == [204, 409], (round_number, statuses)
        assert len(_global_admins()) == 1


@pytest.fixture
def child_admin(function_apps, firestore, amapi_emulator):
    """`lead@` is ADMIN of the child space `paris` only; `berlin` is not declared."""
    admin = Caller(function_apps, "admin@example.com")
    assert admin.call("policy", "POST", "/spaces", {"id": "paris"}).status_code == 201
    assert admin.call("policy", "POST", "/role-bindings", {
        "principal": "lead@example.com", "role": "ADMIN", "space": "paris"}).status_code == 201
    return {"admin": admin, "lead": Caller(function_apps, "lead@example.com"),
            "server": amapi_emulator}


def _use_berlin_with_user(admin, server):
    assert admin.call("enroll", "POST", "/users", {"userName": "kiosk",
                                                   "space": "berlin"}).status_code == 201


def _use_berlin_with_profile(admin, server):
    _use_berlin_with_user(admin, server)
    assert admin.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Berlin lobby", "userName": "kiosk", "validityDays": 7,
        "space": "berlin"}).status_code == 201


def _use_berlin_with_app(admin, server):
    assert admin.call("policy", "POST", "/apps", {"packageName": "com.example.kiosk",
                                                  "type": "PUBLIC",
                                                  "space": "berlin"}).status_code == 201


def _use_berlin_with_delegation(admin, server):
    assert admin.call("policy", "POST", "/apps", {"packageName": "com.example.kiosk",
                                                  "type": "PUBLIC"}).status_code == 201
    created = admin.call("policy", "POST", "/cosu-configs", {
        "name": "Chain-wide kiosk", "priority": 1, "app": {"packageName": "com.example.kiosk"},
        "delegatedSpaces": ["berlin"]})
    assert created.status_code == 201, created.get_json()


def _use_berlin_with_device(admin, server):
    managed_device(server, "BER-1", space="berlin")


def _use_berlin_with_rules(admin, server):
    assert admin.call("enroll", "PUT", "/enrollment-rules",
                      {"space": "berlin", "action": "DISABLE"}).status_code == 200


def _use_berlin_with_binding(admin, server):
    access_control.put_binding({"principal": "berliner@example.com", "role": "VIEWER",
                                "space": "berlin"})


USES = [_use_berlin_with_user, _use_berlin_with_profile, _use_berlin_with_app,
        _use_berlin_with_delegation, _use_berlin_with_device, _use_berlin_with_rules,
        _use_berlin_with_binding]


@pytest.mark.parametrize("use", USES, ids=lambda use: use.__name__.rsplit("_", 1)[1])
def test_child_admin_cannot_capture_a_space_id_in_use(child_admin, use):
    admin, lead = child_admin["admin"], child_admin["lead"]
    use(admin, child_admin["server"])
    refused = lead.call("policy", "POST", "/spaces", {"id": "berlin", "parent": "paris"})
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["status"] == "ALREADY_EXISTS" and "already in use" in error["message"]
    assert "berlin" not in access_control.all_spaces()
    assert lead.call("policy", "GET", "/role-bindings?space=berlin").status_code == 404
    assert lead.call("policy", "POST", "/role-bindings", {
        "principal": "lead@example.com", "role": "ADMIN",
        "space": "berlin"}).status_code == 404


def test_global_admin_may_declare_a_space_id_in_use_anywhere(child_admin):
    admin, lead = child_admin["admin"], child_admin["lead"]
    _use_berlin_with_user(admin, child_admin["server"])
    declared = admin.call("policy", "POST", "/spaces", {"id": "berlin", "parent": "paris"})
    assert declared.status_code == 201, declared.get_json()
    users = lead.call("enroll", "GET", "/users?space=berlin")
    assert users.status_code == 200 and users.get_json()["users"][0]["userName"] == "kiosk"


def test_child_admin_declares_unused_space_ids_and_grants_there(child_admin):
    lead = child_admin["lead"]
    declared = lead.call("policy", "POST", "/spaces", {"id": "paris-north", "parent": "paris"})
    assert declared.status_code == 201, declared.get_json()
    assert lead.call("policy", "POST", "/role-bindings", {
        "principal": "clerk@example.com", "role": "VIEWER",
        "space": "paris-north"}).status_code == 201


def test_a_declared_space_cannot_be_moved_under_another_parent(child_admin):
    admin, lead = child_admin["admin"], child_admin["lead"]
    assert admin.call("policy", "POST", "/spaces", {"id": "lyon"}).status_code == 201
    assert lead.call("policy", "POST", "/spaces", {"id": "paris-north",
                                                   "parent": "paris"}).status_code == 201
    admin.call("policy", "POST", "/role-bindings", {"principal": "lyonnais@example.com",
                                                    "role": "ADMIN", "space": "lyon"})
    lyonnais = Caller(lead.apps, "lyonnais@example.com")
    for caller, space, parent in ((lead, "lyon", "paris"), (lyonnais, "paris-north", "lyon"),
                                  (admin, "paris-north", "lyon")):
        moved = caller.call("policy", "POST", "/spaces", {"id": space, "parent": parent})
        assert moved.status_code == 409, (caller.email, moved.get_json())
    parents = {s: d["parent"] for s, d in access_control.all_spaces().items()}
    assert parents == {"paris": "global", "lyon": "global", "paris-north": "paris"}
