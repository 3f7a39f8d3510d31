"""Lists show every visible space; item routes and Location headers reach a resource by id alone;
a caller who cannot see a resource gets 404 before its request body is even read."""

import pytest

from tests.integration.callers import Caller
from tests.integration.policy_helpers import managed_device


@pytest.fixture
def world(function_apps, firestore, amapi_emulator):
    """Spaces paris and lyon under global; an ADMIN bound only in each child space."""
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


def _all_pages(caller, target, path, key, size=2):
    seen, token = [], None
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}pageSize={size}" + (f"&pageToken={token}" if token else "")
        response = caller.call(target, "GET", url)
        assert response.status_code == 200, (url, response.get_json())
        body = response.get_json()
        seen += body[key]
        token = body.get("nextPageToken")
        if not token:
            return seen


def test_users_and_attributes_lists_show_every_visible_space(world):
    admin, paris = world["admin"], world["paris"]
    for space in ("global", "paris", "lyon"):
        for name in ("kiosk", f"{space}-desk", "Kiosk2"):
            created = admin.call("enroll", "POST", "/users", {
                "userName": name, "displayName": f"{name} in {space}", "space": space})
            assert created.status_code == 201, created.get_json()
        for name in ("store", f"{space}Code"):
            created = admin.call("enroll", "POST", "/device-attributes",
                                 {"name": name, "space": space})
            assert created.status_code == 201, created.get_json()

    users = _all_pages(paris, "enroll", "/users", "users")
    assert sorted(u["userName"] for u in users) == ["Kiosk2", "kiosk", "paris-desk"]
    assert {u["space"] for u in users} == {"paris"}
    attributes = _all_pages(paris, "enroll", "/device-attributes", "deviceAttributes")
    assert sorted(a["name"] for a in attributes) == ["parisCode", "store"]
    assert world["viewer"].call("enroll", "GET", "/users").status_code == 200

    # A global admin sees every space, each user exactly once across pages even where the
    # same userName exists in several spaces.
    everyone = _all_pages(admin, "enroll", "/users", "users")
    assert len(everyone) == 9 and len({u["id"] for u in everyone}) == 9
    assert [u["userName"].lower() for u in everyone] == sorted(
        u["userName"].lower() for u in everyone)
    assert len(_all_pages(admin, "enroll", "/device-attributes", "deviceAttributes")) == 6

    # Type-ahead stays within the visible spaces.
    found = paris.call("enroll", "GET", "/users?prefix=KIO").get_json()["users"]
    assert sorted((u["userName"], u["space"]) for u in found) == [("Kiosk2", "paris"),
                                                                 ("kiosk", "paris")]
    found = paris.call("enroll", "GET", "/users?prefix=paris-desk%20in").get_json()["users"]
    assert [u["userName"] for u in found] == ["paris-desk"]
    found = admin.call("enroll", "GET", "/users?prefix=kiosk&pageSize=100").get_json()["users"]
    assert len(found) == 6

    # Asking for a space still narrows to it, and a space out of sight stays 404.
    narrowed = admin.call("enroll", "GET", "/users?space=lyon&pageSize=100").get_json()
    assert {u["space"] for u in narrowed["users"]} == {"lyon"}
    assert paris.call("enroll", "GET", "/users?space=lyon").status_code == 404
    assert paris.call("enroll", "GET", "/device-attributes?space=global").status_code == 404


def test_every_created_resource_location_resolves_in_a_child_space(world):
    paris, lyon = world["paris"], world["lyon"]
    created = {
        "user": paris.call("enroll", "POST", "/users", {"userName": "kiosk", "space": "paris"}),
        "attribute": paris.call("enroll", "POST", "/device-attributes",
                                {"name": "store", "space": "paris"}),
    }
    created["profile"] = paris.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Lobby", "userName": "kiosk", "validityDays": 3, "space": "paris",
        "customAttributes": [{"name": "store", "value": "P-1"}]})
    device = managed_device(world["server"], "LOC-1", space="paris")
    command = paris.call("commands", "POST", f"/devices/{device['id']}/commands",
                         {"type": "LOCK"})
    assert command.status_code == 202, command.get_json()
    for kind, response in [*created.items(), ("command", command)]:
        assert response.status_code in (201, 202), (kind, response.get_json())
        location = response.headers["Location"]
        target = "commands" if kind == "command" else "enroll"
        shown = paris.call(target, "GET", location)
        assert shown.status_code == 200, (kind, location, shown.get_json())
        assert shown.get_json()["id"] == response.get_json()["id"], kind
        assert lyon.call(target, "GET", location).status_code == 404, (kind, location)


