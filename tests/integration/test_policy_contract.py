"""The policy function's contract: merge patches, ids reachable alone, named conflicts,
write-only secrets of managed configurations, and complete undo of a failed push."""

import json

import pytest

from shared.config import settings
from tests.conftest import token_for
from tests.integration.enroll_helpers import emulator_call
from tests.integration.policy_helpers import amapi_device, amapi_policy, managed_device

KIOSK = "com.example.kiosk"
VPN_APP = "com.example.vpn"


class Caller:
    def __init__(self, app, email):
        self.app = app
        self.headers = {"Authorization": f"Bearer {token_for(email)}"}

    def call(self, method, path, body=None, **headers):
        return self.app.test_client().open(path, method=method, json=body,
                                           headers={**self.headers, **headers})

    def created(self, path, body):
        response = self.call("POST", path, body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def world(function_apps, firestore, amapi_emulator):
    """`admin@` sees everything; `lead@` is ADMIN of `paris`, `other@` ADMIN of `london`."""
    admin = Caller(function_apps["policy"], "admin@example.com")
    for space in ("paris", "london"):
        assert admin.call("POST", "/spaces", {"id": space}).status_code == 201
    for email, space in (("lead@example.com", "paris"), ("other@example.com", "london")):
        assert admin.call("POST", "/role-bindings", {
            "principal": email, "role": "ADMIN", "space": space}).status_code == 201
    return {"admin": admin, "lead": Caller(function_apps["policy"], "lead@example.com"),
            "other": Caller(function_apps["policy"], "other@example.com"),
            "server": amapi_emulator}


# --- merge patch ---------------------------------------------------------------------------

def test_patch_merges_nested_objects_null_restores_defaults_and_arrays_are_replaced(world):
    admin = world["admin"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC",
                            "installConstraint": {"charging": True}})
    config = admin.created("/cosu-configs", {
        "name": "Lobby", "priority": 1, "app": {"packageName": KIOSK},
        "lockdown": {"disableStatusBar": True, "keepScreenOn": ["AC", "USB"]},
        "kiosk": {"navigation": "HOME_ONLY"}})
    path = f"/cosu-configs/{config['id']}"

    changed = admin.call("PATCH", path, {"lockdown": {"disableKeyguard": True}})
    assert changed.status_code == 200, changed.get_json()
    lockdown = changed.get_json()["lockdown"]
    assert lockdown["disableKeyguard"] is True
    assert lockdown["disableStatusBar"] is True, "a field the patch did not name is kept"
    assert lockdown["keepScreenOn"] == ["AC", "USB"]
    assert changed.get_json()["kiosk"]["navigation"] == "HOME_ONLY"

    changed = admin.call("PATCH", path, {"lockdown": {"disableStatusBar": None,
                                                      "keepScreenOn": ["WIRELESS"]},
                                         "description": "front desk"}).get_json()
    assert changed["lockdown"]["disableStatusBar"] is False, "null is back to the default"
    assert changed["lockdown"]["keepScreenOn"] == ["WIRELESS"], "arrays are replaced whole"
    assert changed["lockdown"]["disableKeyguard"] is True
    assert admin.call("PATCH", path, {"description": None}).get_json().get(
        "description") is None
    assert admin.call("GET", path).get_json()["lockdown"] == changed["lockdown"]

    app = admin.call("PATCH", f"/apps/{KIOSK}", {"installConstraint": {"idle": True}})
    assert app.get_json()["installConstraint"] == {"network": "ANY", "charging": True,
                                                   "idle": True}
    wifi = admin.created("/wifi-configs", {"name": "Store", "ssid": "Store",
                                           "security": "WPA_EAP",
                                           "eap": {"outer": "PEAP", "identity": "kiosk",
                                                   "password": "eap-pass"}})
    wifi = admin.call("PATCH", f"/wifi-configs/{wifi['id']}", {"eap": {"inner": "MSCHAPv2"}})
    assert wifi.status_code == 200, wifi.get_json()
    assert wifi.get_json()["eap"] == {"outer": "PEAP", "inner": "MSCHAPv2",
                                      "identity": "kiosk", "hasPassword": True}
    admin.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC"})
    vpn = admin.created("/vpn-configs", {"name": "Tunnel", "packageName": VPN_APP,
                                         "managedConfiguration": {"server": "vpn.example",
                                                                  "port": 1194}})
    vpn = admin.call("PATCH", f"/vpn-configs/{vpn['id']}",
                     {"managedConfiguration": {"port": 443}}).get_json()
    assert vpn["managedConfiguration"] == {"server": "vpn.example", "port": 443}


