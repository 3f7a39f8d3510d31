"""Routing shared by every function: auth, errors, logging, idempotency and the audit log.

A function's `main.py` declares its routes on a `Router` and hands each request to
`router.dispatch(request)`; everything that can go wrong comes back in the error envelope.
"""

from __future__ import annotations

import json
import logging
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
from shared.amapi import errors as amapi_errors
from shared.clock import utcnow
from shared.http.auth import Principal, authenticate
from shared.http.idempotency import run_idempotently
from shared.http.requests import parse_json, parse_object, parse_query
from shared.query_params import QuerySchema
from shared.representation import check_if_match
from shared.store import errors as store_errors
from shared.store.keys import is_storable_id

JSON = "application/json"


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
    args: dict[str, Any] = field(default_factory=dict)
    """The query as the route's `query_schema` loaded it: every declared parameter, defaulted."""

    def body(self, schema: Any, *, partial: bool = False) -> dict[str, Any]:
        """The JSON body loaded through a marshmallow schema; any problem is a 400."""
        return parse_json(self.request, schema, partial=partial)

    def refuse_immutable(self, immutable: tuple[str, ...]) -> None:
        """400 naming every field of the JSON body that a PATCH may not change."""
        raw = parse_object(self.request)
        found = [errors.FieldViolation(key, "is immutable") for key in raw if key in immutable]
        if found:
            raise errors.InvalidArgument("the request changes immutable fields", found)

    def if_match(self, current_etag: str) -> None:
        """Refuse (412) when the caller's `If-Match` names an older version."""
        check_if_match(self.request.headers.get("If-Match"), current_etag)


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
    query_schema: type[QuerySchema] | None = None  # None: the route takes no parameter
    success_status: int = 200
    media_type: str = JSON
    authorize: bool = True
    accepted_schema: Any = None  # also answers 202 with this body (work continues afterwards)
    preview_schema: Any = None  # `?validateOnly=true` answers 200 with this body instead
    audited: bool = True  # False: the handler audits what it does itself (MCP tool calls)
    operation_id: str | None = None  # the OpenAPI operationId, when the derived one reads badly


def _amapi_says(prefix: str) -> Callable[[Exception], str]:
    return lambda exc: f"{prefix}: {getattr(exc, 'message', exc)}"


def _fixed(message: str) -> Callable[[Exception], str]:
    return lambda exc: message


# The one table from the doors' domain errors to the contract's statuses (API.md, "Errors").
# First match wins, so a subclass comes before its base.
_DOMAIN_ERRORS: tuple[tuple[type[Exception], type[errors.ApiError],
                            Callable[[Exception], str], dict[str, str]], ...] = (
    (amapi_errors.AmapiNotFound, errors.NotFound,
     _amapi_says("not found in the Android Management API"), {}),
    (amapi_errors.AmapiInvalidArgument, errors.InvalidArgument,
     _amapi_says("the Android Management API refused"), {}),
    (amapi_errors.AmapiFailedPrecondition, errors.FailedPrecondition,
     _amapi_says("the Android Management API refused"), {}),
    (amapi_errors.AmapiQuotaExhausted, errors.ResourceExhausted,
     _fixed("the Android Management API quota is exhausted: retry later"),
     {"Retry-After": "60"}),
    (amapi_errors.AmapiPermissionDenied, errors.Unavailable,
     _fixed("the Android Management API denied this service's credentials"), {}),
    (amapi_errors.AmapiError, errors.Unavailable,
     _fixed("the Android Management API is unavailable: retry later"), {}),
    (store_errors.AlreadyStored, errors.AlreadyExists, _fixed("this resource already exists"),
     {}),
    (store_errors.ChangedConcurrently, errors.FailedPrecondition,
     _fixed("the resource changed meanwhile: fetch it and retry"), {}),
    (store_errors.StoreRefused, errors.InvalidArgument,
     lambda exc: f"the request's content cannot be stored: {exc}", {}),
    (store_errors.StoreContention, errors.Unavailable,
     _fixed("the datastore is busy with concurrent changes: retry later"), {}),
    (store_errors.StoreError, errors.Unavailable,
     _fixed("the datastore is unavailable: retry later"), {}),
)


