"""Bodies no JSON store can keep are refused where they enter, naming the field; none is a 500.

Against the real functions on the Firestore and AMAPI emulators: a managed configuration
nested exactly as deep as Firestore can keep inside a pushed policy's record is stored and
pushed; one level more is a 400.
"""

import json

import pytest

from shared.store import access_control
from shared.store.client import db
from tests.integration.policy_helpers import amapi_device, amapi_policy, managed_device

# Firestore keeps maps 20 deep per field; a pushed policy's record holds the configuration at
# policy.applications[i].managedConfiguration, 3 of those levels.
MAX_MANAGED_CONFIGURATION_DEPTH = 17
KIOSK = "com.example.kiosk"
HELPER = "com.example.helper"


def nested(levels, leaf="v"):
    """A managed configuration that is `levels` objects deep (itself being level 1)."""
    value = leaf
    for level in reversed(range(levels)):
        value = {f"l{level + 1}": value}
    return value


@pytest.fixture
def policy(function_apps, admin_headers, firestore, amapi_emulator):
    client = function_apps["policy"].test_client()

    def call(method, path, raw=None, body=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body else None)
        return client.open(path, method=method, data=data,
                           headers={**admin_headers, "Content-Type": "application/json"})
    return call


@pytest.mark.parametrize(("raw", "field"), [
    (rb'{"packageName": "com.example.helper", "type": "PUBLIC", "title": "A \ud800 app"}',
     "title"),
    (rb'{"packageName": "com.example.helper", "type": "PUBLIC", '
     rb'"managedConfiguration": {"server": {"host": "x\udc00"}}}',
     "managedConfiguration.server.host"),
    (rb'{"packageName": "com.example.helper", "type": "PUBLIC", '
     rb'"managedConfiguration": {"bad\ud800key": "x"}}',
     r"managedConfiguration.bad\ud800key"),
    (b'{"packageName": "com.example.helper", "type": "PUBLIC", '
     b'"managedConfiguration": {"level": NaN}}', "managedConfiguration.level"),
    (b'{"packageName": "com.example.helper", "type": "PUBLIC", '
     b'"managedConfiguration": {"limits": [1, Infinity]}}', "managedConfiguration.limits[1]"),
    (b'{"packageName": "com.example.helper", "type": "PUBLIC", '
     b'"managedConfiguration": {"floor": -Infinity}}', "managedConfiguration.floor"),
])
def test_invalid_unicode_and_non_numbers_are_400_naming_the_field(policy, raw, field):
    response = policy("POST", "/apps", raw)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert [d["field"] for d in error["details"]] == [field]
    assert policy("GET", "/apps").get_json()["apps"] == []


@pytest.mark.parametrize("levels", [1_200, 50_000])
def test_json_nested_thousands_deep_is_400_not_a_crash(policy, levels):
    raw = (b'{"packageName": "com.example.helper", "type": "PUBLIC", "managedConfiguration": '
           + b'{"a": ' * levels + b"1" + b"}" * levels + b"}")
    response = policy("POST", "/apps", raw)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    [detail] = response.get_json()["error"]["details"]
    assert detail["field"].startswith("managedConfiguration.a.a")


def test_cosu_configuration_name_with_a_lone_surrogate_is_400(policy):
    assert policy("POST", "/apps", body={"packageName": KIOSK, "type": "PUBLIC"}
                  ).status_code == 201
    response = policy("POST", "/cosu-configs", rb'{"name": "Lobby \ud83d", "priority": 1, '
                      rb'"app": {"packageName": "com.example.kiosk"}}')
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "name"


def test_managed_configuration_at_firestores_depth_is_pushed_one_more_is_400(
        policy, amapi_emulator):
    device = managed_device(amapi_emulator, "DEPTH-1")
    assert policy("POST", "/apps", body={"packageName": KIOSK, "type": "PUBLIC"}
                  ).status_code == 201
    assert policy("POST", "/cosu-configs", body={
        "name": "Lobby", "priority": 1, "app": {"packageName": KIOSK},
        "distribution": {"mode": "ALL"}}).status_code == 201
    too_deep = policy("POST", "/apps", body={
        "packageName": HELPER, "type": "PUBLIC", "installOnDevice": True,
        "distribution": {"mode": "ALL"},
        "managedConfiguration": nested(MAX_MANAGED_CONFIGURATION_DEPTH + 1)})
    assert too_deep.status_code == 400, too_deep.get_data(as_text=True)[:300]
    [detail] = too_deep.get_json()["error"]["details"]
    assert detail["field"] == "managedConfiguration." + ".".join(
        f"l{n}" for n in range(1, MAX_MANAGED_CONFIGURATION_DEPTH + 1))
    deepest = nested(MAX_MANAGED_CONFIGURATION_DEPTH)
    created = policy("POST", "/apps", body={
        "packageName": HELPER, "type": "PUBLIC", "installOnDevice": True,
        "distribution": {"mode": "ALL"}, "managedConfiguration": deepest})
    assert created.status_code == 201, created.get_data(as_text=True)[:300]
    assert created.get_json()["managedConfiguration"] == deepest
    pushed = amapi_policy(amapi_emulator,
                          amapi_device(amapi_emulator, device["name"])["policyName"])
    [helper] = [a for a in pushed["applications"] if a["packageName"] == HELPER]
    assert helper["managedConfiguration"] == deepest
    records = [s.to_dict() for s in db().collection("effectivePolicies").stream()]
    assert any(a.get("managedConfiguration") == deepest
               for r in records for a in r["policy"].get("applications", []))


def test_the_audit_entry_of_a_creation_names_the_created_resource(policy):
    assert policy("POST", "/apps", body={"packageName": KIOSK, "type": "PUBLIC"}
                  ).status_code == 201
    created = policy("POST", "/cosu-configs", body={
        "name": "Lobby", "priority": 1, "app": {"packageName": KIOSK}})
    assert created.status_code == 201
    config_id = created.get_json()["id"]
    entries = [s.to_dict() for s in db().collection(access_control.AUDIT).stream()]
    [entry] = [e for e in entries if e["action"].endswith("POST /cosu-configs")]
    assert entry["resource"].endswith(f"/cosu-configs/{config_id}")
    assert entry["resource"] == created.headers["Location"]
