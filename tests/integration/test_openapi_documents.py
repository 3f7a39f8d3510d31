"""The OpenAPI documents as client generators read them: names, tags, headers, errors, servers."""

import re

import jsonschema
import pytest
from marshmallow import ValidationError

from shared.devices.schemas import COMMAND_TYPES, CommandRequestSchema
from shared.http.openapi import build_document
from shared.http.router import Reply, Router

HTTP_FUNCTIONS = ["enroll", "expire_tokens", "policy", "commands", "reconcile_commands", "mcp"]
CAMEL_CASE = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*\Z")
VERBS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def documents(function_apps):
    return {target: function_apps[target].test_client().get("/openapi.json").get_json()
            for target in HTTP_FUNCTIONS}


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in VERBS:
                yield method, path, operation


def by_id(documents):
    return {operation["operationId"]: (target, method, path, operation)
            for target, document in documents.items()
            for method, path, operation in operations(document)}


def test_operation_ids_are_unique_camel_case_verbs_across_every_function(documents):
    ids = [operation["operationId"] for document in documents.values()
           for _method, _path, operation in operations(document)]
    assert [i for i in ids if not CAMEL_CASE.match(i)] == []
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    found = by_id(documents)
    for expected, (target, method, path) in {
            "listDevices": ("commands", "get", "/devices"),
            "getDevice": ("commands", "get", "/devices/{device_id}"),
            "issueDeviceCommand": ("commands", "post", "/devices/{device_id}/commands"),
            "getDeviceCommand": ("commands", "get", "/devices/{device_id}/commands/{command_id}"),
            "createEnrollmentProfile": ("enroll", "post", "/enrollment-profiles"),
            "deleteEnrollmentProfile": ("enroll", "delete", "/enrollment-profiles/{profile_id}"),
            "getEnrollmentProfileQrPng": ("enroll", "get",
                                          "/enrollment-profiles/{profile_id}/qr.png"),
            "createUser": ("enroll", "post", "/users"),
            "replaceEnrollmentRules": ("enroll", "put", "/enrollment-rules"),
            "updateCosuConfig": ("policy", "patch", "/cosu-configs/{config_id}"),
            "deleteApp": ("policy", "delete", "/apps/{package_name}"),
            "listRollouts": ("policy", "get", "/rollouts"),
            "cancelRollout": ("policy", "post", "/rollouts/{rollout_id}:cancel"),
            "createRoleBinding": ("policy", "post", "/role-bindings"),
            "getPolicyHealth": ("policy", "get", "/healthz")}.items():
        assert found[expected][:3] == (target, method, path), expected


def test_every_operation_has_one_resource_tag(documents):
    tags = {}
    for method, path, operation in operations(documents["policy"]):
        assert len(operation["tags"]) == 1, (method, path)
        tags[(method, path)] = operation["tags"][0]
    every = {operation["tags"][0] for document in documents.values()
             for _m, _p, operation in operations(document)}
    assert {"devices", "commands", "enrollment-profiles", "users", "device-attributes", "apps",
            "cosu-configs", "wifi-configs", "vpn-configs", "rollouts", "spaces",
            "role-bindings", "audit-log", "enrollment-rules", "enterprise"} <= every
    found = by_id(documents)
    assert found["issueDeviceCommand"][3]["tags"] == ["commands"]
    assert found["getDevice"][3]["tags"] == ["devices"]
    assert found["cancelRollout"][3]["tags"] == ["rollouts"]
    assert found["getCosuConfigLint"][3]["tags"] == ["cosu-configs"]


def test_every_operation_declares_the_error_envelope(documents):
    for target, document in documents.items():
        components = document["components"]["responses"]
        for method, path, operation in operations(document):
            responses = operation["responses"]
            errors = {code for code in responses if not code.startswith("2")}
            assert "default" in errors and "400" in errors, (target, method, path)
            if operation["security"]:
                assert {"401", "403", "503"} <= errors, (target, method, path)
            for code in errors:
                name = responses[code]["$ref"].rpartition("/")[2]
                schema = components[name]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (target, code)
    assert "Retry-After" in documents["policy"]["components"]["responses"][
        "ResourceExhausted"]["headers"]


def test_servers_name_the_function_locally_and_in_production(documents):
    for target, document in documents.items():
        name = target.replace("_", "-")
        servers = document["servers"]
        # Relative first: tools that test a function where it is served find its paths.
        assert servers[0]["url"] == "/"
        local = servers[1]
        assert local["url"] == "http://127.0.0.1:{port}/{function}"
        assert local["variables"]["function"]["default"] == name
        assert servers[2]["variables"]["function"]["default"] == name


def header_names(operation):
    return {p["name"] for p in operation["parameters"] if p["in"] == "header"}