def test_a_patch_that_removes_a_required_field_is_400_naming_it(world):
    admin = world["admin"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    config = admin.created("/cosu-configs", {"name": "Lobby", "priority": 1,
                                             "app": {"packageName": KIOSK}})
    refused = admin.call("PATCH", f"/cosu-configs/{config['id']}", {"priority": None})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["details"][0]["field"] == "priority"


def test_patch_operations_document_merge_patch_in_openapi(world):
    document = world["admin"].call("GET", "/openapi.json").get_json()
    for path in ("/apps/{package_name}", "/cosu-configs/{config_id}",
                 "/wifi-configs/{config_id}", "/vpn-configs/{config_id}"):
        operation = document["paths"][path]["patch"]
        assert "RFC 7396" in operation["summary"], path
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        name = schema["$ref"].rsplit("/", 1)[1]
        assert "RFC 7396" in document["components"]["schemas"][name]["description"], path


# --- ids reachable alone ---------------------------------------------------------------------

def test_items_of_a_child_space_are_reached_by_id_alone_and_locations_resolve(world):
    admin, lead, other = world["admin"], world["lead"], world["other"]
    created = lead.call("POST", "/apps", {"packageName": KIOSK, "type": "PUBLIC",
                                          "space": "paris"})
    assert created.status_code == 201
    locations = [created.headers["Location"]]
    lead.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC", "space": "paris"})
    for path, body in (
            ("/cosu-configs", {"name": "Lobby", "priority": 1, "space": "paris",
                               "app": {"packageName": KIOSK}}),
            ("/wifi-configs", {"name": "Store", "ssid": "Store", "security": "NONE",
                               "space": "paris"}),
            ("/vpn-configs", {"name": "Tunnel", "packageName": VPN_APP, "space": "paris"})):
        response = lead.call("POST", path, body)
        assert response.status_code == 201, response.get_json()
        locations.append(response.headers["Location"])
    config_location = locations[1]
    locations += [f"{config_location}/policy", f"{locations[0]}/feedback"]
    for location in locations:
        for caller in (admin, lead):
            assert caller.call("GET", location).status_code == 200, location
        assert other.call("GET", location).status_code == 404, location
        assert admin.call("GET", f"{location}?space=paris").status_code == 200, location
        assert admin.call("GET", f"{location}?space=london").status_code == 404, location
    assert lead.call("PATCH", config_location, {"priority": 2}).status_code == 200
    assert other.call("PATCH", config_location, {"priority": 3}).status_code == 404
    assert other.call("DELETE", config_location).status_code == 404
    assert admin.call("GET", config_location).get_json()["priority"] == 2


def test_a_package_is_in_the_catalog_once_and_the_409_reveals_only_visible_spaces(world):
    admin, lead, other = world["admin"], world["lead"], world["other"]
    lead.created("/apps", {"packageName": KIOSK, "type": "PUBLIC", "space": "paris"})
    seen = admin.call("POST", "/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    assert seen.status_code == 409
    assert "paris" in seen.get_json()["error"]["message"]
    assert "delegate" in seen.get_json()["error"]["message"]
    hidden = other.call("POST", "/apps", {"packageName": KIOSK, "type": "PUBLIC",
                                          "space": "london"})
    assert hidden.status_code == 409
    assert "paris" not in json.dumps(hidden.get_json())
    assert "delegated" in hidden.get_json()["error"]["message"] or "delegate" in \
        hidden.get_json()["error"]["message"]
    assert [a["space"] for a in admin.call("GET", "/apps").get_json()["apps"]] == ["paris"]


def test_lists_show_what_is_delegated_to_the_callers_spaces_marked(world):
    admin, lead, other = world["admin"], world["lead"], world["other"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC",
                            "delegatedSpaces": ["paris"]})
    shared = admin.created("/cosu-configs", {"name": "Chain", "priority": 1,
                                             "app": {"packageName": KIOSK},
                                             "delegatedSpaces": ["paris"]})
    admin.created("/cosu-configs", {"name": "Head office", "priority": 1,
                                    "app": {"packageName": KIOSK}})
    local = lead.created("/cosu-configs", {"name": "Lobby", "priority": 1, "space": "paris",
                                           "app": {"packageName": KIOSK}})
    listed = lead.call("GET", "/cosu-configs").get_json()["cosuConfigs"]
    assert {c["id"]: c.get("delegated", False) for c in listed} == {
        shared["id"]: True, local["id"]: False}
    by_space = lead.call("GET", "/cosu-configs?space=paris").get_json()["cosuConfigs"]
    assert {c["id"] for c in by_space} == {shared["id"], local["id"]}
    [app] = lead.call("GET", "/apps").get_json()["apps"]
    assert app["packageName"] == KIOSK and app["delegated"] is True
    assert other.call("GET", "/cosu-configs").get_json()["cosuConfigs"] == []
    assert all("delegated" not in c
               for c in admin.call("GET", "/cosu-configs").get_json()["cosuConfigs"])
    item = lead.call("GET", f"/cosu-configs/{shared['id']}")
    assert item.status_code == 200 and item.get_json()["delegated"] is True
    assert lead.call("PATCH", f"/cosu-configs/{shared['id']}",
                     {"priority": 5}).status_code == 403


def test_a_caller_who_cannot_see_a_resource_gets_404_even_for_an_invalid_body(world):
    admin, other = world["admin"], world["other"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    config = admin.created("/cosu-configs", {"name": "Lobby", "priority": 1,
                                             "app": {"packageName": KIOSK}})
    for path in (f"/cosu-configs/{config['id']}", f"/apps/{KIOSK}"):
        for body in ({"priority": "high"}, {"unknown": 1}, {"space": "london"}):
            response = other.call("PATCH", path, body)
            assert response.status_code == 404, (path, body, response.get_json())
    assert admin.call("PATCH", f"/cosu-configs/{config['id']}",
                      {"priority": "high"}).status_code == 400


# --- named conflicts -------------------------------------------------------------------------

def test_removing_a_delegation_in_use_is_412_naming_the_configurations(world):
    admin, lead = world["admin"], world["lead"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC",
                            "delegatedSpaces": ["paris"]})
    admin.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC",
                            "delegatedSpaces": ["paris"]})
    config = lead.created("/cosu-configs", {"name": "Paris lobby", "priority": 1,
                                            "space": "paris", "app": {"packageName": KIOSK}})
    vpn = lead.created("/vpn-configs", {"name": "Paris tunnel", "packageName": VPN_APP,
                                        "space": "paris"})
    for package, user in ((KIOSK, config), (VPN_APP, vpn)):
        for method, body in (("PATCH", {"delegatedSpaces": []}), ("DELETE", None)):
            refused = admin.call(method, f"/apps/{package}", body)
            assert refused.status_code == 412, (package, method, refused.get_json())
            message = refused.get_json()["error"]["message"]
            assert user["name"] in message and user["id"] in message
        assert admin.call("GET", f"/apps/{package}").get_json()["delegatedSpaces"] == [
            "paris"]
    edited = lead.call("PATCH", f"/cosu-configs/{config['id']}", {"priority": 4})
    assert edited.status_code == 200, edited.get_json()
    assert lead.call("DELETE", f"/cosu-configs/{config['id']}").status_code == 204
    assert admin.call("PATCH", f"/apps/{KIOSK}",
                      {"delegatedSpaces": []}).status_code == 200


