"""The Model Context Protocol over Streamable HTTP, stateless, answering in JSON (pure).

One POST carries one JSON-RPC message. A request gets its response in the body (200, or 400
when the message itself is malformed or names a version header we do not speak); a notification
or a response gets 202 and no body. A body not declared JSON is a 415, a client accepting no JSON
a 406, a body over the size limit a 413 — each with a JSON-RPC error, never a framework's page.
Batches are refused (400): the 2025-06-18 revision removed them and no SDK client sends one.
There are no sessions (no `Mcp-Session-Id`) and no server-initiated stream (GET is 405), so any
instance answers any request. Versions are negotiated by `initialize` as the 2025 revisions of
the protocol define; `server/discover` (the 2026 stateless revision's probe) is answered "method
not found", which tells a client that speaks both to use the handshake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Newest first: the answer to a client proposing a version we do not speak.
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
# The SDK's code (and its `{supported, requested}` data) for a version header it does not
# serve: clients that speak several revisions read it to pick another.
UNSUPPORTED_PROTOCOL_VERSION = -32022

JSON = "application/json"
# Requests that may carry any version header: they are how a client learns ours.
_NEGOTIATING = ("initialize", "server/discover")


class ProtocolError(Exception):
    """A JSON-RPC error answering a request."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


@dataclass
class Exchange:
    """What answers one POST: an HTTP status, a JSON body (None: empty) and headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerInfo:
    """How the server introduces itself in `initialize`."""

    name: str
    version: str
    title: str
    instructions: str


# tools/list -> its result; tools/call (name, arguments) -> its result.
ListTools = Callable[[], list[dict[str, Any]]]
CallTool = Callable[[str, dict[str, Any]], dict[str, Any]]


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def _result(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _valid_id(value: Any) -> bool:
    return (isinstance(value, str)
            or (isinstance(value, int) and not isinstance(value, bool)))


def _echoed_id(message: dict[str, Any]) -> Any:
    """The id to answer a malformed request with: its own when readable (JSON-RPC 2.0 §5)."""
    request_id = message.get("id")
    return request_id if _valid_id(request_id) else None


def negotiate(requested: Any) -> str:
    """The version to speak: the client's when we speak it, else our newest."""
    return requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]


def parse_error(reason: str) -> Exchange:
    """The answer to a body that is not JSON (or that JSON we refuse to decode)."""
    return Exchange(400, _error(None, PARSE_ERROR, f"Parse error: {reason}"))


def too_large(limit: int) -> Exchange:
    """The answer to a body over `limit` bytes."""
    return Exchange(413, _error(None, INVALID_REQUEST, (
        f"Invalid Request: the body is over {limit} bytes")))


def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def refuse_transport(content_type: str | None, accept: str | None) -> Exchange | None:
    """415 for a body not declared JSON, 406 for a client that accepts no JSON; else None.

    A missing Accept accepts anything (RFC 9110 §12.5.1): only one that lists media types and
    leaves out JSON is refused.
    """
    if _media_type(content_type or "") != JSON:
        return Exchange(415, _error(None, INVALID_REQUEST, (
            "Unsupported Media Type: Content-Type must be application/json")))
    if accept is not None and accept.strip():
        accepted = {_media_type(part) for part in accept.split(",")}
        if not accepted & {JSON, "application/*", "*/*"}:
            return Exchange(406, _error(None, INVALID_REQUEST, (
                "Not Acceptable: the client must accept application/json")))
    return None


def _unsupported_version(request_id: Any, header_version: str) -> Exchange:
    return Exchange(400, _error(request_id, UNSUPPORTED_PROTOCOL_VERSION, (
        f"Bad Request: unsupported MCP-Protocol-Version {header_version!r}"),
        {"supported": list(PROTOCOL_VERSIONS), "requested": header_version}))


def handle(message: Any, header_version: str | None, info: ServerInfo, list_tools: ListTools,
           call_tool: CallTool) -> Exchange:
    """Answer one POSTed JSON-RPC message (the body, decoded; `header_version`: its
    MCP-Protocol-Version header).

    Statuses as the SDK's server gives them: a body that is not one well-formed message is a
    400 (so is an unsupported version header, whatever the message); a request's own error
    (unknown method or tool, bad arguments) is its JSON-RPC answer, in a 200.
    """
    if isinstance(message, list):
        return Exchange(400, _error(None, INVALID_REQUEST,
                                    "Invalid Request: send one JSON-RPC message per POST "
                                    "(batches are not supported)"))
    if not isinstance(message, dict):
        return Exchange(400, _error(None, INVALID_REQUEST,
                                    "Invalid Request: the body must be a JSON-RPC object"))
    if message.get("jsonrpc") != "2.0":
        return Exchange(400, _error(_echoed_id(message), INVALID_REQUEST,
                                    'Invalid Request: "jsonrpc" must be "2.0"'))
    method = message.get("method")
    is_request = "id" in message and method is not None
    if (header_version is not None and header_version not in PROTOCOL_VERSIONS
            and not (is_request and method in _NEGOTIATING)):
        return _unsupported_version(_echoed_id(message), header_version)
    if method is None:
        if "id" in message and ("result" in message or "error" in message):
            return Exchange(202)  # a response to a request this server never sends
        return Exchange(400, _error(_echoed_id(message), INVALID_REQUEST,
                                    "Invalid Request: no method"))
    if not isinstance(method, str):
        return Exchange(400, _error(_echoed_id(message), INVALID_REQUEST,
                                    "Invalid Request: method must be a string"))
    if "id" not in message:
        return Exchange(202)  # notifications (initialized, cancelled…) need nothing stateless
    request_id = message["id"]
    if not _valid_id(request_id):
        return Exchange(400, _error(None, INVALID_REQUEST,
                                    "Invalid Request: id must be a string or an integer"))
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return Exchange(400, _error(request_id, INVALID_PARAMS,
                                    "Invalid params: params must be an object"))
    try:
        return Exchange(200, _result(request_id, _answer(method, params, info, list_tools,
                                                         call_tool)))
    except ProtocolError as exc:
        return Exchange(200, _error(request_id, exc.code, exc.message, exc.data))


def _answer(method: str, params: dict[str, Any], info: ServerInfo, list_tools: ListTools,
            call_tool: CallTool) -> dict[str, Any]:
    if method == "initialize":
        return {"protocolVersion": negotiate(params.get("protocolVersion")),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": info.name, "title": info.title,
                               "version": info.version},
                "instructions": info.instructions}
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": list_tools()}
    if method == "tools/call":
        name = params.get("name")
        arguments = params.get("arguments", {})
        if not isinstance(name, str) or not name:
            raise ProtocolError(INVALID_PARAMS, "Invalid params: name must name a tool")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise ProtocolError(INVALID_PARAMS, "Invalid params: arguments must be an object")
        return call_tool(name, arguments)
    raise ProtocolError(METHOD_NOT_FOUND, f"Method not found: {method}")
