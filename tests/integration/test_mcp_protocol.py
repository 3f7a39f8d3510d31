"""The MCP endpoint as a hostile or sloppy client meets it: malformed JSON-RPC gets JSON-RPC
errors at the status Streamable HTTP gives them (never a 500, never a framework's HTML), versions
are negotiated as the 2025 revisions say, credentials come first, tool schemas are real JSON
Schemas, any instance answers any request, and the cold start stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import ClientSession
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from shared.http.requests import MAX_BODY_BYTES, MAX_JSON_DEPTH
from shared.mcp.protocol import PROTOCOL_VERSIONS
from tests.conftest import ROOT, token_for

ADMIN = "admin@example.com"
JSON_TYPE = {"Content-Type": "application/json"}
NEWEST = PROTOCOL_VERSIONS[0]
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@pytest.fixture
def mcp(function_apps: dict[str, Any], firestore: Any) -> Any:
    """The function as functions-framework serves it."""
    return function_apps["mcp"].test_client()


def post(client: Any, body: Any, headers: dict[str, str] | None = None,
         token: str | None = ADMIN) -> Any:
    """POST one body (JSON data, or raw bytes) to the MCP endpoint."""
    sent = {**JSON_TYPE, **({"Authorization": f"Bearer {token_for(token)}"} if token else {}),
            **(headers or {})}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/", data=data, headers=sent)


def rpc_error(response: Any, status: int, code: int) -> dict[str, Any]:
    """The JSON-RPC error of an answer, checked to be one with this HTTP status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    body = response.get_json()
    assert body["jsonrpc"] == "2.0" and set(body) == {"jsonrpc", "id", "error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return dict(body)


# --- malformed JSON-RPC -----------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"{not json", b"", b"   \n", b'{"jsonrpc": "2.0", "id": 1,',
                                 b"\xff\xfe{}", b'{"jsonrpc": "2.0", "id": 1, "method": "p\xe9"}',
                                 b'{"jsonrpc": "2.0", "id": NaN, "method": "ping"}'],
                         ids=["invalid", "empty", "blank", "truncated", "utf16-bom",
                              "latin1", "nan"])
def test_a_body_that_is_not_json_is_a_parse_error(mcp, raw):
    answer = rpc_error(post(mcp, raw), 400, -32700)
    assert answer["id"] is None


def test_json_nested_deeper_than_the_limit_is_refused_without_recursion(mcp):
    deep = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": ' + (
        b'{"a": ' * 5000) + b"1" + b"}" * 5000 + b"}"
    rpc_error(post(mcp, deep), 400, -32700)
    nested: Any = 1
    for _ in range(MAX_JSON_DEPTH + 1):
        nested = [nested]
    rpc_error(post(mcp, {**PING, "params": {"x": nested}}), 400, -32700)


def test_a_body_over_the_size_limit_is_413_with_a_json_rpc_error(mcp):
    big = {**PING, "params": {"pad": "x" * MAX_BODY_BYTES}}
    answer = rpc_error(post(mcp, big), 413, -32600)
    assert str(MAX_BODY_BYTES) in answer["error"]["message"]


@pytest.mark.parametrize("body, echoed", [
    ([PING, PING], None),
    ([], None),
    ("ping", None),
    (42, None),
    (None, None),
    ({"id": 1, "method": "ping"}, 1),
    ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, 1),
    ({"jsonrpc": 2.0, "id": "a", "method": "ping"}, "a"),
    ({"jsonrpc": "2.0", "id": 1}, 1),
    ({"jsonrpc": "2.0", "id": 1, "method": 7}, 1),
    ({"jsonrpc": "2.0", "id": 1, "method": None}, 1),
    ({"jsonrpc": "2.0", "method": ["ping"]}, None),
    ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, None),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
    ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
    ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
    ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, None),
], ids=["batch", "empty-batch", "string", "number", "null", "no-jsonrpc", "jsonrpc-1.0",
        "jsonrpc-number", "no-method", "method-int", "method-null", "notification-method-list",
        "id-object", "id-float", "id-bool", "id-null", "id-array"])