@pytest.mark.parametrize(("first", "second"), [
    ({"mode": "ALL"}, {"mode": "ALL"}),
    ({"mode": "ALL"}, {"mode": "CUSTOM", "labels": ["lobby"]}),
    ({"mode": "CUSTOM", "labels": ["lobby", "desk"]}, {"mode": "CUSTOM", "labels": ["desk"]}),
    ({"mode": "CUSTOM", "deviceIds": ["d1"]}, {"mode": "CUSTOM", "deviceIds": ["d1"]}),
    ({"mode": "CUSTOM", "userNames": ["kiosk"]}, {"mode": "CUSTOM", "userNames": ["kiosk"]}),
])
def test_a_second_always_on_vpn_for_the_same_devices_is_409_naming_the_first(
        world, first, second):
    admin = world["admin"]
    admin.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC"})
    existing = admin.created("/vpn-configs", {"name": "Tunnel", "packageName": VPN_APP,
                                              "distribution": first})
    refused = admin.call("POST", "/vpn-configs", {"name": "Other", "packageName": VPN_APP,
                                                  "distribution": second})
    assert refused.status_code == 409, refused.get_json()
    assert existing["id"] in refused.get_json()["error"]["message"]
    assert "Tunnel" in refused.get_json()["error"]["message"]


