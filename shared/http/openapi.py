"""OpenAPI 3.1 documents generated from a Router's routes and their marshmallow schemas.

The documents are written for client generators as much as for people: every operation has a
stable camelCase `operationId` derived from its method and path (`listDevices`,
`cancelRollout`), a tag per resource, its headers declared, and the error envelope on every
error status it can answer.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields

if TYPE_CHECKING:
    from shared.http.router import Route, Router

VERSION = "0.1.0"
_PATH_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]*\Z")
# The local stack's gateway serves each function under its name (devstack/gateway.py).
LOCAL_GATEWAY = "http://127.0.0.1:{port}/{function}"
PRODUCTION = "https://{region}-{project}.cloudfunctions.net/{function}"
# Routes every Router declares for itself: their ids name the function, so that no two
# documents share an operationId.
_OWN_ROUTES = {("GET", "/healthz"): ("get", "Health"),
               ("GET", "/openapi.json"): ("get", "OpenApiDocument")}
# A POST to a collection creates a resource, except where the resource is an act.
_CREATE_VERBS = {"commands": "issue"}
_COLLECTION_VERBS = {"GET": "list", "POST": "create", "PUT": "replace", "PATCH": "update",
                     "DELETE": "delete"}
_ITEM_VERBS = {"GET": "get", "POST": "call", "PUT": "replace", "PATCH": "update",
               "DELETE": "delete"}


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


# status -> (component name, when), after API.md's error table.
_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("InvalidArgument", "INVALID_ARGUMENT: the body, query or a header fails validation"),
    "401": ("Unauthenticated", "UNAUTHENTICATED: missing or invalid credentials"),
    "403": ("PermissionDenied", "PERMISSION_DENIED: no role allowing this in the space"),
    "404": ("NotFound", "NOT_FOUND: unknown id, or a resource in a space the caller cannot see"),
    "409": ("AlreadyExists", "ALREADY_EXISTS: the unique name is taken"),
    "412": ("FailedPrecondition", "FAILED_PRECONDITION: stale `If-Match`, or the resource's "
                                  "state forbids the operation"),
    "429": ("ResourceExhausted", "RESOURCE_EXHAUSTED: the AMAPI quota is exhausted; retry "
                                 "after `Retry-After` seconds"),
    "503": ("Unavailable", "UNAVAILABLE: AMAPI or Firestore unreachable after retries; nothing "
                           "was half-written"),
    "default": ("InternalError", "Any other error (INTERNAL: a bug), in the same envelope"),
}


def function_name(router: Router) -> str:
    """The function a router serves, as deployed and as the local gateway prefixes it."""
    words = router.title.split()
    name = words[-1] if len(words) > 1 and words[0] == "amapi-cosu" else "-".join(words)
    return name.replace("_", "-")


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _is_param(segment: str) -> bool:
    return segment.startswith("<")


def _is_collection(router: Router, path: str) -> bool:
    """A path is a collection when items live under it, it creates them, or it pages."""
    for route in router.routes:
        if route.path.startswith(path + "/<"):
            return True
        if route.path == path and route.method == "POST" and route.success_status == 201:
            return True
        if (route.path == path and route.query_schema is not None
                and "pageToken" in route.query_schema().fields):
            return True
    return False


def operation_id(router: Router, route: Route) -> str:
    """The route's `operationId`: a camelCase verb and the resource it acts on.

    `GET /devices` is `listDevices`, `GET /devices/<id>` `getDevice`, `POST /devices/<id>/
    commands` `issueDeviceCommand`, `POST /rollouts/<id>:cancel` `cancelRollout`; a route may
    name itself (`Route.operation_id`).
    """
    if route.operation_id:
        return route.operation_id
    function = _pascal(function_name(router))
    if (route.method, route.path) in _OWN_ROUTES:
        verb, noun = _OWN_ROUTES[(route.method, route.path)]
        return f"{verb}{function}{noun}"
    path, _, action = _split_action(route.path)
    segments = [segment for segment in path.strip("/").split("/") if segment]
    if not segments:
        return f"{route.method.lower()}{function}" if route.method != "POST" else f"call{function}"
    is_item = _is_param(segments[-1])
    literals = [segment for segment in segments if not _is_param(segment)]
    # Every resource but the last is named in the singular: the device of a command.
    names = [_singular(segment) for segment in literals[:-1]]
    last = literals[-1]
    if is_item:
        names.append(_singular(last))
        verb = action or _ITEM_VERBS[route.method]
    else:
        collection = _is_collection(router, path.rstrip("/"))
        if collection and route.method == "POST" and not action:
            names.append(_singular(last))
            verb = _CREATE_VERBS.get(last, "create")
        else:
            names.append(last)
            verb = action or (_COLLECTION_VERBS if collection else _ITEM_VERBS)[route.method]
    return _pascal(verb)[:1].lower() + _pascal(verb)[1:] + "".join(_pascal(n) for n in names)


def _split_action(path: str) -> tuple[str, str, str]:
    """A custom method apart: `/rollouts/<rollout_id>:cancel` -> (`/rollouts/<rollout_id>`,
    `:`, `cancel`), `/devices:export` -> (`/devices`, `:`, `export`)."""
    head, slash, last = path.rpartition("/")
    match = re.fullmatch(r"(<[^<>]+>|[^<>:]*)(?::([A-Za-z][A-Za-z0-9]*))?", last)
    if match is None or match.group(2) is None:
        return path, "", ""
    return f"{head}{slash}{match.group(1)}", ":", match.group(2)


def tag(router: Router, route: Route) -> str:
    """The resource an operation belongs to: its collection (`commands` under a device)."""
    if (route.method, route.path) in _OWN_ROUTES:
        return "service"
    path = _split_action(route.path)[0]
    segments = [segment for segment in path.strip("/").split("/") if segment]
    literals = [segment for segment in segments if not _is_param(segment)]
    if not literals:
        return function_name(router)
    if len(literals) > 1 and (_is_param(segments[-1]) or _is_collection(router, path)):
        return literals[-1]  # a collection of its own under its parent
    return literals[0] if len(literals) == 1 or not _is_param(segments[-1]) else literals[-1]


def _command_request(converter: Any) -> dict[str, dict[str, Any]]:
    """The command request as one schema per command type, discriminated on `type`.

    The body is validated by `CommandRequestSchema` (which picks `PARAMS[type]`); this only
    tells generated clients which `params` each type takes.
    """
    from shared.devices.schemas import PARAMS, CommandRequestSchema

    base = converter.schema2jsonschema(CommandRequestSchema)
    variants: dict[str, dict[str, Any]] = {}
    for kind, params_schema in PARAMS.items():
        variant = copy.deepcopy(base)
        variant["properties"]["type"] = {"type": "string", "enum": [kind]}
        variant["properties"]["params"] = converter.resolve_nested_schema(params_schema)
        required = set(variant.get("required", [])) | {"type"}
        if kind == "WIPE":
            required.add("reason")  # a wipe is audited with its reason
        variant["required"] = sorted(required)
        variant["description"] = f"A {kind} command."
        variants[f"{_pascal(kind.lower())}CommandRequest"] = variant
    variants["CommandRequest"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in variants],
        "discriminator": {"propertyName": "type", "mapping": {
            kind: f"#/components/schemas/{_pascal(kind.lower())}CommandRequest"
            for kind in PARAMS}}}
    return variants


def _request_schema(route: Route) -> Any:
    from shared.devices.schemas import CommandRequestSchema

    if route.request_schema is CommandRequestSchema:
        return {"$ref": "#/components/schemas/CommandRequest"}
    return route.request_schema


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def _operation(router: Router, route: Route) -> dict[str, Any]:
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
    success: dict[str, Any] = {"description": {200: "OK", 201: "Created", 202: "Accepted",
                                               204: "No content"}.get(route.success_status,
                                                                      "Success")}
    if route.response_schema is not None:
        success["content"] = {route.media_type: {"schema": route.response_schema}}
    elif route.media_type != "application/json":
        success["content"] = {route.media_type: {"schema": {"type": "string",
                                                            "format": "binary"}}}
        success["description"] = f"The image ({route.media_type})"
    elif route.success_status != 204:
        success["content"] = {route.media_type: {"schema": {"type": "object"}}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": operation_id(router, route),
        "tags": [tag(router, route)],
        "parameters": parameters,
        "responses": {str(route.success_status): success},
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
            "content": {"application/json": {"schema": route.accepted_schema}}}
    if route.request_schema is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _request_schema(route)}}}
    for status in _error_statuses(route):
        operation["responses"][status] = _ERRORS[status][0]
    return operation


def _error_statuses(route: Route) -> list[str]:
    """The errors an operation can answer (every one also may answer `default`)."""
    statuses = ["400"]  # an unknown query parameter, whatever the route
    if not route.public:
        statuses += ["401", "403"]
    if _PATH_PARAM.search(route.path) or route.request_schema is not None:
        statuses.append("404")  # an unknown id, or one the body names
    if route.method == "POST" and route.success_status == 201:
        statuses.append("409")
    if not route.public and (route.method != "GET" or _PATH_PARAM.search(route.path)):
        statuses.append("412")
    if not route.public:
        statuses += ["429", "503"]
    return [*statuses, "default"]


def _schema_of(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    if isinstance(schema, dict) and "$ref" in schema:
        found: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rpartition(
            "/")[2]]
        return found
    return schema if isinstance(schema, dict) else {}


def _has_etag(document: dict[str, Any], response: dict[str, Any]) -> bool:
    for media in (response.get("content") or {}).values():
        schema = _schema_of(document, media.get("schema"))
        candidates = [_schema_of(document, one) for one in schema.get("oneOf", [])] or [schema]
        if any("etag" in (one.get("properties") or {}) for one in candidates):
            return True
    return False


def _declare_headers(document: dict[str, Any]) -> None:
    """`ETag`, `Location` and `If-Match` where the representations carry an etag."""
    for operations in document["paths"].values():
        item_get = operations.get("get", {})
        for method, operation in operations.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if not isinstance(response, dict) or not status.startswith("2"):
                    continue
                headers = response.setdefault("headers", {})
                if _has_etag(document, response):
                    headers["ETag"] = _header("The `etag` of the representation returned; "
                                              "send it back as `If-Match`.")
                if status in ("201", "202"):
                    headers["Location"] = _header(
                        "What was created (201), or what carries on the work: the command or "
                        "the rollout (202).")
                if not headers:
                    del response["headers"]
            # A resource with an etag honours If-Match on its changes (API.md, Conventions).
            changed = (operation if method in ("patch", "put") else item_get
                       if method == "delete" else None)
            success = ((changed or {}).get("responses") or {})
            if changed is not None and any(
                    isinstance(response, dict) and code.startswith("2")
                    and _has_etag(document, response) for code, response in success.items()):
                operation["parameters"].append({
                    "in": "header", "name": "If-Match", "required": False,
                    "schema": {"type": "string"},
                    "description": "The `etag` this change was written against: 412 when the "
                                   "resource changed since."})


def servers(router: Router) -> list[dict[str, Any]]:
    """Where the function is reached: its own root, the local gateway, production."""
    name = function_name(router)
    return [
        {"url": "/", "description": "The function's own root: every path of this document is "
                                    "relative to the function's URL (below)."},
        {"url": LOCAL_GATEWAY, "description": "The local stack's gateway (`make run`)",
         "variables": {"port": {"default": "8080"}, "function": {"default": name}}},
        {"url": PRODUCTION, "description": "Deployed on Cloud Functions (gen2)",
         "variables": {"region": {"default": "europe-west1"},
                       "project": {"default": "PROJECT_ID"},
                       "function": {"default": name}}},
    ]


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
    plugin = MarshmallowPlugin()
    spec = APISpec(title=router.title, version=VERSION, openapi_version="3.1.0",
                   plugins=[plugin], info={"description": description},
                   servers=servers(router))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=ErrorSchema)
    for status, (name, when) in _ERRORS.items():
        headers = {"Retry-After": _header("Seconds to wait")} if status == "429" else {}
        spec.components.response(name, {"description": when, "headers": headers, "content": {
            "application/json": {"schema": "Error"}}})
    from shared.devices.schemas import CommandRequestSchema

    if any(route.request_schema is CommandRequestSchema for route in router.routes):
        for name, schema in _command_request(plugin.converter).items():
            spec.components.schema(name, schema)
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for route in router.routes:
        operation = _operation(router, route)
        identifier = operation["operationId"]
        where = f"{route.method} {route.path}"
        if not _OPERATION_ID.match(identifier) or identifier in seen:
            raise ValueError(f"{where}: operationId {identifier!r} is not a unique camelCase "
                             f"identifier ({seen.get(identifier, 'malformed')}); set "
                             "Route.operation_id")
        seen[identifier] = where
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    _declare_headers(document)
    return document
