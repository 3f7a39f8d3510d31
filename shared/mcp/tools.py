"""MCP tools: declared once with the marshmallow schema of their input, called with the
caller's roles, confirmed in two calls when they destroy or reach more than one device, and
audited like the HTTP API (`via: "mcp"`).

A tool failure is a tool result (`isError: true`) whose text and `structuredContent` are the
HTTP API's error envelope, so an agent reads the same errors an integrator does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from shared import errors
from shared.mcp import confirmation
from shared.representation import loaded
from shared.store.keys import is_storable_id

INSTRUCTIONS = (
    "Dedicated Android devices (kiosks) managed through the Android Management API. Devices, "
    "enrollment profiles, COSU configurations, commands, rollouts and the audit log are read "
    "from the stores (no AMAPI call). Tools that destroy (wipe, password reset, profile "
    "deletion) or reach more than one device act in two calls: the first changes nothing and "
    "answers what would happen with a confirmationToken; call again with the same arguments "
    "and that token (valid 5 minutes, once) to act. Show the plan to the person you act for "
    "before confirming.")


@dataclass(frozen=True)
class Hints:
    """MCP tool annotations; every tool here works on this service's world only."""

    read_only: bool
    destructive: bool
    idempotent: bool

    def as_json(self, title: str) -> dict[str, Any]:
        """The `annotations` object of tools/list."""
        return {"title": title, "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive, "idempotentHint": self.idempotent,
                "openWorldHint": False}


READ = Hints(read_only=True, destructive=False, idempotent=True)


@dataclass
class Invocation:
    """One tool call as a tool sees it: the caller and the arguments as the schema loaded
    them (without `confirmationToken`)."""

    principal: str
    arguments: dict[str, Any]


@dataclass
class Output:
    """What a tool answers: a JSON object, and images shown beside it (PNG bytes)."""

    data: dict[str, Any]
    images: list[bytes] = field(default_factory=list)
    resource: str | None = None  # what an acting call changed, for the audit log


@dataclass(frozen=True)
class Plan:
    """What an acting call would do, and the version of what it acts on (its etag)."""

    summary: dict[str, Any]
    etag: str
    needed: bool = True  # False: reaches at most one device and destroys nothing


@dataclass(frozen=True)
class Tool:
    """One tool."""

    name: str
    title: str
    description: str
    input: type[Schema]
    hints: Hints
    run: Callable[[Invocation], Output]
    plan: Callable[[Invocation], Plan] | None = None  # set: acts only once confirmed
    output_schema: dict[str, Any] | None = None
    input_overrides: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The entry of tools/list."""
        from shared.mcp.json_schema import json_schema

        schema = json_schema(self.input, **self.input_overrides)
        if self.plan is not None:
            schema["properties"]["confirmationToken"] = {
                "type": "string", "description": (
                    "from this tool's first answer for the same arguments; without it the "
                    "call only answers what it would do")}
        entry: dict[str, Any] = {"name": self.name, "title": self.title,
                                 "description": self.description, "inputSchema": schema,
                                 "annotations": self.hints.as_json(self.title)}
        if self.output_schema is not None:
            entry["outputSchema"] = self.output_schema
        return entry


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=False, default=str)


def _success(output: Output) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": _text(output.data)}]
    content += [{"type": "image", "mimeType": "image/png",
                 "data": base64.b64encode(image).decode()} for image in output.images]
    return {"content": content, "structuredContent": output.data, "isError": False}


def failure(error: errors.ApiError) -> dict[str, Any]:
    """A tool result carrying the API's error envelope."""
    envelope = error.to_json()
    return {"content": [{"type": "text", "text": _text(envelope)}],
            "structuredContent": envelope, "isError": True}


# Arguments naming a stored resource by id; an id that cannot name one is not found, as in a
# path of the HTTP API (a device may also be named by its AMAPI name: device_tools checks it).
ID_ARGUMENTS = ("profileId", "configId", "rolloutId")


def _loaded(tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    given = {k: v for k, v in arguments.items() if k != "confirmationToken"}
    result = loaded("arguments", lambda: tool.input().load(given))
    for key in ID_ARGUMENTS:
        if key in result and not is_storable_id(result[key]):
            raise errors.NotFound(f"no resource {result[key]!r}")
    return result


def call(tool: Tool, principal: str,
         arguments: dict[str, Any]) -> tuple[dict[str, Any], Output | None]:
    """Run one tool call; the tool result and, when it acted, its output."""
    token = arguments.get("confirmationToken")
    if token is not None and (tool.plan is None or not isinstance(token, str)):
        raise errors.InvalidArgument.field(
            "confirmationToken", "is a string, and only confirmable tools take one")
    invocation = Invocation(principal, _loaded(tool, arguments))
    if tool.plan is not None:
        plan = tool.plan(invocation)
        if plan.needed:
            if token is None:
                return _success(Output(confirmation.ask(tool.name, invocation, plan))), None
            confirmation.redeem(token, tool.name, invocation, plan)
    output = tool.run(invocation)
    return _success(output), output