def test_always_on_vpn_overlap_is_found_through_delegation_and_on_patch(world):
    admin, lead = world["admin"], world["lead"]
    admin.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC",
                            "delegatedSpaces": ["paris"]})
    chain = admin.created("/vpn-configs", {"name": "Chain", "packageName": VPN_APP,
                                           "distribution": {"mode": "ALL"},
                                           "delegatedSpaces": ["paris"]})
    refused = lead.call("POST", "/vpn-configs", {"name": "Paris", "packageName": VPN_APP,
                                                 "space": "paris",
                                                 "distribution": {"mode": "ALL"}})
    assert refused.status_code == 409 and chain["id"] in refused.get_json()["error"]["message"]
    apart = admin.created("/vpn-configs", {"name": "Desk", "packageName": VPN_APP,
                                           "distribution": {"mode": "NONE"}})
    moved = admin.call("PATCH", f"/vpn-configs/{apart['id']}",
                       {"distribution": {"mode": "CUSTOM", "labels": ["desk"]}})
    assert moved.status_code == 409 and chain["id"] in moved.get_json()["error"]["message"]
    lead_vpn = lead.created("/vpn-configs", {"name": "Paris", "packageName": VPN_APP,
                                             "space": "paris"})
    assert lead_vpn["distribution"]["mode"] == "NONE"


def test_cosu_configuration_names_are_unique_in_a_space_ignoring_case(world):
    admin, lead = world["admin"], world["lead"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC",
                            "delegatedSpaces": ["paris"]})
    lobby = admin.created("/cosu-configs", {"name": "Lobby", "priority": 1,
                                            "app": {"packageName": KIOSK}})
    again = admin.call("POST", "/cosu-configs", {"name": "LOBBY", "priority": 2,
                                                 "app": {"packageName": KIOSK}})
    assert again.status_code == 409
    assert lobby["id"] in again.get_json()["error"]["message"]
    lead.created("/cosu-configs", {"name": "Lobby", "priority": 1, "space": "paris",
                                   "app": {"packageName": KIOSK}})
    desk = admin.created("/cosu-configs", {"name": "Desk", "priority": 1,
                                           "app": {"packageName": KIOSK}})
    assert admin.call("PATCH", f"/cosu-configs/{desk['id']}",
                      {"name": "lobby"}).status_code == 409
    assert admin.call("PATCH", f"/cosu-configs/{lobby['id']}",
                      {"name": "LOBBY"}).status_code == 200
    names = [c["name"] for c in admin.call("GET", "/cosu-configs?space=global").get_json()[
        "cosuConfigs"]]
    assert sorted(names) == ["Desk", "LOBBY"]


def test_concurrent_creations_with_one_name_give_one_configuration(world):
    from tests.integration.policy_helpers import at_once, request

    admin = world["admin"]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    for trial in range(3):
        body = {"name": f"Race {trial}", "priority": 1, "app": {"packageName": KIOSK}}
        results = at_once(*[request(admin.app, "POST", "/cosu-configs", body, admin.headers)
                            for _ in range(3)])
        assert sorted(r.status_code for r in results) == [201, 409, 409]


# --- secrets of managed configurations -------------------------------------------------------

SECRETS = ("pw-0001", "key-0002", "custom-0003", "token-0004", "nested-0005")