def test_a_message_that_is_not_one_json_rpc_request_is_an_invalid_request(mcp, body, echoed):
    answer = rpc_error(post(mcp, body), 400, -32600)
    assert answer["id"] == echoed


@pytest.mark.parametrize("params", ["x", [1, 2], 3, True])
def test_params_that_are_not_an_object_are_invalid_params(mcp, params):
    answer = rpc_error(post(mcp, {**PING, "id": "p", "params": params}), 400, -32602)
    assert answer["id"] == "p"


def test_an_unknown_method_is_method_not_found_in_a_200(mcp):
    for method in ("resources/list", "prompts/get", "server/discover", "", "tools/List"):
        answer = rpc_error(post(mcp, {**PING, "id": 9, "method": method}), 200, -32601)
        assert answer["id"] == 9


@pytest.mark.parametrize("params", [
    {"name": "no_such_tool", "arguments": {}},
    {"name": "", "arguments": {}},
    {"name": 5},
    {},
    {"name": "list_devices", "arguments": [1]},
    {"name": "list_devices", "arguments": "parent=enterprises/x"},
    {"name": "list_devices", "arguments": 3},
], ids=["unknown-tool", "empty-name", "name-int", "no-name", "arguments-list",
        "arguments-string", "arguments-int"])
def test_a_tools_call_naming_no_tool_or_without_object_arguments_is_invalid_params(mcp, params):
    answer = rpc_error(post(mcp, {**PING, "id": "c", "method": "tools/call", "params": params}),
                       200, -32602)
    assert answer["id"] == "c"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml",
                                          None])
def test_a_body_that_is_not_declared_json_is_415(mcp, content_type):
    headers = {"Authorization": f"Bearer {token_for(ADMIN)}"}
    if content_type:
        headers["Content-Type"] = content_type
    response = mcp.post("/", data=json.dumps(PING).encode(), headers=headers)
    rpc_error(response, 415, -32600)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON"])
def test_json_content_types_with_parameters_or_any_case_are_accepted(mcp, content_type):
    response = post(mcp, PING, {"Content-Type": content_type})
    assert response.status_code == 200 and response.get_json()["result"] == {}


def test_a_client_that_accepts_no_json_is_406_and_one_that_says_nothing_is_served(mcp):
    for accept in ("text/event-stream", "text/html", "application/xml"):
        rpc_error(post(mcp, PING, {"Accept": accept}), 406, -32600)
    for accept in ("application/json, text/event-stream", "*/*", "application/*;q=0.5", None):
        response = post(mcp, PING, {"Accept": accept} if accept else {})
        assert response.status_code == 200, (accept, response.get_data(as_text=True))


# --- notifications, responses, other methods --------------------------------------------

@pytest.mark.parametrize("body", [
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
    {"jsonrpc": "2.0", "method": "notifications/whatever", "params": "not checked"},
    {"jsonrpc": "2.0", "id": 1, "result": {}},
    {"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "no"}},
], ids=["initialized", "cancelled", "unknown", "result", "error"])
def test_notifications_and_client_responses_are_202_without_a_body(mcp, body):
    response = post(mcp, body)
    assert response.status_code == 202 and response.get_data() == b""


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "PATCH"])
def test_other_http_methods_are_405_allowing_post(mcp, method):
    response = mcp.open("/", method=method, headers={
        "Authorization": f"Bearer {token_for(ADMIN)}", "Accept": "text/event-stream"})
    assert response.status_code == 405, response.get_data(as_text=True)
    assert response.headers["Allow"] == "POST"
    assert response.get_json()["error"]["status"] == "METHOD_NOT_ALLOWED"


# --- versions ---------------------------------------------------------------------------

