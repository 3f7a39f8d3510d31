"""Steps of the MCP tests: a live gateway, and the official `mcp` SDK client talking to it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import token_for


def with_session(url: str, email: str,
                 use: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Connect the SDK's Streamable HTTP client as `email`, initialize, and run `use`."""

    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token_for(email)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                streamable_http_client(url, http_client=http) as streams, \
                ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            return await use(session)

    return anyio.run(run)


def call_tool(url: str, email: str, name: str, arguments: dict[str, Any]) -> Any:
    """One tool call in its own session (any instance answers any request: no state)."""
    return with_session(url, email, lambda session: session.call_tool(name, arguments))


def envelope(result: Any) -> dict[str, Any]:
    """The API error envelope of a failed tool call."""
    assert result.is_error, result
    body = json.loads(result.content[0].text)
    assert body == result.structured_content
    return dict(body["error"])
