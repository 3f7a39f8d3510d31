"""HTTP plumbing shared by every function: routing, auth, JSON bodies, errors, etags, idempotency.

A function's `main.py` declares its routes on a `Router` and hands each request to
`router.dispatch(request)`; everything that can go wrong comes back in the error envelope.

Request bodies become data in one place, `parse_json`, which refuses (400, naming the field as a
dotted path such as `managedConfiguration.a.b`, or `body`): bodies over `MAX_BODY_BYTES`, text
that is not UTF-8, strings or object keys holding a lone UTF-16 surrogate (`"\\ud800"`), `NaN`,
`Infinity` and numbers too large for a double, and objects or arrays nested more than
`MAX_JSON_DEPTH` levels (the body itself is level 1; checked before decoding, without recursion).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from shared import errors, logs
from shared.clock import rfc3339, utcnow
from shared.http.auth import Principal, authenticate

JSON = "application/json"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_ID_BYTES = 512  # well under Firestore's 1,500-byte document ids; real ids are far shorter
MAX_QUERY_BYTES = 512
MAX_PAGE_TOKEN_BYTES = 4096
MAX_BODY_BYTES = 1024 * 1024  # four times the largest managed configuration, with room to spare
MAX_JSON_DEPTH = 32  # objects and arrays, the body itself being level 1


@dataclass
class Reply:
    """What a handler returns: a JSON body (or raw bytes), a status and extra headers."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass
class Context:
    """One request as a handler sees it."""

    request: Request
    principal: Principal | None
    params: dict[str, Any]

    def body(self, schema: Any, *, partial: bool = False) -> dict[str, Any]:
        """The JSON body loaded through a marshmallow schema; any problem is a 400."""
        return parse_json(self.request, schema, partial=partial)

    def query(self, name: str) -> str | None:
        """One query parameter, or None; 400 when it is too long to be meaningful."""
        value = self.request.args.get(name)
        limit = MAX_PAGE_TOKEN_BYTES if name == "pageToken" else MAX_QUERY_BYTES
        if value is not None and _utf8_length(value) > limit:
            raise errors.InvalidArgument.field(name, f"must be at most {limit} bytes")
        return value

    def refuse_immutable(self, immutable: tuple[str, ...]) -> None:
        """400 naming every field of the JSON body that a PATCH may not change."""
        raw = parse_json(self.request, _AnyObject())
        found = [errors.FieldViolation(key, "is immutable") for key in raw if key in immutable]
        if found:
            raise errors.InvalidArgument("the request changes immutable fields", found)

    def if_match(self, current_etag: str) -> None:
        """Refuse (412) when the caller's `If-Match` names an older version."""
        check_if_match(self.request.headers.get("If-Match"), current_etag)


def _utf8_length(text: str) -> int:
    """Bytes of `text` in UTF-8; unencodable text (a lone surrogate) counts as too long."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return 1 << 30


def is_storable_id(value: str) -> bool:
    """True when `value` can name a stored resource (a Firestore document id we would issue)."""
    return (0 < _utf8_length(value) <= MAX_ID_BYTES and value not in (".", "..")
            and "/" not in value and not (value.startswith("__") and value.endswith("__")))


class _AnyObject:
    """A schema stand-in that loads any JSON object as it is."""

    def load(self, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        return data


def resource_view(document: dict[str, Any], shown: tuple[str, ...]) -> dict[str, Any]:
    """`{id, <shown fields that are set>, createTime, updateTime, etag}` of a stored document."""
    update_time = rfc3339(document["updateTime"])
    fields = {key: document[key] for key in shown if document.get(key) is not None}
    return {"id": document["id"], **fields, "createTime": rfc3339(document["createTime"]),
            "updateTime": update_time, "etag": etag_of(document["id"], update_time)}


Handler = Callable[[Context], Reply | Mapping[str, Any]]


@dataclass(frozen=True)
class Route:
    """One operation of a function's HTTP surface, also the source of its OpenAPI entry."""

    method: str
    path: str
    handler: Handler
    summary: str
    public: bool = False
    idempotent: bool = False
    request_schema: Any = None
    response_schema: Any = None
    query_schema: Any = None
    success_status: int = 200
    media_type: str = JSON
    authorize: bool = True


def _flatten(messages: Any, prefix: str = "") -> Iterator[errors.FieldViolation]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, name)
    elif isinstance(messages, list) and all(isinstance(m, str | dict) for m in messages):
        for message in messages:
            if isinstance(message, dict):  # a validator naming places inside its field
                yield from _flatten(message, prefix)
                continue
            reason = "unknown field" if message == "Unknown field." else message
            yield errors.FieldViolation(prefix or "body", reason)
    else:
        yield errors.FieldViolation(prefix or "body", str(messages))