def initialize(version: Any) -> dict[str, Any]:
    """An initialize request proposing `version`."""
    return {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"}}}


@pytest.mark.parametrize("version", PROTOCOL_VERSIONS)
def test_initialize_echoes_each_supported_version(mcp, version):
    answer = post(mcp, initialize(version)).get_json()["result"]
    assert answer["protocolVersion"] == version
    assert answer["capabilities"]["tools"] == {"listChanged": False}
    assert answer["serverInfo"]["name"] == "amapi-cosu"


@pytest.mark.parametrize("version", ["2024-11-05", "2026-07-28", "1999-01-01", "", 7, None])
def test_initialize_with_a_version_we_do_not_speak_gets_our_newest(mcp, version):
    # Whatever header such a client sends, initialize is how it learns what we speak.
    response = post(mcp, initialize(version), {"MCP-Protocol-Version": "2026-07-28"})
    assert response.status_code == 200
    assert response.get_json()["result"]["protocolVersion"] == NEWEST


def test_an_unsupported_protocol_version_header_is_400_naming_what_we_speak(mcp):
    for body in (PING, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                 {"jsonrpc": "2.0", "method": "notifications/initialized"},
                 {"jsonrpc": "2.0", "id": 1, "result": {}}):
        for version in ("2024-11-05", "2026-07-28", "garbage", ""):
            answer = rpc_error(post(mcp, body, {"MCP-Protocol-Version": version}), 400, -32022)
            assert answer["error"]["data"] == {"supported": list(PROTOCOL_VERSIONS),
                                               "requested": version}


def test_each_supported_header_and_a_missing_one_are_accepted(mcp):
    for version in PROTOCOL_VERSIONS:
        assert post(mcp, PING, {"MCP-Protocol-Version": version}).status_code == 200
    assert post(mcp, PING).get_json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


# --- authentication comes first ---------------------------------------------------------

@pytest.mark.parametrize("body", [PING, b"{not json", [PING]])
def test_no_token_is_401_in_the_api_envelope_before_any_json_rpc_is_read(mcp, body):
    response = post(mcp, body, token=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["status"] == "UNAUTHENTICATED"
    bad = post(mcp, body, {"Authorization": "Bearer nope"}, token=None)
    assert bad.status_code == 401 and "WWW-Authenticate" in bad.headers


@pytest.mark.parametrize("body", [PING, b"{not json"])
def test_a_principal_without_any_role_is_403_before_any_json_rpc_is_read(mcp, body):
    response = post(mcp, body, token="nobody-at-all@example.com")
    assert response.status_code == 403
    assert response.get_json()["error"]["status"] == "PERMISSION_DENIED"


# --- arbitrary input never reaches a 5xx ------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
MESSAGE_KEYS = st.sampled_from(["jsonrpc", "id", "method", "params", "result", "error"])
METHODS = st.sampled_from(["initialize", "ping", "tools/list", "tools/call", "server/discover",
                           "notifications/initialized"]) | st.text(max_size=12)
MESSAGES = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0") | JSON_VALUES},
    optional={"id": st.integers() | st.text(max_size=8) | JSON_VALUES,
              "method": METHODS | JSON_VALUES, "params": JSON_VALUES,
              "result": JSON_VALUES}) | st.dictionaries(MESSAGE_KEYS, JSON_VALUES) | JSON_VALUES


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(message=MESSAGES)
def test_arbitrary_json_never_gets_a_5xx(mcp, message):
    response = post(mcp, message)
    assert response.status_code in (200, 202, 400), response.get_data(as_text=True)
    if response.status_code == 202:
        assert response.get_data() == b""
    else:
        body = response.get_json()
        assert body["jsonrpc"] == "2.0" and ("result" in body) != ("error" in body), body


ARGUMENT_VALUES = JSON_VALUES | st.sampled_from(
    ["enterprises/x", "spaces/global", "spaces/nowhere", "global", "LOCK", "WIPE", "", "a" * 300,
     "\u0000", "..", "../x", "a/b", "__x__", ".", "projects/x/topics/y", "\ud7ff" * 3, 0, -1,
     101, 2**63, 1e308, {}, []])


def value_for(spec: dict[str, Any]) -> Any:
    """Values of a property: mostly of its declared type, at its edges, or anything at all."""
    kinds = {"string": st.text(max_size=40) | st.from_regex(spec["pattern"], fullmatch=True)
             if "pattern" in spec else st.text(max_size=40),
             "integer": st.integers(-3, 2**64), "boolean": st.booleans(),
             "array": st.lists(ARGUMENT_VALUES | st.text(max_size=10), max_size=3),
             "object": st.dictionaries(st.text(max_size=10), ARGUMENT_VALUES, max_size=3)}
    typed = kinds.get(spec.get("type") if isinstance(spec.get("type"), str) else "", st.nothing())
    enum = st.sampled_from(spec["enum"]) if spec.get("enum") else st.nothing()
    return typed | enum | ARGUMENT_VALUES


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_arguments_to_every_real_tool_never_fail_as_the_service(mcp, amapi_emulator,
                                                                          data):
    tools = listed_tools(mcp)
    name = data.draw(st.sampled_from(sorted(tools)))
    properties = tools[name]["inputSchema"]["properties"]
    arguments = {}
    for key in data.draw(st.sets(st.sampled_from(sorted(properties)), max_size=len(properties))):
        arguments[key] = data.draw(value_for(properties[key]), label=key)
    if data.draw(st.booleans()):
        arguments.update(data.draw(st.dictionaries(st.text(max_size=8), ARGUMENT_VALUES,
                                                   max_size=2)))
    response = post(mcp, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": name, "arguments": arguments}})
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()["result"]
    if result["isError"]:
        assert result["structuredContent"]["error"]["code"] < 500, (name, arguments, result)


@pytest.mark.parametrize("name, arguments", [
    ("get_enrollment_profile", {"profileId": "a/b"}),
    ("delete_enrollment_profile", {"profileId": "/"}),
    ("get_cosu_config", {"configId": ".."}),
    ("update_cosu_config", {"configId": "__x__", "changes": {}}),
    ("get_rollout", {"rolloutId": "x/y"}),
    ("get_device", {"deviceId": "enterprises/LC00tests/devices/a/b"}),
    ("wipe_device", {"deviceId": "..", "reason": "x"}),
])
def test_ids_that_cannot_name_a_stored_resource_are_not_found(mcp, name, arguments):
    response = post(mcp, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": name, "arguments": arguments}})
    result = response.get_json()["result"]
    assert result["isError"] and result["structuredContent"]["error"]["code"] == 404, result


def listed_tools(mcp: Any) -> dict[str, dict[str, Any]]:
    """tools/list's entries, by name."""
    answer = post(mcp, {**PING, "method": "tools/list"}).get_json()
    return {tool["name"]: tool for tool in answer["result"]["tools"]}


# --- tool input schemas -----------------------------------------------------------------

def test_every_input_schema_is_a_self_contained_draft_2020_12_schema(mcp):
    from jsonschema import Draft202012Validator

    for name, tool in listed_tools(mcp).items():
        schema = tool["inputSchema"]
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object", name
        assert "$ref" not in json.dumps(schema), name
        # Nothing the input does not take (apispec's output-only markers, OpenAPI-only words).
        text = json.dumps(schema)
        for word in ('"readOnly"', '"nullable"', '"x-', '"discriminator"'):
            assert word not in text, (name, word)


# Arguments each tool's schema and its marshmallow schema must judge alike: (tool, arguments,
# valid). Patterns are ECMA-262 in JSON Schema: `jsonschema_rs` checks them so.
SAMPLES = [
    ("list_devices", {"parent": "enterprises/LC01"}, True),
    ("list_devices", {"parent": "spaces/global", "pageSize": 100, "pageToken": "t"}, True),
    ("list_devices", {"parent": "enterprises/LC01\n"}, False),
    ("list_devices", {"parent": "enterprises/"}, False),
    ("list_devices", {"parent": "spaces/Global"}, False),
    ("list_devices", {}, False),
    ("list_devices", {"parent": "enterprises/x", "pageSize": -1}, False),
    ("list_devices", {"parent": "enterprises/x", "pageSize": "10"}, None),
    ("list_devices", {"parent": "enterprises/x", "extra": 1}, False),
    ("list_devices", {"parent": "enterprises/x", "pageToken": "t" * 2001}, False),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 30}, True),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 31}, False),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 0}, False),
    ("create_enrollment_profile", {"name": "", "userName": "u", "validityDays": 3}, False),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 3,
                                   "space": "Shop"}, False),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 3,
                                   "space": "shop-1"}, True),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 3,
                                   "customAttributes": [{"name": "a", "value": "b"}]}, True),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 3,
                                   "customAttributes": [{"name": "a"}]}, False),
    ("create_enrollment_profile", {"name": "n", "userName": "u", "validityDays": 3,
                                   "customAttributes": [{"name": "a", "value": "b",
                                                         "x": 1}]}, False),
    ("update_cosu_config", {"configId": "c", "changes": {"a": None}}, True),
    ("update_cosu_config", {"configId": "c", "changes": []}, False),
    ("update_cosu_config", {"configId": "", "changes": {}}, False),
]