def test_managed_configuration_secrets_are_write_only_and_survive_a_round_trip(world):
    admin, server = world["admin"], world["server"]
    device = managed_device(server, "SN-SECRET")
    configuration = {"server": "vpn.example", "vpnPassword": SECRETS[0], "api_key": SECRETS[1],
                     "pin": SECRETS[2], "profiles": [{"name": "a", "authToken": SECRETS[3]}],
                     "advanced": {"sharedSecret": SECRETS[4]}}
    created = admin.call("POST", "/apps", {
        "packageName": VPN_APP, "type": "PUBLIC", "installOnDevice": True,
        "secretKeys": ["pin"], "managedConfiguration": configuration,
        "distribution": {"mode": "ALL"}})
    assert created.status_code == 201, created.get_json()
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    config = admin.created("/cosu-configs", {"name": "Lobby", "priority": 1,
                                             "app": {"packageName": KIOSK},
                                             "distribution": {"mode": "ALL"}})
    vpn = admin.call("POST", "/vpn-configs", {"name": "Tunnel", "packageName": VPN_APP,
                                              "managedConfiguration": configuration})
    assert vpn.status_code == 201
    read = admin.call("GET", f"/apps/{VPN_APP}").get_json()
    assert read["managedConfiguration"]["server"] == "vpn.example"
    assert read["managedConfiguration"]["profiles"][0]["name"] == "a"
    # The client edits what it read and sends it all back, masks included.
    edited = dict(read["managedConfiguration"], server="vpn2.example")
    patched = admin.call("PATCH", f"/apps/{VPN_APP}", {"managedConfiguration": edited})
    assert patched.status_code == 200, patched.get_json()
    responses = [created, vpn, patched, admin.call("GET", f"/apps/{VPN_APP}"),
                 admin.call("GET", "/apps"), admin.call("GET", f"/vpn-configs/{vpn.json['id']}"),
                 admin.call("GET", "/vpn-configs"),
                 admin.call("PATCH", f"/vpn-configs/{vpn.json['id']}", {"lockdownEnabled": True}),
                 admin.call("GET", f"/cosu-configs/{config['id']}/policy")]
    for response in responses:
        assert response.status_code in (200, 201), response.get_json()
        text = response.get_data(as_text=True)
        assert not [s for s in SECRETS if s in text], text
    preview = responses[-1].get_json()
    [app] = [a for a in preview["applications"] if a["packageName"] == VPN_APP]
    assert app["managedConfiguration"]["vpnPassword"] == "********"
    pushed = amapi_policy(server, amapi_device(server, device["name"])["policyName"])
    [app] = [a for a in pushed["applications"] if a["packageName"] == VPN_APP]
    assert app["managedConfiguration"]["server"] == "vpn2.example"
    assert app["managedConfiguration"]["vpnPassword"] == SECRETS[0], "AMAPI gets it in clear"
    assert app["managedConfiguration"]["pin"] == SECRETS[2]
    assert app["managedConfiguration"]["profiles"][0]["authToken"] == SECRETS[3]


def test_a_mask_with_no_secret_behind_it_is_400(world):
    admin = world["admin"]
    admin.created("/apps", {"packageName": VPN_APP, "type": "PUBLIC",
                            "managedConfiguration": {"server": "x"}})
    refused = admin.call("PATCH", f"/apps/{VPN_APP}",
                         {"managedConfiguration": {"password": "********"}})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["details"][0]["field"] == (
        "managedConfiguration.password")


# --- complete undo ---------------------------------------------------------------------------

def _cosu_policies(server):
    status, body = emulator_call(server, "GET", f"/v1/{settings().enterprise}/policies")
    assert status == 200, body
    return sorted(p["name"] for p in body.get("policies", []) if "/policies/cosu-" in p["name"])


def test_a_push_that_fails_half_way_deletes_the_policies_it_created(world):
    admin, server = world["admin"], world["server"]
    fleet = [managed_device(server, f"SN-U{i}") for i in range(3)]
    admin.created("/apps", {"packageName": KIOSK, "type": "PUBLIC"})
    before = _cosu_policies(server)
    emulator_call(server, "POST", "/emulator/v1/faults",
                  {"probability": 1.0, "codes": [400], "methods": ["enterprises.devices.patch"]})
    try:
        refused = admin.call("POST", "/cosu-configs", {"name": "Lobby", "priority": 1,
                                                       "app": {"packageName": KIOSK},
                                                       "distribution": {"mode": "ALL"}})
    finally:
        emulator_call(server, "DELETE", "/emulator/v1/faults")
    assert refused.status_code == 400, refused.get_json()
    assert _cosu_policies(server) == before, "no orphaned policy remains"
    for device in fleet:
        assert amapi_device(server, device["name"])["policyName"].endswith("holding-global")
    assert admin.call("GET", "/cosu-configs").get_json()["cosuConfigs"] == []