def violations(messages: Any) -> list[errors.FieldViolation]:
    """Marshmallow's nested error messages as a flat list naming each field (`a.b[0].c`)."""
    return list(_flatten(messages))


def parse_json(request: Request, schema: Any, *, partial: bool = False) -> dict[str, Any]:
    """Decode a JSON object body and load it through `schema` (unknown fields are errors)."""
    from marshmallow import ValidationError

    data = decode_json(request)
    if not isinstance(data, dict):
        raise errors.InvalidArgument("request body must be a JSON object")
    try:
        loaded: dict[str, Any] = schema.load(data, partial=partial)
    except ValidationError as exc:
        found = violations(exc.messages)
        summary = "; ".join(f"{v.field}: {v.reason}" for v in found[:5])
        raise errors.InvalidArgument(f"invalid request: {summary}", found) from None
    return loaded


def decode_json(request: Request) -> Any:
    """The body as JSON data (None when empty), refused (400) unless storable as it is."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument(f"malformed JSON body: not UTF-8 ({exc.reason} at byte "
                                     f"{exc.start})", [errors.FieldViolation(
                                         "body", "is not UTF-8")]) from None
    if not text.strip():
        return None
    _refuse_deep_nesting(text)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise errors.InvalidArgument(f"malformed JSON body: {exc}", [errors.FieldViolation(
            "body", "is not JSON")]) from None
    _refuse_unstorable_values(data)
    return data


def _too_large() -> errors.InvalidArgument:
    return errors.InvalidArgument.field("body", f"must be at most {MAX_BODY_BYTES} bytes")


# A string token (escapes included), or a character that opens, closes or separates.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _path(parts: list[str | int]) -> str:
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name or "body"


def _printable_key(key: str) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _refuse_deep_nesting(text: str) -> None:
    """400 naming the first object or array nested beyond `MAX_JSON_DEPTH`, found by scanning.

    A scan rather than the decoder: Python's decoder recurses, so a body nested thousands of
    levels deep would exhaust the interpreter's stack before any limit could be checked.
    """
    if text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return
    # One frame per open container: [is an object, key or index, expecting a key].
    frames: list[list[Any]] = []
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            if len(frames) >= MAX_JSON_DEPTH:
                raise errors.InvalidArgument.field(
                    _path([frame[1] for frame in frames]),
                    f"nests objects and arrays more than {MAX_JSON_DEPTH} levels deep "
                    "(the body is level 1)")
            frames.append([token == "{", "" if token == "{" else 0, token == "{"])
        elif token in ("}", "]"):
            if frames:
                frames.pop()
        elif token == ",":
            if frames:
                top = frames[-1]
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
        elif frames and frames[-1][0] and frames[-1][2]:
            try:
                key = json.loads(token)
            except ValueError:
                key = token[1:-1]
            frames[-1][1], frames[-1][2] = _printable_key(str(key)), False


def _refuse_unstorable_values(data: Any) -> None:
    """400 naming the first string or key that is not Unicode, or number that is not finite."""
    pending: list[tuple[Any, list[str | int]]] = [(data, [])]
    while pending:
        value, where = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise errors.InvalidArgument.field(
                    _path(where), "is not valid Unicode: it holds a lone UTF-16 surrogate")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise errors.InvalidArgument.field(
                    _path(where), "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not key.isascii() and _SURROGATE.search(key):
                    raise errors.InvalidArgument.field(
                        _path([*where, _printable_key(key)]),
                        "is a key that is not valid Unicode: it holds a lone UTF-16 surrogate")
                pending.append((item, [*where, key]))
        elif isinstance(value, list):
            pending.extend((item, [*where, index]) for index, item in enumerate(value))
def etag_of(resource_id: str, version: Any) -> str:
    """A strong etag for one stored version of a resource."""
    digest = hashlib.sha256(f"{resource_id}\x00{version}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def check_if_match(header: str | None, current_etag: str) -> None:
    """412 unless `If-Match` is absent, `*`, or names the current etag."""
    if not header or header.strip() == "*":
        return
    offered = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if current_etag not in offered:
        raise errors.FailedPrecondition(
            "the resource changed since you read it: fetch it again and retry",
            [errors.FieldViolation("If-Match", "does not match the current etag")])


def _status_error(exc: BaseException) -> errors.ApiError | None:
    """Classify failures from the AMAPI door and from Firestore into the contract's statuses."""
    from shared.amapi import errors as amapi_errors

    mapped = amapi_errors.to_api_error(exc)
    if mapped is not None:
        return mapped
    if type(exc).__module__.startswith("google.api_core"):
        from google.api_core import exceptions as gexc

        if isinstance(exc, gexc.ServiceUnavailable | gexc.DeadlineExceeded | gexc.RetryError
                      | gexc.InternalServerError | gexc.Aborted):
            return errors.Unavailable("the datastore is unavailable: retry later")
    return None