@pytest.mark.parametrize("name, arguments, valid", SAMPLES)
def test_input_schemas_agree_with_the_marshmallow_schemas(mcp, name, arguments, valid):
    import jsonschema_rs
    from marshmallow import ValidationError

    from shared.mcp.server import tools

    schema = listed_tools(mcp)[name]["inputSchema"]
    by_json_schema = jsonschema_rs.validator_for(schema).is_valid(arguments)
    try:
        tools()[name].input().load(arguments)
        by_marshmallow = True
    except ValidationError:
        by_marshmallow = False
    if valid is None:  # marshmallow's leniency (a numeric string): the JSON Schema is stricter
        assert not by_json_schema
    else:
        assert (by_json_schema, by_marshmallow) == (valid, valid), (name, arguments)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parent=st.text(max_size=30) | st.from_regex(r"(enterprises|spaces)/[a-z0-9_-]{0,8}\n?",
                                                    fullmatch=True),
       size=st.integers(-5, 200))
def test_a_pattern_means_the_same_in_both_schemas(parent, size):
    import jsonschema_rs
    from marshmallow import ValidationError

    from shared.mcp.server import tools

    tool = tools()["list_devices"]
    schema = tool.as_json()["inputSchema"]
    arguments = {"parent": parent, "pageSize": size}
    try:
        tool.input().load(arguments)
        by_marshmallow = True
    except ValidationError:
        by_marshmallow = False
    assert jsonschema_rs.validator_for(schema).is_valid(arguments) == by_marshmallow, arguments