def test_users_and_attributes_are_reachable_by_name(world):
    admin, paris, lyon = world["admin"], world["paris"], world["lyon"]
    for space in ("global", "paris"):
        admin.call("enroll", "POST", "/users", {"userName": "Kiosk", "space": space})
        admin.call("enroll", "POST", "/device-attributes", {"name": "store", "space": space})
    admin.call("enroll", "POST", "/users", {"userName": "front-desk", "space": "paris"})

    mine = paris.call("enroll", "GET", "/users/kiosk")
    assert mine.status_code == 200, mine.get_json()
    assert mine.get_json()["space"] == "paris" and mine.headers["ETag"]
    assert paris.call("enroll", "GET", "/device-attributes/STORE").get_json()["space"] == "paris"
    assert admin.call("enroll", "GET", "/users/front-desk").get_json()["space"] == "paris"
    assert lyon.call("enroll", "GET", "/users/front-desk").status_code == 404
    assert lyon.call("enroll", "GET", "/device-attributes/store").status_code == 404
    assert paris.call("enroll", "GET", "/users/nobody").status_code == 404

    # The same name in two visible spaces is ambiguous: the id or ?space= tells them apart.
    ambiguous = admin.call("enroll", "GET", "/users/kiosk")
    assert ambiguous.status_code == 400
    assert ambiguous.get_json()["error"]["details"][0]["field"] == "userName"
    chosen = admin.call("enroll", "GET", "/users/kiosk?space=global").get_json()
    assert chosen["space"] == "global"
    assert admin.call("enroll", "GET", f"/users/{chosen['id']}").get_json()["space"] == "global"
    assert admin.call("enroll", "GET", "/device-attributes/store").status_code == 400
    assert admin.call("enroll", "GET",
                      "/device-attributes/store?space=paris").get_json()["space"] == "paris"


def test_item_routes_reach_a_child_space_resource_by_id_alone(world):
    paris, lyon, viewer = world["paris"], world["lyon"], world["viewer"]
    paris.call("enroll", "POST", "/users", {"userName": "kiosk", "space": "paris"})
    profile = paris.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Lobby", "userName": "kiosk", "validityDays": 3, "space": "paris"}).get_json()
    device = managed_device(world["server"], "ID-1", space="paris")
    command = paris.call("commands", "POST", f"/devices/{device['id']}/commands",
                         {"type": "LOCK"}).get_json()
    profile_path = f"/enrollment-profiles/{profile['id']}"
    device_path = f"/devices/{device['id']}"
    reads = [("enroll", profile_path), ("enroll", f"{profile_path}/qr.png"),
             ("enroll", f"{profile_path}/qr.svg"), ("commands", device_path),
             ("commands", f"{device_path}/commands"),
             ("commands", f"{device_path}/commands/{command['id']}")]
    for target, path in reads:
        assert paris.call(target, "GET", path).status_code == 200, path
        assert viewer.call(target, "GET", path).status_code == 200, path
        assert lyon.call(target, "GET", path).status_code == 404, path
    writes = [("enroll", "PATCH", profile_path, {"validityDays": 5}),
              ("commands", "PATCH", device_path, {"labels": ["lobby"]}),
              ("commands", "POST", f"{device_path}/commands", {"type": "REBOOT"})]
    for target, method, path, body in writes:
        assert lyon.call(target, method, path, body).status_code == 404, path
        answered = paris.call(target, method, path, body)
        assert answered.status_code in (200, 202), (path, answered.get_json())
    assert lyon.call("enroll", "DELETE", profile_path).status_code == 404
    assert paris.call("enroll", "DELETE", profile_path).status_code == 204


def test_a_caller_who_cannot_see_the_resource_gets_404_even_with_an_invalid_body(world):
    paris, lyon, viewer = world["paris"], world["lyon"], world["viewer"]
    paris.call("enroll", "POST", "/users", {"userName": "kiosk", "space": "paris"})
    profile = paris.call("enroll", "POST", "/enrollment-profiles", {
        "name": "Lobby", "userName": "kiosk", "validityDays": 3, "space": "paris"}).get_json()
    device = managed_device(world["server"], "AUTH-1", space="paris")
    invalid = [("enroll", "PATCH", f"/enrollment-profiles/{profile['id']}",
                {"validityDays": 99, "name": "renamed"}),
               ("enroll", "PATCH", f"/enrollment-profiles/{profile['id']}", ["not an object"]),
               ("commands", "PATCH", f"/devices/{device['id']}", {"labels": "nope"}),
               ("commands", "POST", f"/devices/{device['id']}/commands", {"type": "EXPLODE"})]
    for target, method, path, body in invalid:
        hidden = lyon.call(target, method, path, body)
        assert hidden.status_code == 404, (path, hidden.get_json())
        assert hidden.get_json()["error"]["status"] == "NOT_FOUND"
        # A caller who sees it but may not change it learns that first, too.
        assert viewer.call(target, method, path, body).status_code == 403, path
        # Only a caller allowed to act hears about the body.
        assert paris.call(target, method, path, body).status_code == 400, path
    assert lyon.call("enroll", "PATCH", "/enrollment-profiles/nope",
                     {"validityDays": 99}).status_code == 404