class Router:
    """Routes of one HTTP function, dispatched with auth, errors and logging applied."""

    def __init__(self, title: str, description: str = "") -> None:
        self.title = title
        self.description = description
        self.routes: list[Route] = []
        self._map = Map(strict_slashes=False, merge_slashes=False)
        self._openapi: str | None = None
        self.add("GET", "/healthz", lambda ctx: {"status": "ok"}, "Liveness probe", public=True)
        self.add("GET", "/openapi.json", self._serve_openapi, "This function's OpenAPI document",
                 public=True)

    def add(self, method: str, path: str, handler: Handler, summary: str, **options: Any) -> None:
        """Declare one route; `path` uses werkzeug converters (`/profiles/<profile_id>`)."""
        route = Route(method=method, path=path, handler=handler, summary=summary, **options)
        self.routes.append(route)
        self._map.add(Rule(path, methods=[method], endpoint=route))

    def route(self, method: str, path: str, summary: str,
              **options: Any) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""
        def register(handler: Handler) -> Handler:
            self.add(method, path, handler, summary, **options)
            return handler
        return register

    def _serve_openapi(self, ctx: Context) -> Reply:
        if self._openapi is None:
            from shared.http.openapi import build_document

            self._openapi = json.dumps(build_document(self))
        return Reply(body=self._openapi.encode(), content_type=JSON)

    def dispatch(self, request: Request) -> Response:
        """Answer one request; never lets an exception escape as a bare 500."""
        from shared.access import roles

        started = time.monotonic()
        logs.set_trace(request.headers.get("X-Cloud-Trace-Context"))
        principal: Principal | None = None
        granted: roles.Access | None = None
        token = roles.set_current(None)
        try:
            try:
                route, params = self._match(request)
            except errors.ApiError:
                # Only callers with credentials learn which routes exist.
                principal = authenticate(request.headers.get("Authorization"))
                raise
            if not route.public:
                principal = authenticate(request.headers.get("Authorization"))
                # Routes without per-space authorization are scheduled targets: scheduler only.
                granted = (roles.load(principal.email) if route.authorize
                           else roles.scheduler(principal.email))
                roles.set_current(granted)
                if not granted.system and not granted.roles:
                    raise errors.PermissionDenied(
                        f"{principal.email} has no role in any space")
            ctx = Context(request=request, principal=principal, params=params)
            response = self._run(route, ctx)
        except Exception as exc:  # the envelope is the contract, whatever failed
            response = self._error_response(exc, request)
        finally:
            roles.reset_current(token)
        logs.log(logging.INFO if response.status_code < 500 else logging.ERROR,
                 f"{request.method} {request.path} {response.status_code}",
                 httpRequest={"requestMethod": request.method, "requestUrl": request.path,
                              "status": response.status_code,
                              "latency": f"{time.monotonic() - started:.6f}s"},
                 principal=principal.email if principal else None)
        _audit(request, principal, granted, response)
        return response

    def framework_error(self, exc: HTTPException) -> Response:
        """The envelope for errors raised by functions-framework itself (its own 404s, 400s)."""
        status = exc.code or 500
        kind = {404: errors.NotFound, 405: errors.MethodNotAllowed}.get(
            status, errors.InvalidArgument if 400 <= status < 500 else errors.ApiError)
        api_error = kind(exc.description or exc.name)
        return _json_response(api_error.to_json(), api_error.http_status, api_error.headers)

    def _match(self, request: Request) -> tuple[Route, dict[str, Any]]:
        adapter = self._map.bind("localhost", path_info=request.path)
        try:
            route, params = adapter.match(request.path, method=request.method)
        except WerkzeugMethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise errors.MethodNotAllowed(f"{request.method} is not allowed on {request.path}",
                                          headers={"Allow": allowed}) from None
        except WerkzeugNotFound:
            raise errors.NotFound(f"no route {request.method} {request.path}") from None
        for value in params.values():
            # Reserved or oversized ids would reach Firestore as invalid document paths.
            if isinstance(value, str) and not is_storable_id(value):
                raise errors.NotFound("no such resource")
        return cast(Route, route), dict(params)

    def _run(self, route: Route, ctx: Context) -> Response:
        key = ctx.request.headers.get("Idempotency-Key")
        if route.idempotent and key is not None:
            return _run_idempotently(route, ctx, key)
        return _to_response(route, _call(route, ctx))

    def _error_response(self, exc: Exception, request: Request) -> Response:
        api_error = exc if isinstance(exc, errors.ApiError) else _status_error(exc)
        if api_error is None:
            logs.logger.error("unhandled error on %s %s", request.method, request.path,
                              exc_info=exc)
            api_error = errors.ApiError("internal error")
        elif api_error.http_status >= 500:
            logs.log(logging.WARNING, f"{api_error.status}: {api_error.message}",
                     cause=repr(exc.__cause__ or exc))
        return _json_response(api_error.to_json(), api_error.http_status, api_error.headers)