# --- the official SDK client ------------------------------------------------------------

class _Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next of several gateways in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.sent: list[int] = []
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[len(self.sent) % len(self.ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def two_gateways(gcp_emulators: Any, firestore: Any) -> Iterator[list[int]]:
    """Two independent gateways, as two instances of every function would be."""
    from werkzeug.serving import make_server

    from devstack.gateway import build_gateway

    servers = [make_server("127.0.0.1", 0, build_gateway(), threaded=True) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield [server.server_port for server in servers]
    for server in servers:
        server.shutdown()


def test_two_instances_answer_alternating_requests_of_one_sdk_session(two_gateways):
    transport = _Alternating(two_gateways)

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token_for(ADMIN)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60, transport=transport) as http, \
                streamable_http_client(f"http://127.0.0.1:{two_gateways[0]}/mcp",
                                       http_client=http) as streams, \
                ClientSession(streams[0], streams[1]) as session:
            initialized = await session.initialize()
            listed = [await session.list_tools() for _ in range(3)]
            await session.send_ping()
            called = await session.call_tool("list_enrollment_profiles", {})
            return initialized, listed, called

    initialized, listed, called = anyio.run(run)
    assert initialized.protocol_version == NEWEST
    assert all(len(page.tools) == len(listed[0].tools) > 10 for page in listed)
    assert not called.is_error, called
    assert set(transport.sent) == set(two_gateways) and len(transport.sent) >= 6


def test_the_sdk_client_in_auto_mode_falls_back_from_discover_to_the_handshake(live_gateway,
                                                                              firestore):
    seen: list[dict[str, Any]] = []

    async def record(request: httpx2.Request) -> None:
        body = json.loads(request.content) if request.content else None
        seen.append({"method": request.method, "version": request.headers.get(
            "mcp-protocol-version"), "rpc": body.get("method") if isinstance(body, dict)
            else None})

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token_for(ADMIN)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60,
                                      event_hooks={"request": [record]}) as http, \
                Client(streamable_http_client(f"{live_gateway}/mcp", http_client=http),
                       mode="auto") as client:
            listed = await client.list_tools()
            called = await client.call_tool("list_enrollment_profiles", {})
            return client.session.protocol_version, listed, called

    version, listed, called = anyio.run(run)
    assert version == NEWEST
    assert len(listed.tools) > 10 and not called.is_error
    rpcs = [entry["rpc"] for entry in seen]
    assert rpcs[:2] == ["server/discover", "initialize"], seen
    # Once negotiated, every message carries the version; no GET stream, no DELETE.
    assert all(entry["version"] == NEWEST for entry in seen[2:]), seen
    assert {entry["method"] for entry in seen} == {"POST"}


@pytest.mark.parametrize("version", PROTOCOL_VERSIONS)
def test_the_sdk_session_speaks_each_supported_version(live_gateway, firestore, version,
                                                       monkeypatch):
    from mcp.client import session as client_session

    monkeypatch.setattr(client_session, "LATEST_HANDSHAKE_VERSION", version, raising=False)

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token_for(ADMIN)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                streamable_http_client(f"{live_gateway}/mcp", http_client=http) as streams, \
                ClientSession(streams[0], streams[1]) as session:
            initialized = await session.initialize()
            return initialized, await session.list_tools()

    initialized, listed = anyio.run(run)
    assert initialized.protocol_version == version
    assert len(listed.tools) > 10


def test_raw_http_through_the_gateway_gets_json_rpc_errors_not_html(live_gateway):
    url = f"{live_gateway}/mcp"
    auth = {"Authorization": f"Bearer {token_for(ADMIN)}"}
    with httpx2.Client(timeout=30) as http:
        cases = [
            (http.post(url, content=b"{oops", headers={**auth, **JSON_TYPE}), 400),
            (http.post(url, content=b"\xc3\x28", headers={**auth, **JSON_TYPE}), 400),
            (http.post(url, json=[PING], headers=auth), 400),
            (http.post(url, json=PING, headers={**auth, "MCP-Protocol-Version": "2099-01-01"}),
             400),
            (http.post(url, content=b"ping", headers={**auth, "Content-Type": "text/plain"}),
             415),
            (http.post(url, content=b"{" * 100000, headers={**auth, **JSON_TYPE}), 400),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["jsonrpc"] == "2.0"
        for method in ("GET", "DELETE"):
            response = http.request(method, url, headers={**auth,
                                                          "Accept": "text/event-stream"})
            assert response.status_code == 405 and response.headers["Allow"] == "POST"
        notified = http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                             headers=auth)
        assert notified.status_code == 202 and notified.content == b""
        anonymous = http.post(url, json=PING)
        assert anonymous.status_code == 401 and "www-authenticate" in anonymous.headers


# --- cold start -------------------------------------------------------------------------

HEAVY = ("shared.mcp.device_tools", "shared.mcp.enrollment_tools", "shared.mcp.policy_tools",
         "shared.mcp.json_schema", "apispec", "mcp", "mcp_types", "starlette", "uvicorn",
         "hypercorn", "sse_starlette", "anyio", "pydantic")


def imported_by(source: str) -> set[str]:
    """The modules loading a function's source as functions-framework does leaves imported."""
    script = (
        "import json, sys\n"
        "from functions_framework import create_app\n"
        f"create_app({source.split('/')[1]!r}, {str(ROOT / source)!r}, 'http')\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_mcp_function_cold_starts_without_the_tools_apispec_or_an_asgi_server():
    loaded = imported_by("functions/mcp/main.py")
    assert "main" in loaded and "shared.http.router" in loaded
    found = sorted(name for name in loaded
                   if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY))
    assert found == [], found


@pytest.mark.parametrize("source", ["functions/enroll/main.py", "functions/policy/main.py",
                                    "functions/commands/main.py"])
def test_the_other_functions_do_not_import_the_mcp_server(source):
    loaded = imported_by(source)
    assert not [name for name in loaded if name.startswith("shared.mcp") or name == "mcp"
                or name.startswith(("mcp.", "starlette", "uvicorn"))]
