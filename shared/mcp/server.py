"""The MCP endpoint: one POST, one JSON-RPC message, answered with the caller's roles.

The HTTP router has already authenticated the caller and loaded their roles; this module
decodes the message, runs the tool, turns any failure into a tool result carrying the API's
error envelope, and writes the audit entry of every call that changed something or was
refused.
"""

from __future__ import annotations

import functools
from typing import Any

from werkzeug.wrappers import Request

from shared import errors
from shared.access import roles
from shared.http.requests import MAX_BODY_BYTES, decode_json
from shared.http.router import Context, Reply, as_api_error, record_audit
from shared.mcp import protocol
from shared.mcp.tools import INSTRUCTIONS, Output, Tool, call, failure

SERVER = protocol.ServerInfo(name="amapi-cosu", title="amapi-cosu fleet", version="0.1.0",
                             instructions=INSTRUCTIONS)


@functools.cache
def tools() -> dict[str, Tool]:
    """Every tool, by name (loaded on the first request: the import stays light)."""
    from shared.mcp import device_tools, enrollment_tools, policy_tools

    found = [*device_tools.TOOLS, *enrollment_tools.TOOLS, *policy_tools.TOOLS]
    return {tool.name: tool for tool in found}


def _outcome(status: int) -> str:
    return "ALLOWED" if status < 400 else "DENIED" if status in (401, 403, 404) else "FAILED"


def _call_tool(ctx: Context, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    tool = tools().get(name)
    if tool is None:
        raise protocol.ProtocolError(protocol.INVALID_PARAMS, f"Unknown tool: {name}")
    principal = ctx.principal.email if ctx.principal else "anonymous"
    output: Output | None = None
    status = 200
    try:
        result, output = call(tool, principal, arguments)
    except Exception as exc:  # every failure is a tool result: agents read the envelope
        error = as_api_error(exc, f"tool {name}")
        status = error.http_status
        result = failure(error)
    acted = output is not None and not tool.hints.read_only
    refused = status >= 400 and (not tool.hints.read_only or status in (401, 403))
    if acted or refused:
        resource = (output.resource if output is not None and output.resource
                    else f"mcp:{name}")
        record_audit(principal, roles.current(), f"tools/call {name}", resource,
                     _outcome(status), status, "mcp")
    return result


def _decoded(request: Request) -> Any:
    """The body as JSON data, or the Exchange refusing it."""
    refused = protocol.refuse_transport(request.headers.get("Content-Type"),
                                        request.headers.get("Accept"))
    if refused is not None:
        return refused
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        return protocol.too_large(MAX_BODY_BYTES)
    try:
        message = decode_json(request)
    except errors.InvalidArgument as exc:
        # decode_json reads a body sent without a length before it can say it is too large.
        if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
            return protocol.too_large(MAX_BODY_BYTES)
        return protocol.parse_error(exc.message)
    if message is None and not request.get_data(cache=True).decode("utf-8-sig").strip():
        return protocol.parse_error("the body is empty")  # JSON's `null` is a message
    return message


def answer(ctx: Context) -> Reply:
    """Answer one MCP POST."""
    message = _decoded(ctx.request)
    if isinstance(message, protocol.Exchange):
        exchange = message
    else:
        exchange = protocol.handle(
            message, ctx.request.headers.get("MCP-Protocol-Version"), SERVER,
            lambda: [tool.as_json() for tool in tools().values()],
            lambda name, arguments: _call_tool(ctx, name, arguments))
    return Reply(body=exchange.body, status=exchange.status, headers=exchange.headers)
