"""OpenAPI 3.1 documents generated from a Router's routes and their marshmallow schemas."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields

if TYPE_CHECKING:
    from shared.http.router import Router

VERSION = "0.1.0"
_PATH_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


class FieldViolationSchema(Schema):
    """One field-level reason in an error."""

    field = fields.String(required=True)
    reason = fields.String(required=True)


class ErrorBodySchema(Schema):
    """The `error` object of the envelope."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.List(fields.Nested(FieldViolationSchema), required=True, metadata={
        "description": "one entry per field at fault (`a.b[0].c`, or `body`); `[]` when none"})


class ErrorSchema(Schema):
    """Every error response: `{"error": {...}}`."""

    error = fields.Nested(ErrorBodySchema, required=True)


def _operation(router_title: str, route: Any) -> dict[str, Any]:
    names = _PATH_PARAM.findall(route.path)
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
        for name in names]
    if route.query_schema is not None:
        parameters.append({"in": "query", "schema": route.query_schema})
    if route.idempotent:
        parameters.append({"in": "header", "name": "Idempotency-Key", "required": False,
                           "schema": {"type": "string", "maxLength": 255},
                           "description": "Replays the first result of the same key and body "
                                          "for 24 hours."})
    success: dict[str, Any] = {"description": "Success"}
    if route.response_schema is not None:
        success["content"] = {route.media_type: {"schema": route.response_schema}}
    elif route.media_type != "application/json":
        success["content"] = {route.media_type: {"schema": {"type": "string",
                                                            "format": "binary"}}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.method.lower() + _PATH_PARAM.sub(r"{\1}", route.path),
        "parameters": parameters,
        "responses": {str(route.success_status): success,
                      "default": {"description": "Error",
                                  "content": {"application/json": {"schema": "Error"}}}},
        "security": [] if route.public else [{"bearer": []}],
    }
    if route.preview_schema is not None:
        if route.success_status == 200 and route.response_schema is not None:
            success["content"][route.media_type]["schema"] = {
                "oneOf": [route.response_schema, route.preview_schema]}
        else:
            operation["responses"]["200"] = {
                "description": "validateOnly=true: what the change would do; nothing done",
                "content": {"application/json": {"schema": route.preview_schema}}}
    if route.accepted_schema is not None:
        operation["responses"]["202"] = {
            "description": "Accepted: stored, and pushed by the rollout in `Location`",
            "headers": {"Location": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": route.accepted_schema}}}
    if route.request_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": route.request_schema}}}
    return operation


def body_rules() -> str:
    """What every request body must be, as the documents' description states it."""
    from shared.http.requests import MAX_BODY_BYTES, MAX_JSON_DEPTH

    return (f"Request bodies are UTF-8 JSON objects of at most {MAX_BODY_BYTES} bytes, with "
            f"objects and arrays nested at most {MAX_JSON_DEPTH} levels deep (the body is "
            "level 1). NaN, Infinity, numbers too large for a double, and strings or keys "
            "holding a lone UTF-16 surrogate are refused. Every refusal is a 400 whose "
            "`details[].field` names the place (`managedConfiguration.a.b`, `tags[1]`, or "
            "`body`); every error carries `details`, `[]` when there is none.")


def query_rules() -> str:
    """What every query string must be, as the documents' description states it."""
    from shared.query_params import MAX_PAGE_TOKEN_BYTES, MAX_QUERY_BYTES

    return ("A route takes only the query parameters it lists, each at most once; any other "
            "parameter is a 400 naming it (reason `unknown parameter`), as is a value outside "
            f"its type or enum, or longer than {MAX_QUERY_BYTES} bytes ({MAX_PAGE_TOKEN_BYTES} "
            "for `pageToken`). An empty value is the same as leaving the parameter out unless "
            "the parameter says otherwise; an empty `pageSize` is a 400.")


def build_document(router: Router) -> dict[str, Any]:
    """The OpenAPI document of one function, from the schemas its routes declare."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    description = "\n\n".join(part for part in (router.description, body_rules(),
                                                  query_rules()) if part)
    spec = APISpec(title=router.title, version=VERSION, openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()], info={"description": description})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for route in router.routes:
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(router.title, route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    return document