def api_error(exc: BaseException) -> errors.ApiError | None:
    """The contract's error for a domain error of the AMAPI or Firestore door, else None."""
    for kind, error_type, message, headers in _DOMAIN_ERRORS:
        if isinstance(exc, kind):
            return error_type(message(exc), headers=dict(headers))
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
        route_audited = True
        try:
            try:
                route, params = self._match(request)
            except errors.ApiError:
                # Only callers with credentials learn which routes exist.
                principal = authenticate(request.headers.get("Authorization"))
                raise
            route_audited = route.audited
            if not route.public:
                principal = authenticate(request.headers.get("Authorization"))
                # Routes without per-space authorization are scheduled targets: scheduler only.
                granted = (roles.load(principal.email) if route.authorize
                           else roles.scheduler(principal.email))
                roles.set_current(granted)
                if not granted.system and not granted.roles:
                    raise errors.PermissionDenied(
                        f"{principal.email} has no role in any space")
            # After authentication: only callers with credentials learn what a route takes.
            ctx = Context(request=request, principal=principal, params=params,
                          args=parse_query(request, route.query_schema))
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
        if route_audited:
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
        if route.idempotent and key is not None and not _validate_only(ctx.request):
            caller = ctx.principal.email if ctx.principal else ""
            return run_idempotently(f"{caller}\x00{route.method} {route.path}", key,
                                    ctx.request, lambda: _to_response(route, _call(route, ctx)))
        return _to_response(route, _call(route, ctx))

    def _error_response(self, exc: Exception, request: Request) -> Response:
        error = as_api_error(exc, f"{request.method} {request.path}")
        return _json_response(error.to_json(), error.http_status, error.headers)


def as_api_error(exc: Exception, doing: str) -> errors.ApiError:
    """The contract's error for any exception, logged when it is the service's fault."""
    error = exc if isinstance(exc, errors.ApiError) else api_error(exc)
    if error is None:
        logs.logger.error("unhandled error on %s", doing, exc_info=exc)
        return errors.ApiError("internal error")
    if error.http_status >= 500:
        logs.log(logging.WARNING, f"{error.status}: {error.message}",
                 cause=repr(exc.__cause__ or exc))
    return error


def _call(route: Route, ctx: Context) -> Reply:
    result = route.handler(ctx)
    if isinstance(result, Reply):
        return result
    return Reply(body=dict(result), status=route.success_status)


def _json_response(body: Any, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=dict(headers or {}), mimetype=JSON)


def _to_response(route: Route, reply: Reply) -> Response:
    if isinstance(reply.body, Iterator):  # streamed: sent as the iterator yields
        return Response(reply.body, status=reply.status, headers=reply.headers,
                        content_type=reply.content_type)
    if isinstance(reply.body, bytes | str):
        return Response(reply.body, status=reply.status, headers=reply.headers,
                        content_type=reply.content_type)
    if reply.body is None:
        return Response(status=reply.status, headers=reply.headers)
    return _json_response(reply.body, reply.status, reply.headers)


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


def _validate_only(request: Request) -> bool:
    """A change asked to be validated only: it writes nothing, not even its key or audit."""
    return request.args.get("validateOnly") == "true"


def _audit(request: Request, principal: Principal | None, granted: Any,
           response: Response) -> None:
    """Record every mutating call and every refused attempt (never secrets: no bodies).

    The entry's `resource` names what a creation created (`/policy/cosu-configs/<id>`), else
    the path called.
    """
    status = response.status_code
    if request.method not in _MUTATING and status not in (401, 403):
        return
    if _validate_only(request) and status < 400:
        return  # nothing was done: a change only validated leaves no trace (AIP-163)
    outcome = ("ALLOWED" if status < 400 else "DENIED" if status in (401, 403, 404)
               else "FAILED")
    called = f"{request.script_root}{request.path}"
    record_audit(principal.email if principal else "anonymous", granted,
                 f"{request.method} {called}", _created_resource(request, response) or called,
                 outcome, status, "http")


def record_audit(principal: str, granted: Any, action: str, resource: str, outcome: str,
                 status: int, via: str) -> None:
    """Append one audit entry, in the last space the call was authorized in; a failure to
    write it is logged, never raised (the call's outcome stands)."""
    from shared.access.spaces import GLOBAL
    from shared.store import access_control
    from shared.store.keys import new_id

    touched = list(getattr(granted, "touched", []) or [])
    entry = {"time": utcnow(), "principal": principal, "action": action, "resource": resource,
             "space": touched[-1] if touched else GLOBAL, "outcome": outcome, "status": status,
             "via": via}
    try:
        access_control.append_audit(new_id(), entry)
    except Exception as exc:  # the gap must be visible
        logs.logger.error("audit entry could not be written", exc_info=exc)
