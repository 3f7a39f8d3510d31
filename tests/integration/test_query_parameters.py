"""Query parameters: each route takes exactly those its OpenAPI document lists, refusing others.

Every parameter is declared once, in the route's schema, which both validates the query string
and writes the document; these tests hold the two to each other through the deployed functions.
"""

import re

import pytest

from shared.devices.schemas import DEVICE_STATES
from shared.enrollment.schemas import PROFILE_STATUSES
from shared.pagination import DEFAULT_PAGE_SIZE
from shared.query_params import MAX_QUERY_BYTES

HTTP_FUNCTIONS = ["enroll", "expire_tokens", "policy", "commands", "reconcile_commands"]
LISTS = {"enroll": ["/users", "/device-attributes", "/enrollment-profiles"],
         "policy": ["/apps", "/wifi-configs", "/vpn-configs", "/cosu-configs", "/role-bindings",
                    "/audit-log"],
         "commands": ["/devices", "/devices/{device_id}/commands"]}


def document_of(app):
    return app.test_client().get("/openapi.json").get_json()


def operations(document):
    """Every (METHOD, path template, operation) of a document."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def query_parameters(operation):
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def concrete(path):
    return re.sub(r"\{[^}]+\}", "some-id", path)


def refused(response, *parameters):
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert sorted(d["field"] for d in error["details"]) == sorted(parameters), error
    return error


@pytest.mark.parametrize("target", HTTP_FUNCTIONS)
def test_every_route_refuses_an_unknown_parameter_naming_it(target, function_apps, firestore,
                                                            admin_headers):
    # The session's administrator is also the scheduler: it may use every route.
    app = function_apps[target]
    client = app.test_client()
    walked = 0
    for method, path, operation in operations(document_of(app)):
        response = client.open(f"{concrete(path)}?colour=red", method=method, json={},
                               headers=admin_headers)
        error = refused(response, "colour")
        assert error["details"] == [{"field": "colour", "reason": "unknown parameter"}], path
        walked += 1
        if operation["security"]:
            # Credentials first: an anonymous caller learns nothing of what a route takes.
            anonymous = client.open(f"{concrete(path)}?colour=red", method=method, json={})
            assert anonymous.status_code == 401, (method, path)
    assert walked >= 3


@pytest.mark.parametrize("target", ["enroll", "policy", "commands"])
def test_every_declared_parameter_is_accepted_on_lists(target, function_apps, firestore,
                                                       admin_headers):
    app = function_apps[target]
    client = app.test_client()
    examples = {"boolean": "false", "integer": "5"}
    for method, path, operation in operations(document_of(app)):
        declared = query_parameters(operation)
        if method != "GET" or "{" in path or not declared:
            continue
        for name, parameter in declared.items():
            if name == "pageToken":
                continue  # only tokens the list issued are valid
            schema = parameter["schema"]
            value = (schema["enum"][0] if "enum" in schema
                     else "global" if "pattern" in schema
                     else examples.get(schema["type"], "abc"))
            response = client.get(f"{path}?{name}={value}", headers=admin_headers)
            assert response.status_code == 200, (path, name, response.get_json())


@pytest.mark.parametrize(("target", "url", "parameters"), [
    ("commands", "/devices?state=NOPE", ["state"]),
    ("commands", "/devices?state=active", ["state"]),
    ("commands", "/devices?compliant=maybe", ["compliant"]),
    ("commands", "/devices?compliant=TRUE", ["compliant"]),
    ("commands", "/devices?compliant=1", ["compliant"]),
    ("commands", "/devices?pageSize=abc", ["pageSize"]),
    ("commands", "/devices?pageSize=", ["pageSize"]),
    ("commands", "/devices?pageSize=0", ["pageSize"]),
    ("commands", "/devices?space=Paris", ["space"]),
    ("commands", "/devices?state=ACTIVE&state=LOST", ["state"]),
    ("commands", "/devices?state=NOPE&compliant=maybe&shape=round",
     ["state", "compliant", "shape"]),
    ("commands", "/devices/some-id/commands?pageSize=1.5", ["pageSize"]),
    ("commands", "/devices/some-id/commands?space=global", ["space"]),
    ("enroll", "/enrollment-profiles?status=x", ["status"]),
    ("enroll", "/enrollment-profiles?status=active", ["status"]),
    ("enroll", "/enrollment-profiles?pageSize=-1", ["pageSize"]),
    ("enroll", "/users?pageSize=ten", ["pageSize"]),
    ("enroll", "/users?space=no_such space", ["space"]),
    ("enroll", "/device-attributes?space=-lead", ["space"]),
    ("enroll", "/enrollment-rules?space=UPPER", ["space"]),
    ("enroll", "/enrollment-rules?pageSize=5", ["pageSize"]),
    ("enroll", "/enrollment-profiles/some-id?space=global", ["space"]),
    ("policy", "/cosu-configs?pageSize=abc", ["pageSize"]),
    ("policy", "/cosu-configs/some-id?space=Paris", ["space"]),
    ("policy", "/audit-log?pageSize=", ["pageSize"]),
    ("policy", "/audit-log?principal=" + "p" * (MAX_QUERY_BYTES + 1), ["principal"]),
    ("policy", "/role-bindings?space=a_b", ["space"]),
    ("policy", "/spaces?space=global", ["space"]),
])
def test_bad_values_are_400_naming_each_parameter(target, url, parameters, function_apps,
                                                  firestore, admin_headers):
    response = function_apps[target].test_client().get(url, headers=admin_headers)
    error = refused(response, *parameters)
    for name in parameters:
        assert name in error["message"]


@pytest.mark.parametrize(("target", "url"), [
    ("commands", "/devices?state=&compliant=&label=&profileId=&userName=&space="),
    ("commands", "/devices?state=LOST&compliant=true&pageSize=500"),
    ("enroll", "/enrollment-profiles?space=&pageToken="),
    ("enroll", "/users?prefix="),
    ("policy", "/audit-log?principal=&space="),
])
def test_empty_filters_are_the_same_as_absent_ones(target, url, function_apps, firestore,
                                                   admin_headers):
    response = function_apps[target].test_client().get(url, headers=admin_headers)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("target", ["enroll", "policy", "commands"])
def test_documents_list_each_declared_parameter_with_its_type_and_enum(target, function_apps):
    document = document_of(function_apps[target])
    paths = document["paths"]
    for path in LISTS[target]:
        declared = query_parameters(paths[path]["get"])
        assert declared["pageSize"]["schema"] == {"type": "integer", "default":
                                                  DEFAULT_PAGE_SIZE, "minimum": 1}, path
        assert declared["pageToken"]["schema"]["type"] == "string", path
        assert declared["pageSize"]["description"] and declared["pageToken"]["description"]
    for method, path, operation in operations(document):
        for name, parameter in query_parameters(operation).items():
            assert parameter["required"] is False, (method, path, name)
            assert "null" not in str(parameter["schema"].get("type")), (method, path, name)
            if name == "space":
                assert parameter["schema"]["pattern"].startswith("^[a-z]"), (method, path)
    assert "unknown parameter" in document["info"]["description"]


def test_device_filters_are_documented_with_their_enums(function_apps):
    declared = query_parameters(document_of(function_apps["commands"])["paths"]["/devices"]["get"])
    assert set(declared) == {"space", "state", "compliant", "label", "profileId", "userName",
                             "serialNumber", "imei", "manufacturer", "model", "androidVersion",
                             "configId", "policyName", "enrollmentDecision",
                             "pageSize", "pageToken"}
    assert declared["state"]["schema"]["enum"] == list(DEVICE_STATES)
    assert declared["enrollmentDecision"]["schema"]["enum"] == ["ALLOWED", "REJECTED", "PENDING"]
    assert declared["compliant"]["schema"]["type"] == "boolean"
    assert all(declared[name]["description"] for name in declared)


def test_enrollment_queries_are_documented_with_their_enums(function_apps):
    paths = document_of(function_apps["enroll"])["paths"]
    profiles = query_parameters(paths["/enrollment-profiles"]["get"])
    assert set(profiles) == {"space", "status", "pageSize", "pageToken"}
    assert profiles["status"]["schema"]["enum"] == list(PROFILE_STATUSES)
    assert set(query_parameters(paths["/users"]["get"])) == {"space", "prefix", "pageSize",
                                                              "pageToken"}
    rules = query_parameters(paths["/enrollment-rules"]["get"])
    assert rules["space"]["schema"]["default"] == "global"
    assert query_parameters(paths["/enrollment-profiles/{profile_id}"]["get"]) == {}


def test_policy_queries_are_documented(function_apps):
    paths = document_of(function_apps["policy"])["paths"]
    assert set(query_parameters(paths["/audit-log"]["get"])) == {"space", "principal",
                                                                 "pageSize", "pageToken"}
    for path in ("/cosu-configs/{config_id}", "/apps/{package_name}"):
        assert set(query_parameters(paths[path]["get"])) == {"space"}, path
        assert set(query_parameters(paths[path]["delete"])) == {"space", "validateOnly"}, path
        assert query_parameters(paths[path]["patch"])["validateOnly"]["schema"]["type"] == (
            "boolean")
    assert set(query_parameters(paths["/apps/{package_name}"]["patch"])) == {"space",
                                                                             "validateOnly"}
    assert set(query_parameters(paths["/cosu-configs/{config_id}"]["patch"])) == {
        "space", "validateOnly", "strict"}
    for path in ("/apps", "/wifi-configs", "/vpn-configs"):
        assert set(query_parameters(paths[path]["post"])) == {"validateOnly"}, path
    assert set(query_parameters(paths["/cosu-configs"]["post"])) == {"validateOnly", "strict"}
    assert query_parameters(paths["/spaces"]["get"]) == {}