def _call(route: Route, ctx: Context) -> Reply:
    result = route.handler(ctx)
    if isinstance(result, Reply):
        return result
    return Reply(body=dict(result), status=route.success_status)


def _json_response(body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=dict(headers or {}), mimetype=JSON)


def _to_response(route: Route, reply: Reply) -> Response:
    if isinstance(reply.body, bytes | str):
        return Response(reply.body, status=reply.status, headers=reply.headers,
                        content_type=reply.content_type)
    if reply.body is None:
        return Response(status=reply.status, headers=reply.headers)
    return _json_response(reply.body, reply.status, reply.headers)


def _run_idempotently(route: Route, ctx: Context, key: str) -> Response:
    from shared.store import idempotency_keys

    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.InvalidArgument.field(
            "Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    caller = ctx.principal.email if ctx.principal else ""
    key_id = hashlib.sha256(
        f"{caller}\x00{route.method} {route.path}\x00{key}".encode()).hexdigest()
    request_hash = hashlib.sha256(ctx.request.get_data(cache=True)).hexdigest()
    existing = idempotency_keys.claim(key_id, request_hash, utcnow())
    if existing is not None:
        if existing.request_hash != request_hash:
            raise errors.InvalidArgument.field(
                "Idempotency-Key", "was already used with a different request body")
        if not existing.completed:
            raise errors.AlreadyExists("a request with this Idempotency-Key is still running")
        headers = dict(existing.headers or {}, **{"Idempotent-Replayed": "true"})
        return Response(existing.body, status=existing.status, headers=headers, mimetype=JSON)
    try:
        response = _to_response(route, _call(route, ctx))
    except BaseException:
        idempotency_keys.release(key_id)
        raise
    if response.status_code < 300:
        kept = {k: v for k, v in response.headers.items() if k in ("Location", "ETag")}
        idempotency_keys.complete(key_id, response.status_code,
                                  response.get_data(as_text=True), kept)
    else:
        idempotency_keys.release(key_id)
    return response


_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _created_resource(request: Request, response: Response) -> str | None:
    """The path of what a call created: its `Location`, or a 201's path and body `id`."""
    if not 200 <= response.status_code < 300:
        return None
    location = response.headers.get("Location")
    if location:
        return location
    # Only a 201 says the body is a new resource (a 200 POST may be an action on an old one).
    if response.status_code != 201 or response.mimetype != JSON or response.is_streamed:
        return None
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return None
    created = body.get("id") if isinstance(body, dict) else None
    if not isinstance(created, str) or not created:
        return None
    return f"{request.script_root}{request.path.rstrip('/')}/{created}"


def _audit(request: Request, principal: Principal | None, granted: Any,
           response: Response) -> None:
    """Record every mutating call and every refused attempt (never secrets: no bodies).

    The entry's `resource` names what a creation created (`/policy/cosu-configs/<id>`), else
    the path called.
    """
    status = response.status_code
    if request.method not in _MUTATING and status not in (401, 403):
        return
    from shared.access.spaces import GLOBAL
    from shared.store import access_control
    from shared.store.keys import new_id

    touched = list(getattr(granted, "touched", []) or [])
    outcome = ("ALLOWED" if status < 400 else "DENIED" if status in (401, 403, 404)
               else "FAILED")
    called = f"{request.script_root}{request.path}"
    entry = {"time": utcnow(), "principal": principal.email if principal else "anonymous",
             "action": f"{request.method} {called}",
             "resource": _created_resource(request, response) or called,
             "space": touched[-1] if touched else GLOBAL, "outcome": outcome,
             "status": status}
    try:
        access_control.append_audit(new_id(), entry)
    except Exception as exc:  # the call's outcome stands; the gap must be visible
        logs.logger.error("audit entry could not be written", exc_info=exc)
