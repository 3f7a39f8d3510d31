"""Function `mcp` (HTTP): the fleet as Model Context Protocol tools, for AI agents.

Streamable HTTP in its stateless form with JSON responses: the MCP endpoint is the function's
root (`POST /`); `GET /healthz` as everywhere. Same authentication, roles, spaces and audit log
as the HTTP API; each tool call is audited on its own (`via: "mcp"`).
"""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.http.router import Context, Reply, Router

router = Router("amapi-cosu mcp", "The fleet as Model Context Protocol tools (Streamable HTTP, "
                "stateless, JSON responses): POST one JSON-RPC message to the root.")


@router.route("POST", "/", "One MCP JSON-RPC message (initialize, tools/list, tools/call, "
              "ping, notifications)", audited=False, operation_id="sendMcpMessage")
def endpoint(ctx: Context) -> Reply:
    from shared.mcp import server  # the tools load on the first message, not at cold start

    return server.answer(ctx)


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def mcp(request: Request) -> Response:
    return router.dispatch(request)
