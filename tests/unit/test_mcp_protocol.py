"""JSON-RPC and MCP handling without HTTP: each malformed message gets the JSON-RPC error and the
HTTP status Streamable HTTP gives it, and the version header is checked for every message."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.mcp import protocol
from shared.mcp.json_schema import _ecma

INFO = protocol.ServerInfo(name="s", version="1", title="S", instructions="use it")
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


def call_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name != "echo":
        raise protocol.ProtocolError(protocol.INVALID_PARAMS, f"Unknown tool: {name}")
    return {"content": [], "structuredContent": arguments, "isError": False}


def handle(message: Any, header: str | None = None) -> protocol.Exchange:
    return protocol.handle(message, header, INFO, lambda: [{"name": "echo"}], call_tool)


@pytest.mark.parametrize("message, echoed", [
    ({"id": 3, "method": "ping"}, 3),
    ({"jsonrpc": "1.0", "id": "a", "method": "ping"}, "a"),
    ({"jsonrpc": "2.0", "id": 4}, 4),
    ({"jsonrpc": "2.0", "id": 5, "method": 5}, 5),
    ({"jsonrpc": "2.0", "id": 1.0, "method": "ping"}, None),
])
def test_an_invalid_request_answers_with_its_id_when_readable(message, echoed):
    exchange = handle(message)
    assert exchange.status == 400
    assert exchange.body["id"] == echoed and exchange.body["error"]["code"] == -32600


def test_params_not_an_object_is_a_malformed_message():
    exchange = handle({**PING, "params": [1]})
    assert (exchange.status, exchange.body["error"]["code"], exchange.body["id"]) == (400,
                                                                                      -32602, 1)


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 1, "result": {}},
    PING, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
])
def test_an_unsupported_version_header_is_refused_whatever_the_message(message):
    exchange = handle(message, "2026-07-28")
    assert exchange.status == 400
    assert exchange.body["error"]["code"] == protocol.UNSUPPORTED_PROTOCOL_VERSION
    assert exchange.body["error"]["data"] == {"supported": list(protocol.PROTOCOL_VERSIONS),
                                              "requested": "2026-07-28"}


def test_initialize_and_discover_are_answered_whatever_the_header():
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2026-07-28"}}
    assert handle(initialize, "2026-07-28").body["result"]["protocolVersion"] == "2025-11-25"
    discover = handle({"jsonrpc": "2.0", "id": 2, "method": "server/discover"}, "2026-07-28")
    assert (discover.status, discover.body["error"]["code"]) == (200, -32601)


@pytest.mark.parametrize("content_type, accept, status", [
    ("application/json", None, None),
    ("application/json; charset=utf-8", "application/json, text/event-stream", None),
    ("APPLICATION/JSON", "*/*", None),
    ("application/json", "", None),
    ("application/json", "text/event-stream", 406),
    ("application/json", "text/html, application/xml", 406),
    ("text/plain", "application/json", 415),
    (None, None, 415),
    ("application/jsonx", None, 415),
])
def test_content_type_and_accept(content_type, accept, status):
    refused = protocol.refuse_transport(content_type, accept)
    assert (refused.status if refused else None) == status
    if refused:
        assert refused.body["error"]["code"] == -32600


@given(st.from_regex(r"[a-z\\]{0,6}", fullmatch=True))
def test_python_anchors_become_ecma_anchors_and_nothing_else_changes(text):
    pattern = rf"\A{re.escape(text)}\Z"
    converted = _ecma(pattern)
    assert converted == f"^{re.escape(text)}$"
    assert re.fullmatch(converted, text)


def test_an_escaped_backslash_before_z_is_not_an_anchor():
    assert _ecma(r"^a\\Z$") == r"^a\\Z$"
    assert _ecma(r"^a\\\Z") == r"^a\\$"
