"""The emulator's WSGI application and the HTTP server that runs it in a background thread."""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devstack.amapi_emulator import discovery, errors, persistence
from devstack.amapi_emulator.amapi_methods import AmapiMethods, Call
from devstack.amapi_emulator.control_api import PREFIX, ControlApi
from devstack.amapi_emulator.faults import FaultInjector
from devstack.amapi_emulator.field_masks import without_nulls
from devstack.amapi_emulator.notifications import Notifier
from devstack.amapi_emulator.pubsub import NullPublisher, Publisher, PubSubEmulatorPublisher
from devstack.amapi_emulator.quota import Quota, QuotaLimit, exceeded
from devstack.amapi_emulator.request_log import RequestLog
from devstack.amapi_emulator.simulation import Simulation
from devstack.amapi_emulator.state import EmulatorConfig
from devstack.amapi_emulator.validation import validate, validate_query

PUBSUB_HOST_ENV = "PUBSUB_EMULATOR_HOST"


def _json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status,
                    content_type="application/json; charset=UTF-8")


def _json_body(request: Request) -> Any:
    raw = request.get_data(cache=False)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"Invalid JSON payload received. {exc}.") from exc


def _internal_error() -> errors.ApiError:
    traceback.print_exc(file=sys.stderr)
    return errors.ApiError(500, "Internal error encountered.")


class EmulatorApp:
    """WSGI app serving AMAPI v1 (`/v1/...`) and the control API (`/emulator/v1/...`)."""

    def __init__(self, config: EmulatorConfig, publisher: Publisher,
                 quota: QuotaLimit | None = None) -> None:
        self.config = config
        self.simulation = Simulation(config, Notifier(publisher))
        self.faults = FaultInjector()
        self.quota = Quota(quota, self.simulation.clock.seconds)
        self.request_log = RequestLog()
        self.methods = AmapiMethods(self.simulation)
        self.control = ControlApi(self.simulation, self.faults, self.request_log, self.quota,
                                  self.reset)

    def reset(self) -> None:
        """Initial state: one enterprise, no other resources, no faults, the starting quota
        with an empty window, empty log, clock 0."""
        self.faults.clear()
        self.quota.reset()
        self.simulation.reset()
        self.request_log.clear()

    def close(self) -> None:
        """Cancel every pending simulated device behaviour."""
        self.simulation.close()

    def snapshot(self) -> dict[str, Any]:
        """The simulated world as JSON (see persistence.snapshot)."""
        return persistence.snapshot(self.simulation)

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the simulated world with a snapshot; owed device work is rescheduled."""
        persistence.restore(self.simulation, data)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """WSGI entry point."""
        request = Request(environ)
        if request.path.startswith(PREFIX):
            response = self._serve_control(request)
        else:
            response = self._serve_amapi(request)
        return response(environ, start_response)

    def _serve_control(self, request: Request) -> Response:
        try:
            handler, params = self.control.route(request.method, request.path[len(PREFIX):])
            return _json_response(200, handler(params, _json_body(request)))
        except errors.ApiError as exc:
            return _json_response(exc.code, exc.body())
        except Exception:
            return _json_response(500, _internal_error().body())

    def _serve_amapi(self, request: Request) -> Response:
        matched = discovery.match(request.method, request.path)
        method_id = matched[0].short_id if matched else None
        try:
            status, body = 200, self._call_amapi(request, matched)
        except errors.ApiError as exc:
            status, body = exc.code, exc.body()
        except Exception:
            error = _internal_error()
            status, body = error.code, error.body()
        self.request_log.record(method_id, request.method, request.path, status,
                                self.simulation.clock.timestamp())
        return _json_response(status, body)

    def _call_amapi(self, request: Request,
                    matched: tuple[discovery.Method, dict[str, str]] | None) -> dict[str, Any]:
        if matched is None:
            raise errors.not_found(f"The requested URL {request.path} was not found on this "
                                   "server.")
        method, path_variables = matched
        # Quota and availability fail a call before Google even reads its payload, unless the
        # rule says the answer is lost after the call took effect.
        spent = self.quota.admit()
        if spent is not None:
            raise exceeded(spent, self.config.project)
        fault = self.faults.pick(method.short_id)
        if fault and not fault[1]:
            raise errors.fault(fault[0])
        query = {name: request.args.getlist(name) for name in request.args}
        problems = validate_query(method, query)
        if problems:
            raise errors.invalid_argument(problems)
        body: dict[str, Any] = {}
        if method.request_schema:
            raw = _json_body(request)
            problems = validate(method.request_schema, raw)
            if problems:
                raise errors.invalid_argument(problems)
            body = without_nulls(raw)
        handler = self.methods.handlers.get(method.short_id)
        if handler is None:
            raise errors.ApiError(501, f"The emulator does not implement {method.id}.")
        answer = handler(Call(method, path_variables, query, body))
        if fault:
            raise errors.fault(fault[0])
        return answer


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Do not log each request (tests make thousands)."""


def default_publisher() -> Publisher:
    """The Pub/Sub emulator named by PUBSUB_EMULATOR_HOST, or a publisher that drops all."""
    host = os.environ.get(PUBSUB_HOST_ENV)
    if host:
        return PubSubEmulatorPublisher(host)
    print(f"amapi-emulator: {PUBSUB_HOST_ENV} is not set; notifications are dropped.",
          file=sys.stderr)
    return NullPublisher()


class EmulatorServer:
    """An in-memory AMAPI v1 emulator listening on `host:port` (port 0 picks a free one).

    `quota` is the limit it starts with and returns to on reset; None (the default in process,
    where test sessions and benchmarks make thousands of calls) limits nothing until the control
    API sets one. The command line starts with AMAPI's own (quota.AMAPI_DEFAULT).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 project: str = "amapi-cosu-local", enterprise_id: str = "LC00local",
                 topic: str = "projects/amapi-cosu-local/topics/amapi-events",
                 publisher: Publisher | None = None, command_delay: float = 0.2,
                 apply_delay: float = 0.2, log_requests: bool = False,
                 quota: QuotaLimit | None = None) -> None:
        self.host = host
        self._requested_port = port
        self._log_requests = log_requests
        config = EmulatorConfig(project=project, enterprise_id=enterprise_id, topic=topic,
                                command_delay=command_delay, apply_delay=apply_delay)
        self.app = EmulatorApp(config, publisher if publisher is not None
                               else default_publisher(), quota)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (the requested one until started)."""
        return self._server.server_port if self._server else self._requested_port

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321` (use it as the client's api_endpoint)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind and serve on a daemon thread; returns self."""
        if self._server is not None:
            return self
        handler = WSGIRequestHandler if self._log_requests else _QuietRequestHandler
        self._server = make_server(self.host, self._requested_port, self.app, threaded=True,
                                   request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"amapi-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, free the port and cancel pending simulated behaviour."""
        self.app.close()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def reset(self) -> None:
        """Back to the initial state (see EmulatorApp.reset)."""
        self.app.reset()

    def snapshot(self) -> dict[str, Any]:
        """The simulated world as JSON, for `restore` in this or another emulator."""
        return self.app.snapshot()

    def restore(self, data: dict[str, Any]) -> None:
        """Carry on from a snapshot (see EmulatorApp.restore)."""
        self.app.restore(data)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
