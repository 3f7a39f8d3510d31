"""Lifecycle of device users and attribute definitions (fix, delete once unused), and devices
handed to another user or space, landing on the policy their new owner gets."""

from __future__ import annotations

from typing import Any

import pytest

from shared.store import devices
from shared.store.client import db
from tests.integration.callers import Caller
from tests.integration.policy_helpers import (
    amapi_calls,
    amapi_device,
    assert_amapi_matches_the_stores,
    clear_calls,
    managed_device,
)

KIOSK = "com.example.kiosk"


@pytest.fixture
def world(function_apps, firestore, amapi_emulator):
    """Spaces paris and lyon under global; an ADMIN of each, a VIEWER of paris."""
    admin = Caller(function_apps, "admin@example.com")
    for space in ("paris", "lyon"):
        created = admin.call("policy", "POST", "/spaces", {"id": space, "displayName": space})
        assert created.status_code == 201, created.get_json()
        granted = admin.call("policy", "POST", "/role-bindings", {
            "principal": f"{space}-admin@example.com", "role": "ADMIN", "space": space})
        assert granted.status_code == 201, granted.get_json()
    granted = admin.call("policy", "POST", "/role-bindings", {
        "principal": "paris-viewer@example.com", "role": "VIEWER", "space": "paris"})
    assert granted.status_code == 201, granted.get_json()
    return {"admin": admin, "paris": Caller(function_apps, "paris-admin@example.com"),
            "lyon": Caller(function_apps, "lyon-admin@example.com"),
            "viewer": Caller(function_apps, "paris-viewer@example.com"),
            "server": amapi_emulator}


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def refused(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == status
    return dict(error)


def documents(collection: str) -> dict[str, Any]:
    return {s.id: s.to_dict() for s in db().collection(collection).stream()}


def user(caller: Caller, name: str, space: str = "global", **fields: Any) -> dict[str, Any]:
    return created(caller.call("enroll", "POST", "/users",
                               {"userName": name, "space": space, **fields}))


def profile(caller: Caller, name: str, user_name: str, space: str = "global",
            **fields: Any) -> dict[str, Any]:
    return created(caller.call("enroll", "POST", "/enrollment-profiles", {
        "name": name, "userName": user_name, "validityDays": 7, "space": space, **fields}))


# Device users


def test_a_user_is_fixed_by_patch_and_its_user_name_stays(world):
    admin = world["admin"]
    alice = user(admin, "alice", displayName="Alise", email="old@example.com")

    fixed = admin.call("enroll", "PATCH", f"/users/{alice['id']}",
                       {"displayName": "Alice Martin", "email": None})
    assert fixed.status_code == 200, fixed.get_json()
    body = fixed.get_json()
    assert body["displayName"] == "Alice Martin" and "email" not in body
    assert body["userName"] == "alice" and body["etag"] != alice["etag"]
    assert fixed.headers["ETag"] == body["etag"]
    assert admin.call("enroll", "GET", "/users/alice").get_json() == body
    # Type-ahead finds the new display name, not the old one.
    assert [u["id"] for u in admin.call("enroll", "GET", "/users?prefix=alice%20m")
            .get_json()["users"]] == [alice["id"]]
    assert admin.call("enroll", "GET", "/users?prefix=alise").get_json()["users"] == []

    before = documents("deviceUsers")
    error = refused(admin.call("enroll", "PATCH", "/users/alice",
                               {"userName": "alicia", "displayName": "A"}), 400)
    assert error["details"] == [{"field": "userName", "reason": "is immutable"}]
    refused(admin.call("enroll", "PATCH", "/users/alice", {}), 400)
    refused(admin.call("enroll", "PATCH", "/users/alice", {"email": "not-an-email"}), 400)
    refused(admin.call("enroll", "PATCH", "/users/alice", {"nickname": "x"}), 400)
    assert documents("deviceUsers") == before


def test_user_changes_honour_if_match(world):
    admin = world["admin"]
    alice = user(admin, "alice")
    fresh = admin.call("enroll", "PATCH", "/users/alice", {"displayName": "Alice"},
                       **{"If-Match": alice["etag"]})
    assert fresh.status_code == 200, fresh.get_json()
    before = documents("deviceUsers")

    for method, body in (("PATCH", {"displayName": "Stale"}), ("DELETE", None)):
        error = refused(admin.call("enroll", method, f"/users/{alice['id']}", body,
                                   **{"If-Match": alice["etag"]}), 412)
        assert error["status"] == "FAILED_PRECONDITION"
    assert documents("deviceUsers") == before

    gone = admin.call("enroll", "DELETE", f"/users/{alice['id']}",
                      **{"If-Match": fresh.get_json()["etag"]})
    assert gone.status_code == 204
    refused(admin.call("enroll", "GET", f"/users/{alice['id']}"), 404)
    refused(admin.call("enroll", "DELETE", f"/users/{alice['id']}"), 404)


def test_a_user_still_used_cannot_be_deleted_and_the_refusal_names_the_users(world):
    admin, server = world["admin"], world["server"]
    user(admin, "alice")
    user(admin, "bob")
    lobby = profile(admin, "Lobby", "ALICE")  # a profile keeps the spelling it was given
    device = managed_device(server, "SN-USED", user="ALICE")
    before = documents("deviceUsers")

    error = refused(admin.call("enroll", "DELETE", "/users/alice"), 412)
    assert error["status"] == "FAILED_PRECONDITION"
    reasons = [d["reason"] for d in error["details"]]
    assert any(lobby["id"] in r and "Lobby" in r for r in reasons), reasons
    assert any(device["id"] in r for r in reasons), reasons
    assert documents("deviceUsers") == before

    assert admin.call("enroll", "DELETE", f"/enrollment-profiles/{lobby['id']}").status_code \
        == 204
    reasons = [d["reason"] for d in refused(admin.call("enroll", "DELETE", "/users/alice"),
                                            412)["details"]]
    assert reasons == [f"used by device {device['id']}"]

    handed = admin.call("commands", "PATCH", f"/devices/{device['id']}", {"userName": "bob"})
    assert handed.status_code == 200, handed.get_json()
    assert admin.call("enroll", "DELETE", "/users/alice").status_code == 204
    refused(admin.call("enroll", "DELETE", "/users/bob"), 412)


def test_only_an_admin_of_the_space_changes_its_users_and_attributes(world):
    admin, paris, lyon, viewer = world["admin"], world["paris"], world["lyon"], world["viewer"]
    alice = user(admin, "alice", "paris")
    code = created(admin.call("enroll", "POST", "/device-attributes",
                              {"name": "storeCode", "space": "paris"}))
    before = (documents("deviceUsers"), documents("deviceAttributes"))

    for path, body in ((f"/users/{alice['id']}", {"displayName": "A"}),
                       (f"/device-attributes/{code['id']}", {"description": "d"})):
        assert viewer.call("enroll", "GET", path).status_code == 200
        refused(viewer.call("enroll", "PATCH", path, body), 403)
        refused(viewer.call("enroll", "DELETE", path), 403)
        # Another space's admin cannot even see it, whatever the body says.
        refused(lyon.call("enroll", "PATCH", path, {"userName": "x"}), 404)
        refused(lyon.call("enroll", "DELETE", path), 404)
    refused(lyon.call("enroll", "DELETE", "/users/alice?space=paris"), 404)
    assert (documents("deviceUsers"), documents("deviceAttributes")) == before

    assert paris.call("enroll", "PATCH", "/users/alice", {"email": "a@example.com"}) \
        .status_code == 200
    assert paris.call("enroll", "DELETE", "/device-attributes/storeCode").status_code == 204
    entries = admin.call("policy", "GET", "/audit-log?space=paris").get_json()["entries"]
    actions = {(e["action"], e["outcome"]) for e in entries}
    assert any(a.startswith("DELETE") and a.endswith("/device-attributes/storeCode")
               and o == "ALLOWED" for a, o in actions)
    assert any(a.startswith("PATCH") and a.endswith(f"/users/{alice['id']}") and o == "DENIED"
               for a, o in actions)


# Attribute definitions


def test_attribute_changes_are_checked_against_the_profiles_and_devices_carrying_it(world):
    admin, server = world["admin"], world["server"]
    user(admin, "alice")
    store = created(admin.call("enroll", "POST", "/device-attributes",
                               {"name": "store", "description": "the shop"}))
    assert store["required"] is False and "allowedValues" not in store
    lobby = profile(admin, "Lobby", "alice", customAttributes=[{"name": "store",
                                                                "value": "S1"}])
    bare = profile(admin, "Bare", "alice")
    device = managed_device(server, "SN-ATTR")
    devices.put(device["name"], {"customAttributes": [{"name": "store", "value": "S2"}]})
    before = documents("deviceAttributes")

    error = refused(admin.call("enroll", "PATCH", "/device-attributes/store",
                               {"allowedValues": ["S1"]}), 412)
    assert [d["reason"] for d in error["details"]] == [f"device {device['id']} carries 'S2'"]
    error = refused(admin.call("enroll", "PATCH", "/device-attributes/store",
                               {"required": True}), 412)
    assert [d["reason"] for d in error["details"]] == [
        f"enrollment profile {bare['id']} gives it no value"]
    error = refused(admin.call("enroll", "PATCH", "/device-attributes/store",
                               {"name": "shop"}), 400)
    assert error["details"] == [{"field": "name", "reason": "is immutable"}]
    refused(admin.call("enroll", "PATCH", "/device-attributes/store",
                       {"allowedValues": ["S1", "S1"]}), 400)
    assert documents("deviceAttributes") == before

    changed = admin.call("enroll", "PATCH", f"/device-attributes/{store['id']}",
                         {"allowedValues": ["S1", "S2"], "description": None},
                         **{"If-Match": store["etag"]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["allowedValues"] == ["S1", "S2"]
    assert "description" not in changed.get_json()
    # New profiles must now give an allowed value.
    error = refused(admin.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Other", "userName": "alice", "validityDays": 7,
        "customAttributes": [{"name": "store", "value": "S3"}]}), 400)
    assert error["details"][0]["field"] == "customAttributes[0].value"
    refused(admin.call("enroll", "PATCH", "/device-attributes/store", {"required": False},
                       **{"If-Match": store["etag"]}), 412)

    error = refused(admin.call("enroll", "DELETE", "/device-attributes/store"), 412)
    reasons = [d["reason"] for d in error["details"]]
    assert any(lobby["id"] in r for r in reasons) and any(device["id"] in r for r in reasons)
    assert not any(bare["id"] in r for r in reasons)
    assert len(documents("deviceAttributes")) == 1


def test_a_required_attribute_must_be_given_by_every_new_profile(world):
    admin = world["admin"]
    user(admin, "alice", "paris")
    created(admin.call("enroll", "POST", "/device-attributes", {"name": "store"}))
    made = admin.call("enroll", "PATCH", "/device-attributes/store", {"required": True})
    assert made.status_code == 200 and made.get_json()["required"] is True

    error = refused(admin.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Lobby", "userName": "alice", "validityDays": 7, "space": "paris"}), 400)
    assert error["details"] == [{"field": "customAttributes",
                                 "reason": "needs a value for required attribute 'store'"}]
    profile(admin, "Lobby", "alice", "paris",
            customAttributes=[{"name": "store", "value": "S1"}])
    # A space that defines the name itself is governed by its own definition only.
    created(admin.call("enroll", "POST", "/device-attributes",
                       {"name": "store", "space": "lyon"}))
    user(admin, "bob", "lyon")
    profile(admin, "Lyon lobby", "bob", "lyon")


# Devices handed to another user or space


def _catalog_and_config(admin: Caller, space: str, distribution: dict[str, Any],
                        name: str = "Lobby") -> dict[str, Any]:
    if admin.call("policy", "GET", f"/apps/{KIOSK}").status_code == 404:
        # One catalog entry for every space (a package is listed once).
        app = admin.call("policy", "POST", "/apps", {
            "packageName": KIOSK, "type": "PUBLIC", "delegatedSpaces": ["paris", "lyon"]})
        assert app.status_code == 201, app.get_json()
    config = admin.call("policy", "POST", "/cosu-configs", {
        "name": name, "priority": 10, "space": space, "app": {"packageName": KIOSK},
        "distribution": distribution})
    assert config.status_code == 201, config.get_json()
    return dict(config.get_json())


def test_a_device_handed_to_another_user_moves_to_that_users_policy(world):
    admin, server = world["admin"], world["server"]
    user(admin, "alice")
    user(admin, "Bob")
    _catalog_and_config(admin, "global", {"mode": "CUSTOM", "userNames": ["Bob"]})
    device = managed_device(server, "SN-HAND", user="alice")
    stays = managed_device(server, "SN-STAY", user="alice")
    holding = device["policyName"]
    assert amapi_device(server, device["name"])["policyName"] == holding
    clear_calls(server)
    stored = devices.get(device["id"])

    preview = admin.call("commands", "PATCH", f"/devices/{device['id']}?validateOnly=true",
                         {"userName": "bob"})
    assert preview.status_code == 200, preview.get_json()
    plan = preview.get_json()["plan"]
    assert plan["devicesMoved"] == 1 and plan["sampleDevices"] == [device["id"]]
    assert amapi_calls(server) == [] and devices.get(device["id"]) == stored

    handed = admin.call("commands", "PATCH", f"/devices/{device['id']}", {"userName": "bob"})
    assert handed.status_code == 200, handed.get_json()
    body = handed.get_json()
    assert body["userName"] == "Bob" and body["space"] == "global"  # the user's own spelling
    assert body["policy"]["name"] != holding
    assert [c["method"] for c in amapi_calls(server)] == [
        "enterprises.policies.patch", "enterprises.devices.patch"]  # as previewed
    assert plan["amapiCalls"] == 2
    assert amapi_device(server, device["name"])["policyName"] == body["policy"]["name"]
    assert amapi_device(server, stays["name"])["policyName"] == holding
    assert_amapi_matches_the_stores(server)

    # Back to alice: back to the holding policy (nothing is distributed to her).
    back = admin.call("commands", "PATCH", f"/devices/{device['id']}",
                      {"userName": "alice", "labels": ["front"]})
    assert back.status_code == 200, back.get_json()
    assert back.get_json()["labels"] == ["front"]
    assert amapi_device(server, device["name"])["policyName"] == holding
    assert_amapi_matches_the_stores(server)


def test_a_device_moved_to_another_space_lands_on_that_spaces_policy(world):
    admin, paris, server = world["admin"], world["paris"], world["server"]
    user(admin, "kiosk", "paris")
    user(admin, "kiosk", "lyon")
    device = managed_device(server, "SN-MOVE", user="kiosk", space="paris")
    _catalog_and_config(admin, "paris", {"mode": "ALL"}, "Paris lobby")
    lyon_config = _catalog_and_config(admin, "lyon", {"mode": "ALL"}, "Lyon lobby")
    assert_amapi_matches_the_stores(server, "paris")
    paris_policy = devices.get(device["id"])["policyName"]
    assert amapi_device(server, device["name"])["policyName"] == paris_policy

    moved = admin.call("commands", "PATCH", f"/devices/{device['id']}", {"space": "lyon"})
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["space"] == "lyon" and body["userName"] == "kiosk"
    lyon_policy = body["policy"]["name"]
    assert lyon_policy != paris_policy
    assert amapi_device(server, device["name"])["policyName"] == lyon_policy
    assert_amapi_matches_the_stores(server, "lyon")
    assert_amapi_matches_the_stores(server, "paris")
    listed = admin.call("policy", "GET", f"/cosu-configs/{lyon_config['id']}").get_json()
    assert listed["space"] == "lyon"
    # The paris admin no longer sees it.
    refused(paris.call("commands", "GET", f"/devices/{device['id']}"), 404)


def test_refused_hand_overs_leave_the_store_and_amapi_unchanged(world):
    admin, paris, viewer, server = (world["admin"], world["paris"], world["viewer"],
                                    world["server"])
    user(admin, "kiosk", "paris")
    user(admin, "other", "lyon")
    _catalog_and_config(admin, "lyon", {"mode": "ALL"})
    device = managed_device(server, "SN-KEEP", user="kiosk", space="paris")
    path = f"/devices/{device['id']}"
    stored = devices.get(device["id"])
    clear_calls(server)

    error = refused(paris.call("commands", "PATCH", path, {"userName": "nobody"}), 400)
    assert error["details"][0]["field"] == "userName"
    # The device's user does not exist in lyon: its new user must be named.
    error = refused(admin.call("commands", "PATCH", path, {"space": "lyon"}), 400)
    assert error["details"][0]["field"] == "userName"
    refused(admin.call("commands", "PATCH", path, {"space": "lyon", "userName": "kiosk"}), 400)
    # ADMIN of the old space only: lyon is out of sight.
    refused(paris.call("commands", "PATCH", path, {"space": "lyon", "userName": "other"}), 404)
    refused(viewer.call("commands", "PATCH", path, {"userName": "kiosk"}), 403)
    refused(admin.call("commands", "PATCH", path, {}), 400)
    refused(admin.call("commands", "PATCH", path, {"space": "Not a space!"}), 400)
    refused(admin.call("commands", "PATCH", path, {"userName": ""}), 400)
    assert devices.get(device["id"]) == stored
    assert amapi_calls(server) == []

    ok = admin.call("commands", "PATCH", path, {"space": "lyon", "userName": "other"})
    assert ok.status_code == 200, ok.get_json()
    assert_amapi_matches_the_stores(server, "lyon")