def test_concurrency_and_idempotency_headers_are_declared_where_honoured(documents):
    found = by_id(documents)
    for checked in ("updateCosuConfig", "deleteCosuConfig", "updateApp", "deleteWifiConfig",
                    "updateEnrollmentProfile", "deleteEnrollmentProfile",
                    "replaceEnrollmentRules"):
        assert "If-Match" in header_names(found[checked][3]), checked
    # A device and a role binding carry no etag: no If-Match to send.
    for unchecked in ("updateDevice", "deleteRoleBinding", "listDevices"):
        assert "If-Match" not in header_names(found[unchecked][3]), unchecked
    for idempotent in ("createEnrollmentProfile", "createUser", "createCosuConfig",
                       "issueDeviceCommand"):
        assert "Idempotency-Key" in header_names(found[idempotent][3]), idempotent
    assert "Idempotency-Key" not in header_names(found["cancelRollout"][3])
    responses = found["getCosuConfig"][3]["responses"]
    assert "ETag" in responses["200"]["headers"]
    created = found["createEnrollmentProfile"][3]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    assert "Location" in found["issueDeviceCommand"][3]["responses"]["202"]["headers"]
    assert "Location" in found["updateCosuConfig"][3]["responses"]["202"]["headers"]
    assert "headers" not in found["listDevices"][3]["responses"]["200"]


def test_query_parameters_are_declared_one_by_one(documents):
    found = by_id(documents)
    query = {p["name"] for p in found["listDevices"][3]["parameters"] if p["in"] == "query"}
    assert {"pageSize", "pageToken", "space", "state", "label", "userName"} <= query
    query = {p["name"] for p in found["createCosuConfig"][3]["parameters"]
             if p["in"] == "query"}
    assert {"validateOnly", "strict"} <= query


def test_qr_images_are_declared_as_images(documents):
    found = by_id(documents)
    for operation, media in (("getEnrollmentProfileQrPng", "image/png"),
                             ("getEnrollmentProfileQrSvg", "image/svg+xml")):
        content = found[operation][3]["responses"]["200"]["content"]
        assert content == {media: {"schema": {"type": "string", "format": "binary"}}}


def command_body_schema(document):
    """The command request as the document states it, refs resolvable by jsonschema."""
    return {**document["components"]["schemas"]["CommandRequest"],
            "components": document["components"]}


@pytest.mark.parametrize("body", [
    {"type": "LOCK"},
    {"type": "REBOOT", "params": {}},
    {"type": "CLEAR_APP_DATA", "params": {"packageNames": ["com.example.kiosk"]}},
    {"type": "CLEAR_APP_DATA", "params": {}},
    {"type": "CLEAR_APP_DATA", "params": {"packageNames": "com.example.kiosk"}},
    {"type": "RESET_PASSWORD", "params": {"newPassword": "1234"}},
    {"type": "RESET_PASSWORD", "params": {"newPassword": "1234",
                                          "resetPasswordFlags": ["LOCK_NOW"]}},
    {"type": "RESET_PASSWORD", "params": {"newPassword": "12"}},
    {"type": "WIPE", "reason": "stolen", "params": {"wipeDataFlags": ["WIPE_ESIMS"]}},
    {"type": "WIPE", "params": {}},
    {"type": "WIPE", "reason": "stolen", "params": {"wipeDataFlags": ["EVERYTHING"]}},
    {"type": "START_LOST_MODE", "params": {"lostMessage": "Call reception"}},
    {"type": "LOCK", "params": {"packageNames": ["com.example.kiosk"]}},
    {"type": "FLY"},
])
def test_command_params_are_typed_per_command_type_as_the_validator_checks_them(
        documents, body):
    document = documents["commands"]
    schema = command_body_schema(document)
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(COMMAND_TYPES)
    documented = jsonschema.Draft202012Validator(schema).is_valid(body)
    try:
        CommandRequestSchema().load(body)
        validated = True
    except ValidationError:
        validated = False
    assert documented == validated, body
    operation = by_id(documents)["issueDeviceCommand"][3]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CommandRequest"}


def test_a_route_that_cannot_be_named_apart_is_refused_until_it_names_itself():
    router = Router("amapi-cosu notes")
    router.add("GET", "/notes/<note_id>", lambda ctx: Reply({}), "One note")
    router.add("POST", "/notes/<note_id>:get", lambda ctx: Reply({}), "Fetch a note again")
    with pytest.raises(ValueError, match=r"Route\.operation_id"):
        build_document(router)
    named = Router("amapi-cosu notes")
    named.add("GET", "/notes/<note_id>", lambda ctx: Reply({}), "One note")
    named.add("POST", "/notes/<note_id>:get", lambda ctx: Reply({}), "Fetch a note again",
              operation_id="refetchNote")
    ids = {op["operationId"] for _m, _p, op in operations(build_document(named))}
    assert {"getNote", "refetchNote", "getNotesHealth"} <= ids
